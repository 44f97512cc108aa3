package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// deletionTests are the conformance cases of the deletion-request evidence records.
var deletionTests = []struct {
	name string
	fn   func(*testing.T, Factory)
}{
	{"DeletionRequestRoundTripsEveryFieldAndSurvivesReopen", testDeletionRoundTrip},
	{"DeletionRequestKeepsNilAndEmptyListsDistinct", testDeletionNilAndEmpty},
	{"DeletionRequestGetReturnsErrNotFoundAndInsertErrConflict", testDeletionNotFoundAndConflict},
	{"ListDeletionRequestsPagesInByteOrderOfID", testDeletionList},
	{"IsSubjectErasedLooksUpTheBlindIndex", testDeletionErased},
	{"PurgeDeletionRequestsDeletesOnlyRecordsPastRetention", testDeletionPurge},
	{"DeletionRequestWritesRollBackWithTheTransaction", testDeletionRollback},
}

// fullDeletion returns a deletion request with every field set, all values derived from n.
func fullDeletion(n int) store.DeletionRequest {
	return store.DeletionRequest{
		ID:               fmt.Sprintf("del_full%08d", n),
		SubjectIndex:     fmt.Sprintf("subject-index-%d", n),
		SubjectCipher:    []byte(fmt.Sprintf("subject-cipher-%d", n)),
		Categories:       []string{"identifiers", "commercial"},
		RequestedBy:      fmt.Sprintf("cred_%d", n),
		RequestedAt:      at(time.Duration(n) * time.Minute),
		CompletedAt:      ptr(at(time.Duration(n)*time.Minute + time.Second)),
		RetainUntil:      at(time.Duration(n)*time.Minute + 730*24*time.Hour),
		RevokedTokenIDs:  []string{fmt.Sprintf("tok_r%d_a", n), fmt.Sprintf("tok_r%d_b", n)},
		NotifiedTokenIDs: []string{fmt.Sprintf("tok_n%d", n)},
		Reference:        fmt.Sprintf("TICKET-%d", n),
	}
}

func insertDeletions(t *testing.T, s store.Store, ds ...store.DeletionRequest) {
	t.Helper()
	update(t, s, func(tx store.Tx) error {
		for _, d := range ds {
			if err := tx.InsertDeletionRequest(t.Context(), d); err != nil {
				return err
			}
		}
		return nil
	})
}

func getDeletion(t *testing.T, s store.Store, id string) (store.DeletionRequest, error) {
	t.Helper()
	var (
		d      store.DeletionRequest
		getErr error
	)
	view(t, s, func(r store.Reader) error {
		d, getErr = r.GetDeletionRequest(t.Context(), id)
		return nil
	})
	return d, getErr
}

func deletionIDs(ds []store.DeletionRequest) []string {
	ids := make([]string, 0, len(ds))
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	return ids
}

func isErased(t *testing.T, s store.Store, index string) bool {
	t.Helper()
	var erased bool
	view(t, s, func(r store.Reader) error {
		var err error
		erased, err = r.IsSubjectErased(t.Context(), index)
		return err
	})
	return erased
}

func testDeletionRoundTrip(t *testing.T, f Factory) {
	s := f.Open(t)
	want := fullDeletion(1)
	insertDeletions(t, s, want)
	got, err := getDeletion(t, s, want.ID)
	if err != nil {
		t.Fatalf("GetDeletionRequest: %v", err)
	}
	expectSame(t, "deletion request", want, got)
	if got.RequestedAt.Location() != time.UTC || got.RetainUntil.Location() != time.UTC || got.CompletedAt.Location() != time.UTC {
		t.Errorf("instants are not returned in UTC: %v %v %v", got.RequestedAt.Location(), got.CompletedAt.Location(), got.RetainUntil.Location())
	}
	// A Reader inside a write transaction reads it too.
	update(t, s, func(tx store.Tx) error {
		in, err := tx.GetDeletionRequest(t.Context(), want.ID)
		if err != nil {
			return err
		}
		expectSame(t, "deletion request read in a write transaction", want, in)
		return nil
	})

	s = f.Reopen(t, s)
	got, err = getDeletion(t, s, want.ID)
	if err != nil {
		t.Fatalf("GetDeletionRequest after reopen: %v", err)
	}
	expectSame(t, "deletion request after reopen", want, got)
}

