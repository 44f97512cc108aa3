package sqlite

import (
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/keyring"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// BenchmarkAppendAudits_verificationBatch appends batches of 256 introspection records as the
// verification log does (one write transaction per batch, keyed chain), on a log that
// already holds 20,480 records. It reports CPU per record (of this process: the statements,
// the chain's HMACs and the WAL writes; the fsync's wait is not CPU).
func BenchmarkAppendAudits_verificationBatch(b *testing.B) {
	ctx := b.Context()
	path := filepath.Join(b.TempDir(), "tokenguard.db")
	s, err := Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	k, err := keyring.New()
	if err != nil {
		b.Fatal(err)
	}
	s.SetAuditKey(k.CurrentAuditKey())
	batch := make([]audit.Event, 256)
	for i := range batch {
		batch[i] = audit.Event{Time: time.Unix(1700000000, int64(i)), Actor: "cred_01JBENCH", Action: audit.ActionIntrospect,
			TokenID: fmt.Sprintf("tok_01JBENCHBENCHBENCHBENCH%04d", i%200), Fingerprint: "fp_0123456789abcdef", Outcome: "active"}
	}
	appendBatch := func() {
		if err := s.Update(ctx, func(tx store.Tx) error { _, err := tx.AppendAudits(ctx, batch); return err }); err != nil {
			b.Fatal(err)
		}
	}
	for range 80 {
		appendBatch()
	}
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	b.ResetTimer()
	start := cpu()
	for b.Loop() {
		appendBatch()
	}
	b.ReportMetric(float64((cpu()-start).Microseconds())/float64(b.N*len(batch)), "cpu-µs/record")
}
