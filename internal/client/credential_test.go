package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

func TestRevokeCredential_postsToTheRevokeRouteAndDecodesTheCredential(t *testing.T) {
	var method, path, body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method, path = r.Method, r.URL.EscapedPath()
		b, _ := io.ReadAll(r.Body)
		body = string(b)
		if r.URL.EscapedPath() == "/v1/credentials/cred_missing/revoke" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":{"code":"not_found","message":"no such credential"}}`))
			return
		}
		_, _ = w.Write([]byte(`{"id":"cred_ab","name":"orders-api","rights":["introspect"],"created_at":"2030-01-02T03:04:05Z","revoked_at":"2030-01-02T04:04:05Z"}`))
	}))
	defer srv.Close()
	c := fastClient(t, srv.URL)
	got, err := c.RevokeCredential(context.Background(), "cred_ab")
	if err != nil {
		t.Fatal(err)
	}
	if method != http.MethodPost || path != "/v1/credentials/cred_ab/revoke" || body != "{}" {
		t.Errorf("request = %s %s %q, want POST /v1/credentials/cred_ab/revoke {}", method, path, body)
	}
	if got.ID != "cred_ab" || got.Name != "orders-api" || len(got.Rights) != 1 || got.Rights[0] != "introspect" || got.Secret != "" {
		t.Errorf("RevokeCredential = %+v", got)
	}
	if _, err := c.RevokeCredential(context.Background(), "cred_missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("RevokeCredential(unknown) = %v, want ErrNotFound", err)
	}
}

func TestRetry_tooManyFailedAttemptsFailsFastButOther429sAreRetried(t *testing.T) {
	cases := []struct {
		name         string
		body         string
		wantAttempts int64
		wantCode     string
	}{
		// The failed-login limit: retrying would only push Retry-After further out.
		{"failed-login limit", `{"error":{"code":"too_many_failed_attempts","message":"wait 20s (see Retry-After)"}}`, 1, "too_many_failed_attempts"},
		// Any other 429 is load shedding: retried up to RetryMax (3 here), then returned.
		{"other 429", `{"error":{"code":"rate_limited","message":"slow down"}}`, 4, "rate_limited"},
		{"429 without an API body", `busy`, 4, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var attempts atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				attempts.Add(1)
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c := fastClient(t, srv.URL, func(cfg *Config) { cfg.RetryMax = 3 })
			_, err := c.ListTokens(context.Background(), wire.ListTokensOptions{})
			var re *ResponseError
			if !errors.As(err, &re) || re.StatusCode != http.StatusTooManyRequests || re.Code != tc.wantCode {
				t.Fatalf("error = %v, want a 429 ResponseError with code %q", err, tc.wantCode)
			}
			if tc.wantCode == "too_many_failed_attempts" && re.Message != "wait 20s (see Retry-After)" {
				t.Errorf("message = %q, want the service's, which says when to retry", re.Message)
			}
			if n := attempts.Load(); n != tc.wantAttempts {
				t.Errorf("%d attempts, want %d", n, tc.wantAttempts)
			}
		})
	}
}