func testDeletionNilAndEmpty(t *testing.T, f Factory) {
	s := f.Open(t)
	nilLists := store.DeletionRequest{ID: "del_nil", SubjectIndex: "si", RequestedBy: "cred_a",
		RequestedAt: at(0), RetainUntil: at(time.Hour)}
	emptyLists := store.DeletionRequest{ID: "del_empty", SubjectIndex: "si", SubjectCipher: []byte("c"),
		Categories: []string{}, RequestedBy: "cred_a", RequestedAt: at(0), CompletedAt: ptr(at(0)), RetainUntil: at(time.Hour),
		RevokedTokenIDs: []string{}, NotifiedTokenIDs: []string{}}
	insertDeletions(t, s, nilLists, emptyLists)
	for _, want := range []store.DeletionRequest{nilLists, emptyLists} {
		got, err := getDeletion(t, s, want.ID)
		if err != nil {
			t.Fatalf("GetDeletionRequest(%q): %v", want.ID, err)
		}
		expectSame(t, want.ID, want, got)
		if got.CompletedAt == nil && want.CompletedAt != nil || got.CompletedAt != nil && want.CompletedAt == nil {
			t.Errorf("%s: CompletedAt = %v, want %v", want.ID, got.CompletedAt, want.CompletedAt)
		}
	}
}

func testDeletionNotFoundAndConflict(t *testing.T, f Factory) {
	s := f.Open(t)
	if _, err := getDeletion(t, s, "del_missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetDeletionRequest of a missing id: error = %v, want store.ErrNotFound", err)
	}
	first := fullDeletion(1)
	insertDeletions(t, s, first)
	dup := fullDeletion(2)
	dup.ID = first.ID
	err := s.Update(t.Context(), func(tx store.Tx) error {
		err := tx.InsertDeletionRequest(t.Context(), dup)
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("InsertDeletionRequest with a duplicate id: error = %v, want store.ErrConflict", err)
		}
		// The transaction stays usable after the conflict (as with InsertToken).
		return tx.InsertDeletionRequest(t.Context(), fullDeletion(3))
	})
	if err != nil {
		t.Fatalf("Update after a conflict: %v", err)
	}
	got, err := getDeletion(t, s, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	expectSame(t, "first record after a conflicting insert", first, got)
	if _, err := getDeletion(t, s, fullDeletion(3).ID); err != nil {
		t.Errorf("record inserted after the conflict: %v", err)
	}
	// Several requests may name the same subject.
	same := fullDeletion(4)
	same.SubjectIndex = first.SubjectIndex
	insertDeletions(t, s, same)
}

func testDeletionList(t *testing.T, f Factory) {
	s := f.Open(t)
	// Byte order: upper case before lower case, "del_B" before "del_a".
	ids := []string{"del_b", "del_A", "del_a", "del_B", "del_0"}
	for i, id := range ids {
		d := fullDeletion(i)
		d.ID = id
		insertDeletions(t, s, d)
	}
	want := slices.Clone(ids)
	slices.Sort(want) // Go sorts strings in byte order
	var all []store.DeletionRequest
	view(t, s, func(r store.Reader) error {
		var err error
		all, err = r.ListDeletionRequests(t.Context(), "", 0)
		return err
	})
	if got := deletionIDs(all); !slices.Equal(got, want) {
		t.Fatalf("ListDeletionRequests = %v, want %v", got, want)
	}
	first := fullDeletion(4) // "del_0" sorts first
	first.ID = "del_0"
	expectSame(t, "listed record", first, all[0])

	// Pages of two follow the cursor without gaps or duplicates.
	var paged []string
	after := ""
	for range 10 {
		var page []store.DeletionRequest
		view(t, s, func(r store.Reader) error {
			var err error
			page, err = r.ListDeletionRequests(t.Context(), after, 2)
			return err
		})
		if len(page) > 2 {
			t.Fatalf("page of limit 2 has %d records", len(page))
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, deletionIDs(page)...)
		after = page[len(page)-1].ID
	}
	if !slices.Equal(paged, want) {
		t.Errorf("paged ids = %v, want %v", paged, want)
	}
}

