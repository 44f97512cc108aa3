package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// rawDo sends one request with credential and returns the status and the body.
func rawDo(t *testing.T, method, url, credential, body string, header ...string) (int, []byte, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if credential != "" {
		req.Header.Set("Authorization", "Bearer "+credential)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer closeOrFail(t, "the response body", resp.Body)
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out, resp.Header
}

func compliantRequest(name string) wire.CreateTokenRequest {
	return wire.CreateTokenRequest{
		Name:           name,
		Owner:          "team-billing@example.com",
		Purpose:        "nightly export of invoices to the accounting system",
		Scopes:         []string{"invoices:read"},
		DataCategories: []string{"commercial", "identifiers"},
		DataSubjects:   []string{"customer:4411"},
		Audiences:      []string{"accounting"},
		TTL:            "30d",
		Rotation:       &wire.Rotation{Interval: "7d", Overlap: "1h"},
	}
}

func introspector(t *testing.T, svc *servertest.Service) (*client.Client, string) {
	t.Helper()
	cred, err := svc.Client(t).CreateCredential(context.Background(), wire.CreateCredentialRequest{Name: "orders-api"}, "")
	if err != nil {
		t.Fatalf("creating introspect credential: %v", err)
	}
	return svc.ClientWithToken(t, cred.Secret), cred.Secret
}

func wantAPIError(t *testing.T, err error, status int, code, field string) {
	t.Helper()
	var re *client.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("error = %v, want a ResponseError %d %s", err, status, code)
	}
	if re.StatusCode != status || re.Code != code || re.Field != field {
		t.Fatalf("error = %d %s field %q (%s), want %d %s field %q", re.StatusCode, re.Code, re.Field, re.Message, status, code, field)
	}
}

