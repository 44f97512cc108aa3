package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// retentionTests are the conformance cases of the retention of retired tokens (issue 18:
// revoked and expired tokens are purged after the retention; evidence and audit stay).
var retentionTests = []struct {
	name string
	fn   func(*testing.T, Factory)
}{
	{"PurgeTokensDeletesExactlyTheTokensRetiredBefore", testPurgeTokens},
}

func testPurgeTokens(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	cutoff := at(100 * 24 * time.Hour)
	mk := func(n int, status string, expires time.Time, revoked *time.Time) store.Token {
		tok := fullToken(n)
		tok.Status, tok.ExpiresAt, tok.RevokedAt = status, expires, revoked
		tok.SubjectIndexes = []string{"subject-shared", tok.SubjectIndexes[0]}
		return tok
	}
	tokens := []store.Token{
		mk(1, store.StatusRevoked, cutoff.Add(time.Hour), ptr(cutoff.Add(-time.Second))),      // revoked before: purged
		mk(2, store.StatusRevoked, cutoff.Add(time.Hour), ptr(cutoff)),                        // revoked exactly at: stays
		mk(3, store.StatusActive, cutoff.Add(-time.Microsecond), nil),                         // expired before: purged
		mk(4, store.StatusActive, cutoff, nil),                                                // expires exactly at: stays
		mk(5, store.StatusActive, cutoff.Add(24*time.Hour), nil),                              // live: stays
		mk(6, store.StatusRevoked, cutoff.Add(-48*time.Hour), ptr(cutoff.Add(-72*time.Hour))), // both: purged
		mk(7, store.StatusActive, cutoff.Add(time.Hour), ptr(cutoff.Add(-time.Hour))),         // not revoked, stale RevokedAt: stays
	}
	insertTokens(t, s, tokens...)
	recs := appendAudit(t, s,
		event(audit.ActionCreate, tokens[0].ID, map[string]string{"name": tokens[0].Name}),
		event(audit.ActionRevoke, tokens[0].ID, nil),
		event(audit.ActionCreate, tokens[2].ID, nil))
	d := fullDeletion(1)
	d.RevokedTokenIDs = []string{tokens[0].ID}
	insertDeletions(t, s, d)

	// A rolled-back purge deletes nothing.
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.PurgeTokens(ctx, cutoff); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || len(listIDs(t, s, store.TokenFilter{})) != len(tokens) {
		t.Fatalf("a rolled-back purge: err %v, %d tokens left; want boom and %d", err, len(listIDs(t, s, store.TokenFilter{})), len(tokens))
	}

	var n int
	// Instants in another zone compare as instants.
	update(t, s, func(tx store.Tx) (err error) { n, err = tx.PurgeTokens(ctx, cutoff.In(time.UTC)); return err })
	if n != 3 {
		t.Errorf("PurgeTokens deleted %d tokens, want 3", n)
	}
	want := []string{tokens[1].ID, tokens[3].ID, tokens[4].ID, tokens[6].ID}
	if got := listIDs(t, s, store.TokenFilter{}); !slices.Equal(got, want) {
		t.Errorf("tokens left = %q, want %q", got, want)
	}
	// The purged tokens' subject blind indexes went with them.
	if got := listIDs(t, s, store.TokenFilter{SubjectIndex: "subject-shared"}); !slices.Equal(got, want) {
		t.Errorf("tokens found by a shared subject index = %q, want %q", got, want)
	}
	for _, gone := range []store.Token{tokens[0], tokens[2], tokens[5]} {
		if got := listIDs(t, s, store.TokenFilter{SubjectIndex: gone.SubjectIndexes[1]}); len(got) != 0 {
			t.Errorf("the subject index of purged %s still finds %q", gone.ID, got)
		}
		view(t, s, func(r store.Reader) error {
			if _, err := r.GetToken(ctx, gone.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetToken(purged %s) error = %v, want store.ErrNotFound", gone.ID, err)
			}
			if _, err := r.FindTokenByHash(ctx, gone.SecretHash); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("FindTokenByHash(purged %s) error = %v, want store.ErrNotFound", gone.ID, err)
			}
			return nil
		})
	}
	// The audit log and the evidence are untouched, and the chain still verifies.
	all := readAudit(t, s)
	if len(all) != len(recs) {
		t.Fatalf("audit records after the purge = %d, want %d", len(all), len(recs))
	}
	v := &audit.Verifier{}
	for i := range recs {
		expectSameRecord(t, recs[i], all[i])
		if err := v.Add(all[i]); err != nil {
			t.Errorf("audit chain after the purge: %v", err)
		}
	}
	if err := v.Finish(); err != nil {
		t.Errorf("audit chain after the purge: %v", err)
	}
	view(t, s, func(r store.Reader) error {
		got, err := r.GetDeletionRequest(ctx, d.ID)
		if err != nil {
			return err
		}
		expectSame(t, "deletion request after the purge", d, got)
		return nil
	})
	// Nothing more is retired before the same instant.
	update(t, s, func(tx store.Tx) (err error) { n, err = tx.PurgeTokens(ctx, cutoff); return err })
	if n != 0 {
		t.Errorf("a second PurgeTokens deleted %d tokens, want 0", n)
	}
}
