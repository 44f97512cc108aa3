package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// accessTests are the conformance cases of the reads an access request makes.
var accessTests = []struct {
	name string
	fn   func(*testing.T, Factory)
}{
	{"ListSubjectDeletionRequestsReturnsOnlyThatSubjectOldestFirst", testSubjectDeletions},
	{"ListTokenHistoryReturnsOnlyTheTokensLifeInSeqOrderAndPages", testTokenHistory},
	{"CountTokenVerificationsCountsPerTokenUTCDayAndOutcome", testCountVerifications},
	{"AccessReadsRefuseMoreThanMaxHistoryTokens", testHistoryTooManyIDs},
}

func testSubjectDeletions(t *testing.T, f Factory) {
	s := f.Open(t)
	later, earlier, other := fullDeletion(1), fullDeletion(2), fullDeletion(3)
	earlier.SubjectIndex, later.SubjectIndex = "subject-x", "subject-x"
	earlier.RequestedAt = later.RequestedAt.Add(-time.Hour) // the id of later sorts first: order is by time
	insertDeletions(t, s, later, earlier, other)
	var got []store.DeletionRequest
	view(t, s, func(r store.Reader) error {
		var err error
		got, err = r.ListSubjectDeletionRequests(t.Context(), "subject-x")
		return err
	})
	if ids := deletionIDs(got); !slices.Equal(ids, []string{earlier.ID, later.ID}) {
		t.Fatalf("ListSubjectDeletionRequests = %v, want %v", ids, []string{earlier.ID, later.ID})
	}
	expectSame(t, "first deletion request", earlier, got[0])
	view(t, s, func(r store.Reader) error {
		var err error
		got, err = r.ListSubjectDeletionRequests(t.Context(), "subject-none")
		return err
	})
	if len(got) != 0 {
		t.Errorf("ListSubjectDeletionRequests of a subject without requests = %v, want none", deletionIDs(got))
	}
}

func tokenHistory(t *testing.T, s store.Store, ids []string, after int64, limit int) []audit.Record {
	t.Helper()
	var out []audit.Record
	view(t, s, func(r store.Reader) error {
		var err error
		out, err = r.ListTokenHistory(t.Context(), ids, after, limit)
		return err
	})
	return out
}

func recordSeqs(recs []audit.Record) []int64 {
	out := make([]int64, 0, len(recs))
	for _, r := range recs {
		out = append(out, r.Seq)
	}
	return out
}

func testTokenHistory(t *testing.T, f Factory) {
	s := f.Open(t)
	recs := appendAudit(t, s,
		event(audit.ActionCreate, "tok_a", nil),                                  // 1
		event(audit.ActionCreate, "tok_b", nil),                                  // 2
		event(audit.ActionIntrospect, "tok_a", nil),                              // 3: a use, not history
		event(audit.ActionRotate, "tok_a", map[string]string{"v": "2"}),          // 4
		event(audit.ActionBootstrap, "", nil),                                    // 5
		event(audit.ActionRenew, "tok_c", nil),                                   // 6: another token
		event(audit.ActionRenew, "tok_b", map[string]string{"reason": "needed"}), // 7
		event(audit.ActionRevoke, "tok_a", nil),                                  // 8
		event(audit.ActionRevoke, "tok_a_suffix", nil),                           // 9: a look-alike id
	)
	all := tokenHistory(t, s, []string{"tok_a", "tok_b"}, 0, 0)
	if got, want := recordSeqs(all), []int64{1, 2, 4, 7, 8}; !slices.Equal(got, want) {
		t.Fatalf("ListTokenHistory(tok_a, tok_b) seqs = %v, want %v", got, want)
	}
	for _, rec := range all {
		expectSameRecord(t, recs[rec.Seq-1], rec)
	}
	if got, want := recordSeqs(tokenHistory(t, s, []string{"tok_a", "tok_b"}, 2, 2)), []int64{4, 7}; !slices.Equal(got, want) {
		t.Errorf("page after 2, limit 2 = %v, want %v", got, want)
	}
	if got := tokenHistory(t, s, []string{"tok_a"}, 8, 10); len(got) != 0 {
		t.Errorf("page after the last record = %v, want none", recordSeqs(got))
	}
	if got := tokenHistory(t, s, nil, 0, 10); len(got) != 0 {
		t.Errorf("history of no tokens = %v, want none", recordSeqs(got))
	}
	if got := tokenHistory(t, s, []string{"tok_a' OR '1'='1"}, 0, 10); len(got) != 0 {
		t.Errorf("history of a quoted id = %v, want none", recordSeqs(got))
	}
}

func testCountVerifications(t *testing.T, f Factory) {
	s := f.Open(t)
	day1 := time.Date(2026, 11, 27, 23, 59, 59, 0, time.UTC)
	use := func(id, outcome string, when time.Time) audit.Event {
		e := event(audit.ActionIntrospect, id, nil)
		e.Outcome, e.Time = outcome, when
		return e
	}
	appendAudit(t, s,
		use("tok_a", "active", day1),
		// 19:59 UTC on day 1 is 01:29 on day 2 in UTC+05:30: the day counted is the UTC day,
		// whatever zone the instant came in.
		use("tok_a", "active", day1.Add(-4*time.Hour).In(zone)),
		use("tok_a", "active", day1.Add(31*time.Minute)),
		use("tok_a", "inactive", day1.Add(time.Minute)),
		use("tok_b", "active", day1),
		use("tok_c", "active", day1),
		event(audit.ActionRotate, "tok_a", nil),
	)
	var got []store.VerificationCount
	view(t, s, func(r store.Reader) error {
		var err error
		got, err = r.CountTokenVerifications(t.Context(), []string{"tok_b", "tok_a"})
		return err
	})
	want := []store.VerificationCount{
		{TokenID: "tok_a", Day: "2026-11-27", Outcome: "active", Count: 2},
		{TokenID: "tok_a", Day: "2026-11-28", Outcome: "active", Count: 1},
		{TokenID: "tok_a", Day: "2026-11-28", Outcome: "inactive", Count: 1},
		{TokenID: "tok_b", Day: "2026-11-27", Outcome: "active", Count: 1},
	}
	if !slices.Equal(got, want) {
		t.Errorf("CountTokenVerifications = %+v, want %+v", got, want)
	}
}

func testHistoryTooManyIDs(t *testing.T, f Factory) {
	s := f.Open(t)
	ids := make([]string, store.MaxHistoryTokens+1)
	for i := range ids {
		ids[i] = fmt.Sprintf("tok_%d", i)
	}
	err := s.View(t.Context(), func(r store.Reader) error {
		_, err := r.ListTokenHistory(t.Context(), ids, 0, 10)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("ListTokenHistory with %d ids: error = %v, want one naming the limit", len(ids), err)
	}
	err = s.View(t.Context(), func(r store.Reader) error {
		_, err := r.CountTokenVerifications(t.Context(), ids)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("CountTokenVerifications with %d ids: error = %v, want one naming the limit", len(ids), err)
	}
}