func TestLifecycle_createIntrospectRotateOverlapRenewRevoke(t *testing.T) {
	ctx := context.Background()
	clock := servertest.NewClock(t0)
	svc := servertest.Start(t, servertest.Options{Now: clock.Now})
	admin := svc.Client(t)
	ic, icSecret := introspector(t, svc)

	created, err := admin.CreateToken(ctx, compliantRequest("invoice-export"), "")
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.Secret == "" || created.Status != "active" || created.SecretVersion != 1 || !created.ExpiresAt.Equal(t0.Add(30*24*time.Hour)) {
		t.Fatalf("created token = %+v", created)
	}
	secret1 := created.Secret

	in, err := ic.Introspect(ctx, secret1)
	if err != nil {
		t.Fatal(err)
	}
	want := wire.Introspection{Active: true, TokenID: created.ID, Scope: "invoices:read", Owner: "team-billing@example.com",
		Audiences: []string{"accounting"}, ExpiresAt: created.ExpiresAt.Unix(), IssuedAt: t0.Unix(), TokenType: "bearer",
		Subject: "team-billing@example.com", ClientID: created.ID, Username: "team-billing@example.com", JWTID: created.ID}
	if !equalJSON(in, want) {
		t.Fatalf("introspection = %+v, want %+v", in, want)
	}

	clock.Advance(time.Minute)
	rotated, err := admin.RotateToken(ctx, created.ID, wire.RotateRequest{}, "")
	if err != nil {
		t.Fatalf("rotate: %v", err)
	}
	secret2 := rotated.Secret
	if secret2 == "" || secret2 == secret1 || rotated.ID != created.ID || rotated.SecretVersion != 2 ||
		rotated.PreviousValidTil == nil || !rotated.PreviousValidTil.Equal(t0.Add(time.Minute+time.Hour)) {
		t.Fatalf("rotated token = %+v", rotated)
	}
	if got, _ := admin.GetToken(ctx, created.ID); got.Secret != "" {
		t.Fatal("GET returned a secret")
	}

	assertActive := func(secret string, want bool, when string) {
		t.Helper()
		in, err := ic.Introspect(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		if in.Active != want {
			t.Fatalf("%s: active = %v, want %v", when, in.Active, want)
		}
	}
	clock.Advance(time.Hour - time.Microsecond)
	assertActive(secret1, true, "old secret 1µs before the overlap ends")
	assertActive(secret2, true, "new secret during the overlap")
	clock.Advance(time.Microsecond)
	assertActive(secret1, false, "old secret when the overlap ends")
	assertActive(secret2, true, "new secret after the overlap")

	_, err = admin.RenewToken(ctx, created.ID, wire.RenewRequest{TTL: "60d", Reason: "still exporting invoices"}, "")
	wantAPIError(t, err, http.StatusBadRequest, "invalid_request", "reviewed_by")
	_, err = admin.RenewToken(ctx, created.ID, wire.RenewRequest{TTL: "60d", Reason: "still exporting invoices", ReviewedBy: "TEAM-billing@example.com"}, "")
	wantAPIError(t, err, http.StatusUnprocessableEntity, "reviewer_is_owner", "reviewed_by")
	_, err = admin.RenewToken(ctx, created.ID, wire.RenewRequest{TTL: "91d", Reason: "x", ReviewedBy: "security@example.com"}, "")
	wantAPIError(t, err, http.StatusUnprocessableEntity, "ttl_exceeds_max", "ttl")
	renewed, err := admin.RenewToken(ctx, created.ID, wire.RenewRequest{TTL: "60d", Reason: "still exporting invoices", ReviewedBy: "security@example.com"}, "")
	if err != nil {
		t.Fatalf("renew with reviewer: %v", err)
	}
	if !renewed.ExpiresAt.Equal(clock.Now().Add(60*24*time.Hour)) || renewed.Secret != "" {
		t.Fatalf("renewed token = %+v", renewed)
	}

	revoked, err := admin.RevokeToken(ctx, created.ID)
	if err != nil || revoked.Status != "revoked" || revoked.RevokedAt == nil {
		t.Fatalf("revoke = %+v, %v", revoked, err)
	}
	for _, secret := range []string{secret1, secret2, "tg_live_garbage", "not a token"} {
		status, body, _ := rawDo(t, "POST", svc.URL+"/v1/introspect", icSecret, `{"token":"`+secret+`"}`)
		if status != http.StatusOK || string(body) != `{"active":false}` {
			t.Fatalf("introspect after revoke = %d %s, want exactly {\"active\":false}", status, body)
		}
	}
	again, err := admin.RevokeToken(ctx, created.ID)
	if err != nil || again.Status != "revoked" || !again.RevokedAt.Equal(*revoked.RevokedAt) {
		t.Fatalf("second revoke = %+v, %v; want the same revoked token", again, err)
	}
	_, err = admin.RotateToken(ctx, created.ID, wire.RotateRequest{}, "")
	wantAPIError(t, err, http.StatusConflict, "token_revoked", "")
	_, err = admin.RenewToken(ctx, created.ID, wire.RenewRequest{Reason: "r", ReviewedBy: "security@example.com"}, "")
	wantAPIError(t, err, http.StatusConflict, "token_revoked", "")
}

func TestIntrospection_expiryIsExactAndExpiredTokensCannotBeRenewed(t *testing.T) {
	ctx := context.Background()
	clock := servertest.NewClock(t0)
	svc := servertest.Start(t, servertest.Options{Now: clock.Now})
	admin := svc.Client(t)
	req := compliantRequest("short-lived")
	req.TTL = "2h"
	req.Rotation = nil // a 7-day rotation interval would outlive the 2-hour ttl (CPRA-ROT-001)
	tok, err := admin.CreateToken(ctx, req, "")
	if err != nil {
		t.Fatal(err)
	}
	clock.Set(tok.ExpiresAt.Add(-time.Microsecond))
	if in, _ := admin.Introspect(ctx, tok.Secret); !in.Active {
		t.Fatal("token inactive 1µs before expiry")
	}
	clock.Set(tok.ExpiresAt)
	if in, _ := admin.Introspect(ctx, tok.Secret); in.Active {
		t.Fatal("token active at its expiry instant")
	}
	got, err := admin.GetToken(ctx, tok.ID)
	if err != nil || got.Status != "expired" {
		t.Fatalf("status at expiry = %q, %v; want expired", got.Status, err)
	}
	_, err = admin.RenewToken(ctx, tok.ID, wire.RenewRequest{Reason: "r", ReviewedBy: "security@example.com"}, "")
	wantAPIError(t, err, http.StatusConflict, "token_expired", "")
	_, err = admin.RotateToken(ctx, tok.ID, wire.RotateRequest{}, "")
	wantAPIError(t, err, http.StatusConflict, "token_expired", "")
}

func TestRevocationIsInstant_noIntrospectionStartedAfterRevokeSucceeds(t *testing.T) {
	ctx := context.Background()
	svc := servertest.Start(t, servertest.Options{})
	admin := svc.Client(t)
	ic, _ := introspector(t, svc)
	tok, err := admin.CreateToken(ctx, compliantRequest("hot-token"), "")
	if err != nil {
		t.Fatal(err)
	}

	type result struct {
		start  int64
		active bool
	}
	var ctr atomic.Int64
	var revokedAt atomic.Int64 // counter value taken after RevokeToken returned; 0 = not yet
	var mu sync.Mutex
	var results []result
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	progressed := make(chan struct{}) // closed once 8 introspections have answered
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			after := 0
			for after < 10 {
				start := ctr.Add(1)
				in, err := ic.Introspect(ctx, tok.Secret)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				results = append(results, result{start, in.Active})
				if len(results) == 8 {
					close(progressed)
				}
				mu.Unlock()
				if r := revokedAt.Load(); r != 0 && start > r {
					after++
				}
			}
		}()
	}
	// Revoke once some introspections have answered.
	select {
	case <-progressed:
	case err := <-errs:
		t.Fatal(err)
	}
	if _, err := admin.RevokeToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	revokedAt.Store(ctr.Add(1))
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	r := revokedAt.Load()
	var before, after int
	for _, res := range results {
		if res.start > r {
			after++
			if res.active {
				t.Fatalf("introspection %d started after revoke returned (%d) and answered active", res.start, r)
			}
		} else if res.active {
			before++
		}
	}
	if before == 0 || after < 40 {
		t.Fatalf("test did not exercise both sides: %d active before, %d after revoke", before, after)
	}
}

