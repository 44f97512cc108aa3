package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// bootstrapAdminID returns the id of the bootstrap admin credential of svc.
func bootstrapAdminID(t *testing.T, c *client.Client) string {
	t.Helper()
	list, err := c.ListCredentials(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, cr := range list {
		if cr.Name == "bootstrap admin" {
			return cr.ID
		}
	}
	t.Fatalf("no bootstrap admin credential in %+v", list)
	return ""
}

// TestCredentialRotate_adminUnderConcurrentLoadNoFailedRequest proves issue 16 point 5: the
// bootstrap admin credential is rotated while 4 clients send requests continuously; each
// client switches to the new secret within the overlap, and not one request fails. At the
// end of the overlap (an injected clock, no sleep) the old secret is refused, the new one
// works, and a restart that offers the old secret again as the bootstrap secret does not
// bring it back (on SQLite, whose database the restart reopens).
func TestCredentialRotate_adminUnderConcurrentLoadNoFailedRequest(t *testing.T) {
	runAdminRotationUnderLoad(t, nil)
}

// TestCredentialRotate_adminUnderConcurrentLoadNoFailedRequest_PostgreSQL runs it on
// PostgreSQL.
func TestCredentialRotate_adminUnderConcurrentLoadNoFailedRequest_PostgreSQL(t *testing.T) {
	runAdminRotationUnderLoad(t, postgresWrap(t))
}

func runAdminRotationUnderLoad(t *testing.T, wrap func(store.Store) store.Store) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := servertest.NewClock(t0)
	svc := servertest.Start(t, servertest.Options{Dir: dir, Now: clock.Now, WrapStore: wrap})
	admin := svc.Client(t)
	tok, err := admin.CreateToken(ctx, compliantRequest("under-load"), "")
	if err != nil {
		t.Fatal(err)
	}
	adminID := bootstrapAdminID(t, admin)

	var secret atomic.Pointer[string]
	secret.Store(&svc.AdminToken)
	const workers = 4
	var (
		stop          atomic.Bool
		ok, failed    atomic.Int64
		withNew       [workers]atomic.Int64
		failuresMu    sync.Mutex
		failures      []string
		wg            sync.WaitGroup
		httpc         = &http.Client{Timeout: 30 * time.Second}
		newSecretSeen atomic.Pointer[string]
	)
	send := func(i int) {
		s := *secret.Load()
		path := "/v1/tokens/" + tok.ID
		if i%2 == 1 {
			path = "/v1/tokens?limit=5"
		}
		req, err := http.NewRequest(http.MethodGet, svc.URL+path, nil)
		if err != nil {
			panic(err)
		}
		req.Header.Set("Authorization", "Bearer "+s)
		resp, err := httpc.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			failed.Add(1)
			failuresMu.Lock()
			if err != nil {
				failures = append(failures, err.Error())
			} else {
				failures = append(failures, resp.Status)
			}
			failuresMu.Unlock()
		} else {
			ok.Add(1)
			if ns := newSecretSeen.Load(); ns != nil && *ns == s {
				withNew[i].Add(1)
			}
		}
		if resp != nil {
			_ = resp.Body.Close()
		}
	}
	for i := range workers {
		wg.Go(func() {
			for !stop.Load() {
				send(i)
			}
		})
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for start := time.Now(); !cond(); {
			if time.Since(start) > time.Minute {
				stop.Store(true)
				wg.Wait()
				t.Fatalf("waiting for %s: gave up after a minute", what)
			}
			time.Sleep(time.Millisecond) // polling progress, not asserting timing
		}
	}
	waitFor("requests with the old secret", func() bool { return ok.Load() >= 40 })

	rotated, err := admin.RotateCredential(ctx, adminID, wire.RotateCredentialRequest{Overlap: "1h"}, "")
	if err != nil {
		stop.Store(true)
		wg.Wait()
		t.Fatalf("rotating the admin credential under load: %v", err)
	}
	if rotated.ID != adminID || rotated.Secret == "" || rotated.Secret == svc.AdminToken || rotated.PreviousValidUntil == nil ||
		!rotated.PreviousValidUntil.Equal(t0.Add(time.Hour)) || rotated.Role != "admin" {
		t.Errorf("rotation answer = %+v, want the same id, a new secret and the previous one valid until %s", rotated, t0.Add(time.Hour))
	}
	beforeSwitch := ok.Load()
	waitFor("requests with the old secret after the rotation", func() bool { return ok.Load() >= beforeSwitch+40 })
	newSecretSeen.Store(&rotated.Secret)
	secret.Store(&rotated.Secret) // the clients switch within the overlap
	waitFor("every client on the new secret", func() bool {
		for i := range workers {
			if withNew[i].Load() < 20 {
				return false
			}
		}
		return true
	})
	stop.Store(true)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed across the rotation: %v", failed.Load(), failed.Load()+ok.Load(), failures[:min(len(failures), 5)])
	}
	t.Logf("%d requests by %d clients across the admin credential's rotation, 0 failed", ok.Load(), workers)

	// The overlap ends exactly at its announced instant.
	clock.Advance(time.Hour - time.Microsecond)
	if st, body, _ := rawDo(t, "GET", svc.URL+"/v1/tokens", svc.AdminToken, ""); st != 200 {
		t.Fatalf("old secret just before the end of the overlap = %d %s, want 200", st, body)
	}
	clock.Advance(time.Microsecond)
	if st, body, _ := rawDo(t, "GET", svc.URL+"/v1/tokens", svc.AdminToken, ""); st != 401 {
		t.Fatalf("old secret at the end of the overlap = %d %s, want 401", st, body)
	}
	if st, body, _ := rawDo(t, "GET", svc.URL+"/v1/tokens", rotated.Secret, ""); st != 200 {
		t.Fatalf("new secret after the overlap = %d %s, want 200", st, body)
	}
	// The rotation is audited, by the credential that asked, naming the rotated one.
	page, err := svc.ClientWithToken(t, rotated.Secret).ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range page.Records {
		raw, _ := json.Marshal(r)
		if strings.Contains(string(raw), rotated.Secret) || strings.Contains(string(raw), svc.AdminToken) {
			t.Fatalf("audit record %d holds a credential secret", r.Seq)
		}
		if r.Action == "credential.rotate" {
			n++
			if r.Actor != adminID || r.Details["credential"] != adminID || r.Details["overlap"] != "1h" {
				t.Errorf("credential.rotate record = %+v", r)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d credential.rotate records, want 1", n)
	}

	if wrap != nil {
		return // the restart below reopens the SQLite database of dir
	}
	// A restart offering the old secret as the bootstrap secret (TOKENGUARD_ADMIN_TOKEN left
	// unchanged) installs nothing: a credential exists, and the old secret stays dead.
	svc.Close()
	svc = servertest.Start(t, servertest.Options{Dir: dir, Now: clock.Now})
	if st, _, _ := rawDo(t, "GET", svc.URL+"/v1/tokens", svc.AdminToken, ""); st != 401 {
		t.Fatalf("old admin secret after a restart = %d, want 401", st)
	}
	if st, _, _ := rawDo(t, "GET", svc.URL+"/v1/tokens", rotated.Secret, ""); st != 200 {
		t.Fatalf("new admin secret after a restart = %d, want 200", st)
	}
}

// TestCredentialRotate_overlapRulesRevokedAndIdempotentRetry covers the edges of a
// credential rotation: overlap 0 ends the old secret at once, a second rotation inside the
// overlap is refused 409, a revoked or unknown credential cannot be rotated, a bad overlap
// is refused 400 naming the field, a retried request with the same Idempotency-Key answers
// the same secret without rotating twice, and a non-admin credential cannot rotate.
func TestCredentialRotate_overlapRulesRevokedAndIdempotentRetry(t *testing.T) {
	ctx := context.Background()
	clock := servertest.NewClock(t0)
	svc := servertest.Start(t, servertest.Options{Now: clock.Now, AuthFailuresPerMinute: -1})
	admin := svc.Client(t)
	gw, err := admin.CreateCredential(ctx, wire.CreateCredentialRequest{Name: "gateway"}, "")
	if err != nil {
		t.Fatal(err)
	}
	r1, err := admin.RotateCredential(ctx, gw.ID, wire.RotateCredentialRequest{Overlap: "10m"}, "retry-key-1")
	if err != nil {
		t.Fatal(err)
	}
	r1again, err := admin.RotateCredential(ctx, gw.ID, wire.RotateCredentialRequest{Overlap: "10m"}, "retry-key-1")
	if err != nil || r1again.Secret != r1.Secret {
		t.Fatalf("retried rotation = %v, secret equal %v; want the first answer", err, r1again.Secret == r1.Secret)
	}
	_, err = admin.RotateCredential(ctx, gw.ID, wire.RotateCredentialRequest{}, "")
	wantAPIError(t, err, 409, "credential_overlap_running", "")
	for _, secret := range []string{gw.Secret, r1.Secret} {
		if _, err := svc.ClientWithToken(t, secret).Introspect(ctx, "tg_live_x"); err != nil {
			t.Fatalf("a secret inside the overlap: %v", err)
		}
	}
	clock.Advance(10 * time.Minute)
	_, err = svc.ClientWithToken(t, gw.Secret).Introspect(ctx, "tg_live_x")
	wantAPIError(t, err, 401, "unauthenticated", "")

	r2, err := admin.RotateCredential(ctx, gw.ID, wire.RotateCredentialRequest{Overlap: "0s"}, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.ClientWithToken(t, r1.Secret).Introspect(ctx, "tg_live_x")
	wantAPIError(t, err, 401, "unauthenticated", "")
	if _, err := svc.ClientWithToken(t, r2.Secret).Introspect(ctx, "tg_live_x"); err != nil {
		t.Fatalf("the new secret after an overlap of 0s: %v", err)
	}

	for _, bad := range []string{"forever", "-1h", "31d"} {
		_, err = admin.RotateCredential(ctx, gw.ID, wire.RotateCredentialRequest{Overlap: bad}, "")
		wantAPIError(t, err, 400, "invalid_request", "overlap")
	}
	_, err = admin.RotateCredential(ctx, "cred_nobody", wire.RotateCredentialRequest{}, "")
	if !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("rotating an unknown credential = %v, want ErrNotFound", err)
	}
	issuer, err := admin.CreateCredential(ctx, wire.CreateCredentialRequest{Name: "pipeline", Role: "issuer"}, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.ClientWithToken(t, issuer.Secret).RotateCredential(ctx, issuer.ID, wire.RotateCredentialRequest{}, "")
	wantAPIError(t, err, 403, "forbidden", "")
	if _, err := admin.RevokeCredential(ctx, gw.ID); err != nil {
		t.Fatal(err)
	}
	_, err = admin.RotateCredential(ctx, gw.ID, wire.RotateCredentialRequest{}, "")
	wantAPIError(t, err, 409, "credential_revoked", "")
	// Revocation ends the previous secret too, even inside an overlap.
	rev, err := admin.RotateCredential(ctx, issuer.ID, wire.RotateCredentialRequest{Overlap: "1h"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RevokeCredential(ctx, issuer.ID); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{issuer.Secret, rev.Secret} {
		_, err = svc.ClientWithToken(t, s).ListTokens(ctx, wire.ListTokensOptions{})
		wantAPIError(t, err, 401, "unauthenticated", "")
	}
}

// TestCredentialList_namesRoleOwnerAndStateNeverASecret lists credentials of every role:
// each with its role, owner restriction, creation, rotation and revocation, and no secret
// or hash anywhere in the answer.
func TestCredentialList_namesRoleOwnerAndStateNeverASecret(t *testing.T) {
	ctx := context.Background()
	svc := servertest.Start(t, servertest.Options{})
	admin := svc.Client(t)
	secrets := []string{svc.AdminToken}
	want := map[string][2]string{}
	for _, k := range []struct{ role, owner string }{{"issuer", ownerA}, {"reader", ""}, {"introspect", ""}, {"admin", ""}} {
		c, err := admin.CreateCredential(ctx, wire.CreateCredentialRequest{Name: k.role + "-x", Role: k.role, Owner: k.owner}, "")
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, c.Secret)
		want[c.ID] = [2]string{k.role, k.owner}
	}
	status, body, _ := rawDo(t, "GET", svc.URL+"/v1/credentials", svc.AdminToken, "")
	if status != 200 {
		t.Fatalf("GET /v1/credentials = %d %s", status, body)
	}
	for _, s := range secrets {
		if strings.Contains(string(body), s) {
			t.Fatal("the credential list holds a secret")
		}
	}
	for _, field := range []string{"secret", "hash"} {
		if strings.Contains(string(body), `"`+field) {
			t.Fatalf("the credential list has a %q field: %s", field, body)
		}
	}
	list, err := admin.ListCredentials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 5 {
		t.Fatalf("%d credentials listed, want 5", len(list))
	}
	for _, c := range list {
		if c.Name == "bootstrap admin" {
			if c.Role != "admin" || c.Owner != "" || c.CreatedAt.IsZero() {
				t.Errorf("bootstrap admin listed as %+v", c)
			}
			continue
		}
		if w := want[c.ID]; c.Role != w[0] || c.Owner != w[1] || c.CreatedAt.IsZero() || c.RevokedAt != nil {
			t.Errorf("credential %s listed as role %q owner %q, want %q %q", c.ID, c.Role, c.Owner, w[0], w[1])
		}
	}
}
