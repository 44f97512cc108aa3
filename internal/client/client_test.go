package client

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

func fastClient(t *testing.T, url string, mod ...func(*Config)) *Client {
	t.Helper()
	cfg := Config{Endpoint: url, Token: "tgc_secret-credential", RetryWaitMin: time.Millisecond, RetryWaitMax: 2 * time.Millisecond} //nolint:gosec // G101: a fake credential for a local test server
	for _, m := range mod {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNew_refusesPlainHTTPOffLoopbackUnlessAllowed(t *testing.T) {
	cases := []struct {
		endpoint string
		insecure bool
		wantErr  string
	}{
		{"https://tokens.example.com", false, ""},
		{"http://127.0.0.1:8790", false, ""},
		{"http://localhost:8790", false, ""},
		{"http://[::1]:8790", false, ""},
		{"http://tokens.example.com", false, "plain http on a non-loopback host"},
		{"http://10.0.0.5:8790", false, "plain http on a non-loopback host"},
		{"http://tokens.example.com", true, ""},
		{"ftp://tokens.example.com", false, "scheme \"ftp\" is not supported"},
		{"https://user:pw@tokens.example.com", false, "must not hold credentials"},
		{"tokens.example.com", false, "not an absolute URL"},
		{"", false, "endpoint is required"},
	}
	for _, tc := range cases {
		_, err := New(Config{Endpoint: tc.endpoint, InsecureHTTP: tc.insecure})
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("New(%q) = %v, want success", tc.endpoint, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("New(%q) = %v, want error containing %q", tc.endpoint, err, tc.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "pw@") {
			t.Errorf("error for %q echoes the password", tc.endpoint)
		}
	}
}

func TestCreateToken_retriesOn5xxAnd429WithTheSameGeneratedIdempotencyKey(t *testing.T) {
	var mu sync.Mutex
	var keys, auths []string
	answers := []int{503, 429, 502, 201}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n := len(keys)
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		body, _ := io.ReadAll(r.Body)
		if !bytes.Contains(body, []byte(`"name":"n1"`)) {
			t.Errorf("attempt %d body = %s: the body was not resent", n+1, body)
		}
		w.WriteHeader(answers[n])
		if answers[n] == 201 {
			_, _ = w.Write([]byte(`{"id":"tok_1","secret":"tg_live_x","data_categories":[]}`))
		}
	}))
	defer srv.Close()
	tok, err := fastClient(t, srv.URL).CreateToken(context.Background(), wire.CreateTokenRequest{Name: "n1", DataCategories: []string{}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if tok.ID != "tok_1" || tok.Secret != "tg_live_x" {
		t.Fatalf("token = %+v", tok)
	}
	if len(keys) != 4 {
		t.Fatalf("%d attempts, want 4", len(keys))
	}
	for i, k := range keys {
		if k == "" || k != keys[0] {
			t.Fatalf("attempt %d Idempotency-Key %q differs from the first %q", i+1, k, keys[0])
		}
		if auths[i] != "Bearer tgc_secret-credential" {
			t.Fatalf("attempt %d Authorization = %q", i+1, auths[i])
		}
	}
	// A second call generates a new key; a caller's key is sent as given.
	keys = nil
	answers = []int{201, 201}
	c := fastClient(t, srv.URL)
	_, _ = c.CreateToken(context.Background(), wire.CreateTokenRequest{Name: "n1"}, "")
	_, _ = c.CreateToken(context.Background(), wire.CreateTokenRequest{Name: "n1"}, "caller-key")
	if keys[1] != "caller-key" || keys[0] == "" || keys[0] == "caller-key" {
		t.Fatalf("keys = %q", keys)
	}
}

func TestErrors_notFoundAndResponseErrorWithoutRetryingClientErrors(t *testing.T) {
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		switch r.URL.Path {
		case "/v1/tokens/tok_missing":
			w.WriteHeader(404)
			_, _ = w.Write([]byte(`{"error":{"code":"not_found","message":"token not found"}}`))
		case "/v1/tokens/tok_bad/renew":
			w.WriteHeader(422)
			_, _ = w.Write([]byte(`{"error":{"code":"reviewer_is_owner","message":"m","field":"reviewed_by"}}`))
		default:
			w.WriteHeader(503)
			_, _ = w.Write([]byte(`{"error":{"code":"not_ready","message":"the database does not answer"}}`))
		}
	}))
	defer srv.Close()
	c := fastClient(t, srv.URL, func(cfg *Config) { cfg.RetryMax = 2 })
	ctx := context.Background()

	_, err := c.GetToken(ctx, "tok_missing")
	if !errors.Is(err, ErrNotFound) || calls != 1 {
		t.Fatalf("GetToken missing = %v after %d calls; want ErrNotFound after 1", err, calls)
	}
	calls = 0
	_, err = c.RenewToken(ctx, "tok_bad", wire.RenewRequest{}, "")
	var re *ResponseError
	if !errors.As(err, &re) || re.StatusCode != 422 || re.Code != "reviewer_is_owner" || re.Field != "reviewed_by" || calls != 1 {
		t.Fatalf("RenewToken = %#v after %d calls", err, calls)
	}
	if errors.Is(err, ErrNotFound) {
		t.Fatal("a 422 matches ErrNotFound")
	}
	calls = 0
	err = c.Ready(ctx)
	if !errors.As(err, &re) || re.StatusCode != 503 || re.Code != "not_ready" || calls != 3 {
		t.Fatalf("Ready = %v after %d calls; want the last 503 after 1 try + 2 retries", err, calls)
	}
}