func TestIdempotency_sameKeyReturnsFirstTokenAndDifferentBodyConflicts(t *testing.T) {
	ctx := context.Background()
	svc := servertest.Start(t, servertest.Options{Now: servertest.NewClock(t0).Now})
	admin := svc.Client(t)
	first, err := admin.CreateToken(ctx, compliantRequest("idem"), "key-1")
	if err != nil {
		t.Fatal(err)
	}
	second, err := admin.CreateToken(ctx, compliantRequest("idem"), "key-1")
	if err != nil {
		t.Fatalf("retry with the same key: %v", err)
	}
	if second.ID != first.ID || second.Secret != first.Secret {
		t.Fatalf("retry returned another token: %s vs %s", second.ID, first.ID)
	}
	body, _ := json.Marshal(compliantRequest("idem"))
	status, _, hdr := rawDo(t, "POST", svc.URL+"/v1/tokens", svc.AdminToken, string(body), "Idempotency-Key", "key-1")
	if status != http.StatusCreated || hdr.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("raw replay = %d replayed=%q", status, hdr.Get("Idempotent-Replayed"))
	}
	_, err = admin.CreateToken(ctx, compliantRequest("idem-other"), "key-1")
	wantAPIError(t, err, http.StatusConflict, "idempotency_key_reused", "Idempotency-Key")
	list, err := admin.ListTokens(ctx, wire.ListTokensOptions{})
	if err != nil || len(list.Tokens) != 1 {
		t.Fatalf("list = %d tokens, %v; want exactly 1", len(list.Tokens), err)
	}
	// The same name without a key is a conflict naming the field.
	_, err = admin.CreateToken(ctx, compliantRequest("idem"), "")
	wantAPIError(t, err, http.StatusConflict, "name_taken", "name")

	// Rotation with a key is replayed too: one rotation, one new secret.
	r1, err := admin.RotateToken(ctx, first.ID, wire.RotateRequest{}, "rot-1")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := admin.RotateToken(ctx, first.ID, wire.RotateRequest{}, "rot-1")
	if err != nil || r2.Secret != r1.Secret || r2.SecretVersion != 2 {
		t.Fatalf("replayed rotation = version %d, %v; want the first rotation (version 2)", r2.SecretVersion, err)
	}
}

