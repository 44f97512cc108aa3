package server_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/testenv"
)

// TestRevocationEvidence_SQLite: see runRevocationEvidence.
// TestRevocationEvidence_PostgreSQL runs the same on the PostgreSQL store.
func TestRevocationEvidence_SQLite(t *testing.T) {
	runRevocationEvidence(t, openSQLite, revocationTrials())
}

func TestRevocationEvidence_PostgreSQL(t *testing.T) {
	serverURL := testenv.PostgresURL(t)
	runRevocationEvidence(t, openPostgres(serverURL), revocationTrials())
}

// runRevocationEvidence races revocation against introspection (issue 13 point 7, evidence in
// order): per trial, several goroutines introspect a fresh token in a loop while it is
// revoked through the API, until each has seen it inactive. Then, from the database: every
// audit record of a successful verification of the token has a time at or before its
// revoked_at, whether it was committed before the revocation record (lower seq) or after it
// (group-committed late); last_used_at is at or before revoked_at and equals the latest
// successful record's time; every verification refused as revoked is at or after revoked_at;
// the revocation record's time is revoked_at; and the chain verifies with the key. The test
// requires successful records committed after the revocation record, so it cannot pass
// without exercising the race.
func runRevocationEvidence(t *testing.T, open storeFactory, trials int) {
	ctx := context.Background()
	st := open(t)
	rs := startRaceService(t, st, "evidence-introspector")
	srv, keys, admin, ic := rs.srv, rs.keys, rs.admin, rs.ic

	const introspectors, inactiveEach = 4, 2
	ids := make([]string, 0, trials)
	for trial := range trials {
		tok, err := admin.CreateToken(ctx, compliantRequest(fmt.Sprintf("evidence-%d", trial)), "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tok.ID)
		var seen, wg sync.WaitGroup
		seen.Add(introspectors)
		errs := make(chan error, introspectors)
		for range introspectors {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sawActive, inactive := false, 0
				defer func() {
					if !sawActive {
						seen.Done()
					}
				}()
				for inactive < inactiveEach {
					in, err := ic.Introspect(ctx, tok.Secret)
					if err != nil {
						errs <- err
						return
					}
					if !in.Active {
						inactive++
					} else if !sawActive {
						sawActive = true
						seen.Done()
					}
				}
			}()
		}
		seen.Wait()
		if _, err := admin.RevokeToken(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("trial %d: introspection failed: %v", trial, err)
		}
	}
	if err := srv.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	byToken := map[string][]audit.Record{}
	tokens := map[string]store.Token{}
	v := audit.NewVerifier(keys)
	if err := st.View(ctx, func(r store.Reader) error {
		for after := int64(0); ; {
			recs, err := r.ListAudit(ctx, after, 1000)
			if err != nil {
				return err
			}
			if len(recs) == 0 {
				break
			}
			for _, rec := range recs {
				if err := v.Add(rec); err != nil {
					return err
				}
				byToken[rec.TokenID] = append(byToken[rec.TokenID], rec)
			}
			after = recs[len(recs)-1].Seq
		}
		for _, id := range ids {
			tok, err := r.GetToken(ctx, id)
			if err != nil {
				return err
			}
			tokens[id] = tok
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var active, lateCommitted, refused int
	for _, id := range ids {
		tok := tokens[id]
		if tok.RevokedAt == nil {
			t.Fatalf("token %s has no revoked_at", id)
		}
		revokedAt := *tok.RevokedAt
		var revokeSeq int64
		var latestUse time.Time
		for _, rec := range byToken[id] {
			if rec.Action == audit.ActionRevoke {
				revokeSeq = rec.Seq
				if !rec.Time.Equal(revokedAt) {
					t.Errorf("token %s: revocation record at %s, revoked_at %s", id, rec.Time, revokedAt)
				}
			}
		}
		if revokeSeq == 0 {
			t.Fatalf("token %s: no revocation record", id)
		}
		for _, rec := range byToken[id] {
			if rec.Action != audit.ActionIntrospect {
				continue
			}
			switch {
			case rec.Outcome == "active":
				active++
				if rec.Seq > revokeSeq {
					lateCommitted++
				}
				if rec.Time.After(revokedAt) {
					t.Errorf("token %s: successful verification record %d (seq %s the revocation's %d) at %s, after revoked_at %s",
						id, rec.Seq, map[bool]string{true: "after", false: "before"}[rec.Seq > revokeSeq], revokeSeq, rec.Time, revokedAt)
				}
				if rec.Time.After(latestUse) {
					latestUse = rec.Time
				}
			case rec.Details["reason"] == "revoked":
				refused++
				if rec.Seq < revokeSeq || rec.Time.Before(revokedAt) {
					t.Errorf("token %s: verification refused as revoked is record %d at %s, before the revocation (record %d at %s)",
						id, rec.Seq, rec.Time, revokeSeq, revokedAt)
				}
			}
		}
		if tok.LastUsedAt == nil || !tok.LastUsedAt.Equal(latestUse) || tok.LastUsedAt.After(revokedAt) {
			t.Errorf("token %s: last_used_at %v, want the latest successful record's time %s, not after revoked_at %s", id, tok.LastUsedAt, latestUse, revokedAt)
		}
	}
	if lateCommitted == 0 {
		t.Fatalf("no successful verification was committed after its token's revocation record in %d trials: the race was not exercised", trials)
	}
	t.Logf("%d trials: %d successful verification records (%d committed after the revocation record), %d refused as revoked; none later than revoked_at",
		trials, active, lateCommitted, refused)
}