func TestLogger_neverSeesCredentialQueryOrSecrets(t *testing.T) {
	var n int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n++
		if n == 1 {
			w.WriteHeader(500)
			return
		}
		_, _ = w.Write([]byte(`{"tokens":[]}`))
	}))
	defer srv.Close()
	var logs bytes.Buffer
	c := fastClient(t, srv.URL, func(cfg *Config) {
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	if _, err := c.ListTokens(context.Background(), wire.ListTokensOptions{Subject: "customer:4411"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "retrying request") {
		t.Fatalf("expected a retry log line, got %q", logs.String())
	}
	for _, leak := range []string{"tgc_secret-credential", "customer", "4411", "Bearer"} {
		if strings.Contains(logs.String(), leak) {
			t.Fatalf("log contains %q:\n%s", leak, logs.String())
		}
	}
}

func TestCACertPEM_trustsTheGivenCAOnly(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	}))
	defer srv.Close()
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	if err := fastClient(t, srv.URL, func(c *Config) { c.CACertPEM = caPEM }).Ready(context.Background()); err != nil {
		t.Fatalf("with the CA: %v", err)
	}
	err := fastClient(t, srv.URL).Ready(context.Background())
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without the CA = %v, want a certificate error", err)
	}
	if _, err := New(Config{Endpoint: srv.URL, CACertPEM: "not pem"}); err == nil {
		t.Fatal("New accepted a CA PEM without certificates")
	}
}

func TestConnectionErrors_doNotEchoTheQuery(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens any more
	c := fastClient(t, url, func(cfg *Config) { cfg.RetryMax = 1 })
	_, err := c.ListTokens(context.Background(), wire.ListTokensOptions{Subject: "customer:4411"})
	if err == nil {
		t.Fatal("ListTokens against a closed port succeeded")
	}
	if strings.Contains(err.Error(), "4411") || !strings.Contains(err.Error(), "/v1/tokens") {
		t.Fatalf("error = %q: want the path without the query", err)
	}
}

// TestConcurrentRequests_reuseTheirConnections sends rounds of 10 requests that the server
// holds until all 10 have arrived (Terraform's default parallelism), so each round needs 10
// connections at once. The default client keeps them for the next round: with cleanhttp's
// default of GOMAXPROCS+1 idle connections per host, a 2-core machine opened 7 new
// connections per round (38 over 5 rounds).
func TestConcurrentRequests_reuseTheirConnections(t *testing.T) {
	const parallel, rounds = 10, 5
	var mu sync.Mutex
	opened, arrived := 0, 0
	release := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrived++
		if arrived == parallel {
			close(release)
		}
		wait := release
		mu.Unlock()
		select {
		case <-wait:
		case <-r.Context().Done():
			return
		}
		_, _ = w.Write([]byte(`{"id":"tok_1","data_categories":[]}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			opened++
			mu.Unlock()
		}
	}
	srv.Start()
	defer srv.Close()
	c := fastClient(t, srv.URL)
	for round := range rounds {
		mu.Lock()
		arrived, release = 0, make(chan struct{})
		mu.Unlock()
		var wg sync.WaitGroup
		errs := make(chan error, parallel)
		for range parallel {
			wg.Go(func() {
				if _, err := c.GetToken(context.Background(), "tok_1"); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: %v", round+1, err)
		}
	}
	// 10 connections for the first round; the later rounds reuse them. A connection that a
	// round takes before the previous round's answer has handed it back is new, so allow a
	// few, far below the 7 per round of a pool of 3.
	mu.Lock()
	defer mu.Unlock()
	if opened < parallel || opened > 2*parallel {
		t.Fatalf("%d connections opened for %d rounds of %d concurrent requests, want %d to %d", opened, rounds, parallel, parallel, 2*parallel)
	}
	tr, ok := c.http.HTTPClient.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("transport is %T, want *http.Transport", c.http.HTTPClient.Transport)
	}
	if tr.MaxIdleConnsPerHost != maxIdleConnsPerHost {
		t.Fatalf("transport keeps %d idle connections per host, want %d", tr.MaxIdleConnsPerHost, maxIdleConnsPerHost)
	}
}
