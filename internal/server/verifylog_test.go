package server_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// TestVerificationLog_concurrentIntrospectionsAreAllAuditedInAVerifiedChain proves that group
// commit loses nothing: after a flush the audit log holds exactly one introspection record
// per call made by concurrent verifiers (with the token id and outcome of each), the whole
// chain verifies, and last_used_at of each used token is the clock's instant of its use.
func TestVerificationLog_concurrentIntrospectionsAreAllAuditedInAVerifiedChain(t *testing.T) {
	ctx := context.Background()
	clock := servertest.NewClock(t0)
	svc := servertest.Start(t, servertest.Options{Now: clock.Now})
	admin := svc.Client(t)
	ic, _ := introspector(t, svc)

	const tokens, workers, perWorker = 4, 8, 40
	ids := make([]string, tokens)
	secrets := make([]string, tokens)
	for i := range tokens {
		tok, err := admin.CreateToken(ctx, compliantRequest(fmt.Sprintf("group-commit-%d", i)), "")
		if err != nil {
			t.Fatal(err)
		}
		ids[i], secrets[i] = tok.ID, tok.Secret
	}
	// Token 3 is revoked: its introspections answer inactive and are audited as such.
	if _, err := admin.RevokeToken(ctx, ids[3]); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	usedAt := t0.Add(time.Minute)

	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				k := (w + i) % tokens
				in, err := ic.Introspect(ctx, secrets[k])
				if err != nil {
					errs <- err
					return
				}
				if in.Active != (k != 3) {
					errs <- fmt.Errorf("token %d introspected active=%v", k, in.Active)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	svc.Flush(t)

	verifier := audit.NewVerifier(svc.Keys)
	got := map[string]int{} // token id + outcome -> introspection records
	lastUsed := make([]*time.Time, tokens)
	err := svc.Store.View(ctx, func(r store.Reader) error {
		for after := int64(0); ; {
			recs, err := r.ListAudit(ctx, after, 1000)
			if err != nil {
				return err
			}
			if len(recs) == 0 {
				break
			}
			for _, rec := range recs {
				if err := verifier.Add(rec); err != nil {
					return err
				}
				if rec.Action == audit.ActionIntrospect {
					got[rec.TokenID+" "+rec.Outcome]++
					if !rec.Time.Equal(usedAt) || rec.Fingerprint == "" {
						return fmt.Errorf("introspection record %d: time %s, fingerprint %q; want %s and a fingerprint", rec.Seq, rec.Time, rec.Fingerprint, usedAt)
					}
				}
				after = rec.Seq
			}
		}
		for i, id := range ids {
			tok, err := r.GetToken(ctx, id)
			if err != nil {
				return err
			}
			lastUsed[i] = tok.LastUsedAt
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	perToken := workers * perWorker / tokens
	want := map[string]int{}
	for i, id := range ids {
		outcome := "active"
		if i == 3 {
			outcome = "inactive"
		}
		want[id+" "+outcome] = perToken
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("introspection records per token and outcome = %v, want %v", got, want)
	}
	for i := range 3 {
		if lastUsed[i] == nil || !lastUsed[i].Equal(usedAt) {
			t.Fatalf("last_used_at of token %d = %v, want %s", i, lastUsed[i], usedAt)
		}
	}
	if lastUsed[3] != nil {
		t.Fatalf("last_used_at of the revoked token = %v, want none (it was never active when introspected)", lastUsed[3])
	}

	// last_used_at advances with the next use, and the API read sees it without a flush.
	clock.Advance(time.Hour)
	if in, err := ic.Introspect(ctx, secrets[0]); err != nil || !in.Active {
		t.Fatalf("introspect: %+v, %v", in, err)
	}
	tok, err := admin.GetToken(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if want := usedAt.Add(time.Hour); tok.LastUsedAt == nil || !tok.LastUsedAt.Equal(want) {
		t.Fatalf("last_used_at read through the API after the next use = %v, want %s", tok.LastUsedAt, want)
	}
}
