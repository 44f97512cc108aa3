package server_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// TestTokenRetention_purgesTokensRetiredLongerThanTheRetention proves the retention of
// retired tokens: tokens revoked or expired more than the retention ago are deleted, newer
// ones and live ones stay, the purge writes one tokens.purge audit record with the count and
// the cutoff, the evidence of a deletion request stays, and the audit chain still verifies.
func TestTokenRetention_purgesTokensRetiredLongerThanTheRetention(t *testing.T) {
	ctx := context.Background()
	clock := servertest.NewClock(t0)
	svc := servertest.Start(t, servertest.Options{Now: clock.Now})
	admin := svc.Client(t)
	create := func(name, ttl string) wire.Token {
		t.Helper()
		req := compliantRequest(name)
		req.TTL = ttl
		req.Rotation = nil
		tok, err := admin.CreateToken(ctx, req, "")
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	revokedOld := create("revoked-long-ago", "30d")
	expiredOld := create("expired-long-ago", "1d")
	if _, err := admin.RevokeToken(ctx, revokedOld.ID); err != nil {
		t.Fatal(err)
	}
	clock.Advance(40 * 24 * time.Hour)
	revokedNew := create("revoked-recently", "30d")
	expiredNew := create("expired-recently", "30d")
	if _, err := admin.RevokeToken(ctx, revokedNew.ID); err != nil {
		t.Fatal(err)
	}
	// 90 days and 1 µs after the first revocation and 89 days after the first expiry.
	clock.Set(t0.Add(90*24*time.Hour + time.Microsecond))
	live := create("live", "30d")

	dry, err := server.PurgeRetiredTokens(ctx, svc.Store, server.DefaultTokenRetention, clock.Now(), "cred_test", true, true)
	if err != nil || dry.Purged != 1 {
		t.Fatalf("dry run = %+v, %v; want 1 token", dry, err)
	}
	if _, err := admin.GetToken(ctx, revokedOld.ID); err != nil {
		t.Fatalf("after a dry run, GetToken(%s) = %v; want the token kept", revokedOld.ID, err)
	}
	before := len(auditRecords(t, svc))

	res, err := svc.Server.PurgeRetiredTokens(ctx)
	if err != nil || res.Purged != 1 || !res.Cutoff.Equal(clock.Now().Add(-server.DefaultTokenRetention)) {
		t.Fatalf("purge = %+v, %v; want 1 token, cutoff 90 days ago", res, err)
	}
	if _, err := admin.GetToken(ctx, revokedOld.ID); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("GetToken(revoked 90 days ago) = %v, want not found", err)
	}
	for _, kept := range []wire.Token{expiredOld, revokedNew, expiredNew, live} {
		if _, err := admin.GetToken(ctx, kept.ID); err != nil {
			t.Errorf("GetToken(%s) after the purge = %v; want it kept", kept.Name, err)
		}
	}
	recs := auditRecords(t, svc)
	if len(recs) != before+1 {
		t.Fatalf("the purge appended %d audit records, want 1", len(recs)-before)
	}
	last := recs[len(recs)-1]
	if last.Action != "tokens.purge" || last.Details["purged"] != "1" || last.Details["cutoff"] != res.Cutoff.Format(time.RFC3339Nano) || last.Details["retention"] != "90d" {
		t.Errorf("purge audit record = %+v", last)
	}
	var revokeSeen bool
	v := audit.NewVerifier(svc.Keys)
	for _, r := range recs {
		if err := v.Add(r.Record()); err != nil {
			t.Fatalf("audit chain after the purge: %v", err)
		}
		revokeSeen = revokeSeen || (r.TokenID == revokedOld.ID && r.Action == audit.ActionRevoke)
	}
	if !revokeSeen {
		t.Error("the revocation record of the purged token is gone from the audit log")
	}

	// A purge that finds nothing writes no record (the hourly job would fill the log).
	if res, err := svc.Server.PurgeRetiredTokens(ctx); err != nil || res.Purged != 0 {
		t.Fatalf("second purge = %+v, %v; want nothing", res, err)
	}
	if n := len(auditRecords(t, svc)); n != len(recs) {
		t.Errorf("an empty purge appended %d audit records, want 0", n-len(recs))
	}

	// The periodic job runs once at start: StartTokenPurges purges the token
	// that expired 90 days ago before Close returns.
	clock.Set(expiredOld.ExpiresAt.Add(server.DefaultTokenRetention + time.Microsecond))
	job, err := server.New(server.Config{Store: svc.Store, Keyring: svc.Keys, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	job.StartTokenPurges(time.Hour)
	if err := job.Close(ctx); err != nil {
		t.Fatal(err)
	}
	err = svc.Store.View(ctx, func(r store.Reader) error {
		_, err := r.GetToken(ctx, expiredOld.ID)
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the token expired 90 days ago after the purge job's start = %v, want deleted", err)
	}
}

// TestTokenRetention_refusesANonPositiveRetention: a zero or negative retention would purge
// every token at once.
func TestTokenRetention_refusesANonPositiveRetention(t *testing.T) {
	svc := servertest.Start(t, servertest.Options{})
	for _, d := range []time.Duration{0, -time.Hour} {
		if _, err := server.PurgeRetiredTokens(context.Background(), svc.Store, d, time.Now(), "x", true, false); err == nil {
			t.Errorf("PurgeRetiredTokens(retention %s) succeeded, want an error", d)
		}
	}
}