func TestIdempotency_clientRetryAfterDroppedResponseYieldsOneToken(t *testing.T) {
	ctx := context.Background()
	var dropped atomic.Int32
	svc := servertest.Start(t, servertest.Options{Wrap: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && r.URL.Path == "/v1/tokens" && dropped.Add(1) == 1 {
				// The service commits the token, then the connection dies before the answer.
				next.ServeHTTP(discardWriter{header: http.Header{}}, r)
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					_ = conn.Close() // dropping the connection is the fault injected; how it closes does not matter
				}
				return
			}
			next.ServeHTTP(w, r)
		})
	}})
	admin := svc.Client(t)
	tok, err := admin.CreateToken(ctx, compliantRequest("retried"), "")
	if err != nil {
		t.Fatalf("create through a dropping proxy: %v", err)
	}
	if dropped.Load() < 2 {
		t.Fatalf("the create was sent %d times; the test needs the first answer dropped and a retry", dropped.Load())
	}
	list, err := admin.ListTokens(ctx, wire.ListTokensOptions{})
	if err != nil || len(list.Tokens) != 1 || list.Tokens[0].ID != tok.ID {
		t.Fatalf("list after retried create = %+v, %v; want exactly the returned token", list.Tokens, err)
	}
	if in, err := admin.Introspect(ctx, tok.Secret); err != nil || !in.Active {
		t.Fatalf("secret from the replayed answer is not active: %+v %v", in, err)
	}
}

type discardWriter struct{ header http.Header }

func (d discardWriter) Header() http.Header         { return d.header }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}

