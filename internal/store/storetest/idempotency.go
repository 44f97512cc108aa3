package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// idempotencyTests are the conformance cases of the expiry and erasure of stored answers
// (issue 13: stored idempotent answers expire and are purged; a deletion request replaces
// the answers that held the erased subject).
var idempotencyTests = []struct {
	name string
	fn   func(*testing.T, Factory)
}{
	{"PurgeIdempotencyDeletesExactlyTheRecordsCreatedBefore", testPurgeIdempotency},
	{"ReplaceIdempotencyReplacesStatusAndResponseOnly", testReplaceIdempotency},
}

func testPurgeIdempotency(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	var recs []store.Idempotency
	for i := range 5 {
		recs = append(recs, idempotencyRecord("purge-"+string(rune('a'+i)), i)) // created at base + i s
	}
	putIdempotency(t, s, recs...)
	var n int
	// Strictly before: the record created at exactly base+2s stays; instants in another zone
	// compare as instants.
	update(t, s, func(tx store.Tx) (err error) {
		n, err = tx.PurgeIdempotency(ctx, at(2*time.Second).In(time.UTC))
		return err
	})
	if n != 2 {
		t.Errorf("PurgeIdempotency deleted %d records, want 2", n)
	}
	if got, want := idempotencyKeys(listIdempotency(t, s, "", 0)), []string{"purge-c", "purge-d", "purge-e"}; !slices.Equal(got, want) {
		t.Errorf("records left = %q, want %q", got, want)
	}
	update(t, s, func(tx store.Tx) (err error) { n, err = tx.PurgeIdempotency(ctx, at(time.Hour)); return err })
	if n != 3 || len(listIdempotency(t, s, "", 0)) != 0 {
		t.Errorf("PurgeIdempotency(later than all) deleted %d, left %d; want 3 and none", n, len(listIdempotency(t, s, "", 0)))
	}
	// A rolled-back purge deletes nothing.
	putIdempotency(t, s, recs[0])
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.PurgeIdempotency(ctx, at(time.Hour)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || len(listIdempotency(t, s, "", 0)) != 1 {
		t.Errorf("a rolled-back purge: err %v, %d records left; want boom and 1", err, len(listIdempotency(t, s, "", 0)))
	}
}

func testReplaceIdempotency(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	first, other := idempotencyRecord("r-1", 1), idempotencyRecord("r-2", 2)
	putIdempotency(t, s, first, other)
	update(t, s, func(tx store.Tx) error { return tx.ReplaceIdempotency(ctx, first.Key, 410, []byte("tombstone")) })
	want := first
	want.Status, want.Response = 410, []byte("tombstone")
	view(t, s, func(r store.Reader) error {
		for _, w := range []store.Idempotency{want, other} {
			got, err := r.GetIdempotency(ctx, w.Key)
			if err != nil {
				return err
			}
			expectSame(t, "idempotency record "+w.Key, w, got)
		}
		return nil
	})
	err := s.Update(ctx, func(tx store.Tx) error { return tx.ReplaceIdempotency(ctx, "r-missing", 410, []byte("x")) })
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ReplaceIdempotency(unknown key) error = %v, want store.ErrNotFound", err)
	}
}