func testDeletionErased(t *testing.T, f Factory) {
	s := f.Open(t)
	pending := fullDeletion(1)
	pending.CompletedAt = nil
	insertDeletions(t, s, pending, fullDeletion(2))
	for _, c := range []struct {
		index string
		want  bool
	}{
		{fullDeletion(1).SubjectIndex, true}, // pending counts
		{fullDeletion(2).SubjectIndex, true}, // complete
		{"subject-index-3", false},
		{"", false},
	} {
		if got := isErased(t, s, c.index); got != c.want {
			t.Errorf("IsSubjectErased(%q) = %v, want %v", c.index, got, c.want)
		}
	}
}

func testDeletionPurge(t *testing.T, f Factory) {
	s := f.Open(t)
	old, boundary, young := fullDeletion(1), fullDeletion(2), fullDeletion(3)
	cut := at(1000 * 24 * time.Hour)
	old.RetainUntil = cut.Add(-time.Microsecond)
	boundary.RetainUntil = cut // retained until exactly cut: not yet past retention
	young.RetainUntil = cut.Add(time.Hour)
	insertDeletions(t, s, old, boundary, young)

	var n int
	update(t, s, func(tx store.Tx) error {
		var err error
		n, err = tx.PurgeDeletionRequests(t.Context(), cut)
		return err
	})
	if n != 1 {
		t.Errorf("PurgeDeletionRequests = %d, want 1", n)
	}
	if _, err := getDeletion(t, s, old.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("record past retention after purge: error = %v, want store.ErrNotFound", err)
	}
	for _, d := range []store.DeletionRequest{boundary, young} {
		if _, err := getDeletion(t, s, d.ID); err != nil {
			t.Errorf("record %s within retention was purged: %v", d.ID, err)
		}
	}
	if isErased(t, s, old.SubjectIndex) {
		t.Error("IsSubjectErased is still true for the subject of a purged record")
	}
	update(t, s, func(tx store.Tx) error {
		var err error
		n, err = tx.PurgeDeletionRequests(t.Context(), cut)
		return err
	})
	if n != 0 {
		t.Errorf("second PurgeDeletionRequests at the same instant = %d, want 0", n)
	}
}

func testDeletionRollback(t *testing.T, f Factory) {
	s := f.Open(t)
	kept := fullDeletion(1)
	insertDeletions(t, s, kept)
	err := s.Update(t.Context(), func(tx store.Tx) error {
		n, err := tx.PurgeDeletionRequests(t.Context(), kept.RetainUntil.Add(time.Hour))
		if err != nil || n != 1 {
			t.Errorf("PurgeDeletionRequests inside the failing transaction = %d, %v; want 1", n, err)
		}
		if err := tx.InsertDeletionRequest(t.Context(), fullDeletion(2)); err != nil {
			t.Errorf("InsertDeletionRequest inside the failing transaction: %v", err)
		}
		// Inside the transaction its own writes are visible.
		if erased, err := tx.IsSubjectErased(t.Context(), fullDeletion(2).SubjectIndex); err != nil || !erased {
			t.Errorf("IsSubjectErased inside the transaction = %v, %v; want true", erased, err)
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update error = %v, want the error fn returned", err)
	}
	got, err := getDeletion(t, s, kept.ID)
	if err != nil {
		t.Fatalf("record purged in a rolled back transaction is gone: %v", err)
	}
	expectSame(t, "record after rollback", kept, got)
	if _, err := getDeletion(t, s, fullDeletion(2).ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("record inserted in a rolled back transaction: error = %v, want store.ErrNotFound", err)
	}
	if isErased(t, s, fullDeletion(2).SubjectIndex) {
		t.Error("IsSubjectErased is true for the subject of a rolled back insert")
	}
}