func TestAuth_missingWrongAndUnderprivilegedCredentials(t *testing.T) {
	svc := servertest.Start(t, servertest.Options{})
	_, icSecret := introspector(t, svc)
	cases := []struct {
		name, method, path, cred, body string
		status                         int
		code                           string
	}{
		{"no credential", "GET", "/v1/tokens", "", "", 401, "unauthenticated"},
		{"wrong credential", "GET", "/v1/tokens", "tgc_wrong-wrong-wrong-wrong-wrong-wrong", "", 401, "unauthenticated"},
		{"introspect-only on admin API", "GET", "/v1/tokens", icSecret, "", 403, "forbidden"},
		{"introspect-only creating a credential", "POST", "/v1/credentials", icSecret, `{"name":"x"}`, 403, "forbidden"},
		{"introspect-only reading audit", "GET", "/v1/audit", icSecret, "", 403, "forbidden"},
		{"introspect-only may introspect", "POST", "/v1/introspect", icSecret, `{"token":"x"}`, 200, ""},
		{"admin may introspect", "POST", "/v1/introspect", svc.AdminToken, `{"token":"x"}`, 200, ""},
		{"health needs no credential", "GET", "/healthz", "", "", 200, ""},
		{"readiness needs no credential", "GET", "/readyz", "", "", 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body, hdr := rawDo(t, tc.method, svc.URL+tc.path, tc.cred, tc.body)
			if status != tc.status {
				t.Fatalf("status = %d (%s), want %d", status, body, tc.status)
			}
			if tc.code != "" {
				var eb wire.ErrorBody
				if err := json.Unmarshal(body, &eb); err != nil || eb.Error.Code != tc.code {
					t.Fatalf("body = %s, want error code %s", body, tc.code)
				}
			}
			if status == 401 && hdr.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
}

func TestRestart_keepsEveryTokenAndItsState(t *testing.T) {
	ctx := context.Background()
	clock := servertest.NewClock(t0)
	dir := t.TempDir()
	svc := servertest.Start(t, servertest.Options{Dir: dir, Now: clock.Now})
	admin := svc.Client(t)
	a, _ := admin.CreateToken(ctx, compliantRequest("a"), "")
	b, _ := admin.CreateToken(ctx, compliantRequest("b"), "")
	rot, err := admin.RotateToken(ctx, a.ID, wire.RotateRequest{Overlap: "2h"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RevokeToken(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Introspect(ctx, rot.Secret); err != nil {
		t.Fatal(err)
	}
	before, err := admin.ListTokens(ctx, wire.ListTokensOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Close()

	svc2 := servertest.Start(t, servertest.Options{Dir: dir, Now: clock.Now})
	admin2 := svc2.Client(t)
	after, err := admin2.ListTokens(ctx, wire.ListTokensOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !equalJSON(before, after) {
		b1, _ := json.Marshal(before)
		b2, _ := json.Marshal(after)
		t.Fatalf("tokens changed across restart:\nbefore %s\nafter  %s", b1, b2)
	}
	for secret, want := range map[string]bool{a.Secret: true, rot.Secret: true, b.Secret: false} {
		if in, err := admin2.Introspect(ctx, secret); err != nil || in.Active != want {
			t.Fatalf("after restart introspect = %v, %v; want active %v", in.Active, err, want)
		}
	}
}

func TestNothingLeaks_secretsAbsentFromDatabaseLogsAuditAndListings(t *testing.T) {
	ctx := context.Background()
	clock := servertest.NewClock(t0)
	svc := servertest.Start(t, servertest.Options{Now: clock.Now})
	admin := svc.Client(t)
	ic, icSecret := introspector(t, svc)
	secrets := []string{svc.AdminToken, icSecret}
	personal := []string{"owner-7f3a@example.com", "customer:98231"}

	req := compliantRequest("leak-check")
	req.Owner = personal[0]
	req.DataSubjects = []string{personal[1]}
	tok, err := admin.CreateToken(ctx, req, "idem-leak")
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, tok.Secret)
	if _, err := ic.Introspect(ctx, tok.Secret); err != nil {
		t.Fatal(err)
	}
	rot, err := admin.RotateToken(ctx, tok.ID, wire.RotateRequest{}, "idem-rot")
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, rot.Secret)
	if _, err := admin.RenewToken(ctx, tok.ID, wire.RenewRequest{Reason: "quarterly review", ReviewedBy: "security@example.com"}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.Introspect(ctx, rot.Secret); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RevokeToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}

	var places = map[string][]byte{}
	for _, path := range []string{"/v1/tokens", "/v1/tokens/" + tok.ID, "/v1/audit", "/v1/tokens?subject=customer:98231"} {
		status, body, _ := rawDo(t, "GET", svc.URL+path, svc.AdminToken, "")
		if status != 200 {
			t.Fatalf("GET %s = %d %s", path, status, body)
		}
		places["GET "+path] = body
	}
	if !bytes.Contains(places["GET /v1/tokens?subject=customer:98231"], []byte(tok.ID)) {
		t.Fatal("listing by subject did not find the token")
	}
	places["audit"] = places["GET /v1/audit"]
	for _, suffix := range []string{"", "-wal"} {
		if b, err := os.ReadFile(svc.DBPath + suffix); err == nil { //nolint:gosec // G304: the test service's database in its temporary directory
			places["database"+suffix] = b
		}
	}
	places["logs"] = []byte(svc.Logs.String())
	svc.Close()
	if b, err := os.ReadFile(svc.DBPath); err == nil {
		places["database after close"] = b
	}
	for where, content := range places {
		for _, s := range secrets {
			if bytes.Contains(content, []byte(s)) {
				t.Errorf("a secret appears in %s", where)
			}
		}
		if where == "audit" || where == "logs" || strings.HasPrefix(where, "database") {
			for _, p := range personal {
				if bytes.Contains(content, []byte(p)) {
					t.Errorf("personal value %q appears in clear in %s", p, where)
				}
			}
		}
	}
	if len(places["logs"]) == 0 || !strings.Contains(string(places["logs"]), `"route":"POST /v1/tokens"`) {
		t.Fatalf("expected request log lines with the route pattern, got:\n%s", places["logs"])
	}
}

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func TestIdempotency_concurrentRequestsWithOneKeyMintOneToken(t *testing.T) {
	ctx := context.Background()
	svc := servertest.Start(t, servertest.Options{})
	admin := svc.Client(t)
	var wg sync.WaitGroup
	ids := make([]string, 8)
	errs := make([]error, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := admin.CreateToken(ctx, compliantRequest("concurrent"), "same-key")
			ids[i], errs[i] = tok.ID, err
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("request %d = %q, %v; want every request to get token %q", i, ids[i], errs[i], ids[0])
		}
	}
	list, err := admin.ListTokens(ctx, wire.ListTokensOptions{})
	if err != nil || len(list.Tokens) != 1 {
		t.Fatalf("list = %d tokens, %v; want 1", len(list.Tokens), err)
	}
}
