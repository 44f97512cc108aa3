package cli

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
)

// eachAuditRecord visits every record once, in order, however the log is paged, and stops at
// the first error of its callback, returning it as it is.
func TestEachAuditRecord_pagesThroughEveryRecordAndStopsAtTheCallbacksError(t *testing.T) {
	w := newRotationWorld(t) // a bootstrap, three creates and three rotations
	c := w.svc.Client(t)
	ctx := context.Background()
	read := func(pageSize int) []audit.Record {
		t.Helper()
		var recs []audit.Record
		if err := eachAuditRecord(ctx, c, pageSize, func(r audit.Record) error {
			recs = append(recs, r)
			return nil
		}); err != nil {
			t.Fatalf("page size %d: %v", pageSize, err)
		}
		return recs
	}
	all := read(auditPageSize)
	if len(all) < 7 {
		t.Fatalf("the world holds %d audit records, want at least 7", len(all))
	}
	v := audit.NewVerifier(w.svc.Keys)
	for i, r := range all {
		if r.Seq != int64(i+1) {
			t.Fatalf("record %d has seq %d, want %d", i, r.Seq, i+1)
		}
		if err := v.Add(r); err != nil {
			t.Fatalf("the chain read through the API does not verify: %v", err)
		}
	}
	for _, size := range []int{1, 2, 3, len(all), len(all) + 1} {
		if got := read(size); !reflect.DeepEqual(got, all) {
			t.Errorf("page size %d read %d records, want the same %d as one page", size, len(got), len(all))
		}
	}

	stop := errors.New("stop here")
	var seen []int64
	err := eachAuditRecord(ctx, c, 2, func(r audit.Record) error {
		seen = append(seen, r.Seq)
		if r.Seq == 3 {
			return stop
		}
		return nil
	})
	if err != stop { //nolint:errorlint // the callback's error must come back unwrapped
		t.Errorf("error = %v, want the callback's own error", err)
	}
	if !reflect.DeepEqual(seen, []int64{1, 2, 3}) {
		t.Errorf("visited %v, want [1 2 3] and nothing after the error", seen)
	}
}
