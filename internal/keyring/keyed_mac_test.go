package keyring

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
)

// TestKeyedMAC_pooledStatesGiveTheHMACOfAFreshKey proves that the prepared, pooled HMAC
// states (reset between uses) give exactly HMAC-SHA256 under the key file's keys, for every
// keyed operation, from many goroutines at once and for inputs of every length around the
// hash's block size (a state left dirty by a previous value would show here).
func TestKeyedMAC_pooledStatesGiveTheHMACOfAFreshKey(t *testing.T) {
	k, err := New()
	if err != nil {
		t.Fatal(err)
	}
	want := func(key []byte, v string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(v))
		return h.Sum(nil)
	}
	cur := k.current
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for n := range 200 {
				v := fmt.Sprintf("tg_live_%d_%s", g, bytes.Repeat([]byte{'x'}, n))
				if got, _ := k.HashSecret(v); !bytes.Equal(got, want(cur.SecretHMAC, v)) {
					errs <- fmt.Errorf("HashSecret(%d bytes) differs from a fresh HMAC", len(v))
					return
				}
				if got := k.Fingerprint(v); got != "fp_"+hex.EncodeToString(want(cur.Fingerprint, v)[:8]) {
					errs <- fmt.Errorf("Fingerprint(%d bytes) differs from a fresh HMAC", len(v))
					return
				}
				if got := k.BlindIndex(v); got != hex.EncodeToString(want(cur.BlindIndex, v)) {
					errs <- fmt.Errorf("BlindIndex(%d bytes) differs from a fresh HMAC", len(v))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// BenchmarkHashSecret is the HMAC of one token secret, as every introspection computes twice.
func BenchmarkHashSecret(b *testing.B) {
	k, err := New()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		k.HashSecret("tg_live_01JBENCHBENCHBENCHBENCH0000_abcdefghijklmnopqrstuvwxyz0123456789AbCdEf")
	}
}
