package server

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/keyring"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/sqlite"
)

// TestRefuseErasedSubjects_namesTheEntryByPositionOnly proves the check the token create
// handler runs in its transaction: 422 CPRA-DEL-001 on data_subjects for an erased subject
// (matched through the blind index, so surrounding spaces do not hide it), nothing for others.
func TestRefuseErasedSubjects_namesTheEntryByPositionOnly(t *testing.T) {
	ctx := context.Background()
	keys, err := keyring.New()
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tokenguard.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	s, err := New(Config{Store: st, Keyring: keys})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := st.Update(ctx, func(tx store.Tx) error {
		return tx.InsertDeletionRequest(ctx, store.DeletionRequest{ID: "del_1", SubjectIndex: s.subjectIndex("customer:4411"),
			RequestedBy: "cred_a", RequestedAt: at, RetainUntil: at.Add(time.Hour)})
	}); err != nil {
		t.Fatal(err)
	}
	check := func(subjects ...string) error {
		var got error
		if err := st.View(ctx, func(rd store.Reader) error {
			got = s.refuseErasedSubjects(ctx, rd, subjects)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if err := check("customer:1", "customer:2"); err != nil {
		t.Fatalf("subjects without a deletion request: %v", err)
	}
	if err := check(); err != nil {
		t.Fatalf("no subjects: %v", err)
	}
	err = check("customer:1", " customer:4411 ")
	var ae *apiError
	if !errors.As(err, &ae) || ae.status != http.StatusUnprocessableEntity || ae.code != "CPRA-DEL-001" || ae.field != "data_subjects" {
		t.Fatalf("erased subject: %v, want 422 CPRA-DEL-001 on data_subjects", err)
	}
	if !strings.Contains(ae.message, "data_subjects[1]") || strings.Contains(ae.message, "4411") {
		t.Fatalf("message %q: want the entry by position and never the subject", ae.message)
	}
}
