package server_test

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
)

// doFrom sends a request with credential and the given X-Forwarded-For values.
func doFrom(t *testing.T, method, url, credential, body string, xff ...string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+credential)
	for _, v := range xff {
		req.Header.Add("X-Forwarded-For", v)
	}
	status, _ := send(t, req)
	return status
}

// TestAuthRateLimit_validCredentialsAreNeverRefusedAndTrustedProxiesNameTheSource proves issue
// 13, point 5: a source over its failure limit still gets every request with a valid
// credential answered (management and introspection), while its failures get 429; behind a
// trusted proxy (Config.TrustedProxies, serve --trusted-proxy) the source is the rightmost
// X-Forwarded-For address that is not a trusted proxy, so clients behind one balancer do not
// share a bucket and a client cannot pick its bucket by prepending addresses; without a
// trusted proxy the header is ignored.
func TestAuthRateLimit_validCredentialsAreNeverRefusedAndTrustedProxiesNameTheSource(t *testing.T) {
	const wrong = "tgc_wrong-wrong-wrong-wrong-wrong-wrong-wrong"
	clock := servertest.NewClock(t0)
	svc := servertest.Start(t, servertest.Options{Now: clock.Now, AuthFailuresPerMinute: 3,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")}})
	_, icSecret := introspector(t, svc)
	tokens, intro := svc.URL+"/v1/tokens", svc.URL+"/v1/introspect"
	cases := 0
	want := func(what string, got, status int) {
		t.Helper()
		cases++
		if got != status {
			t.Fatalf("%s = %d, want %d", what, got, status)
		}
	}
	// Client 203.0.113.7 behind the balancer 10.1.1.1 (and the loopback peer) fails 3 times.
	for range 3 {
		want("failure from 203.0.113.7", doFrom(t, "GET", tokens, wrong, "", "203.0.113.7, 10.1.1.1"), 401)
	}
	want("4th failure from 203.0.113.7", doFrom(t, "GET", tokens, wrong, "", "203.0.113.7, 10.1.1.1"), 429)
	for range 20 {
		want("admin from the limited source", doFrom(t, "GET", tokens, svc.AdminToken, "", "203.0.113.7, 10.1.1.1"), 200)
		want("introspection from the limited source", doFrom(t, "POST", intro, icSecret, `{"token":"tg_live_x"}`, "203.0.113.7, 10.1.1.1"), 200)
	}
	want("failure from the limited source", doFrom(t, "GET", tokens, wrong, "", "203.0.113.7, 10.1.1.1"), 429)
	want("failure from the limited source at introspection", doFrom(t, "POST", intro, wrong, `{"token":"tg_live_x"}`, "203.0.113.7"), 429)
	// Another client behind the same balancer has its own bucket.
	want("failure from 198.51.100.2", doFrom(t, "GET", tokens, wrong, "", "198.51.100.2, 10.1.1.1"), 401)
	// Prepending addresses does not move the limited client to another bucket: the balancer
	// appended the address it saw, the rightmost untrusted one.
	want("spoofed prefix", doFrom(t, "GET", tokens, wrong, "", "192.0.2.99, 203.0.113.7, 10.1.1.1"), 429)
	want("spoofed second header", doFrom(t, "GET", tokens, wrong, "", "192.0.2.99", "203.0.113.7"), 429)
	want("IPv4-mapped form of the limited client", doFrom(t, "GET", tokens, wrong, "", "::ffff:203.0.113.7"), 429)

	// Without trusted proxies the header is ignored: every failure counts for the peer.
	plain := servertest.Start(t, servertest.Options{Now: clock.Now, AuthFailuresPerMinute: 3})
	for _, ip := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"} {
		want("untrusted header failure "+ip, doFrom(t, "GET", plain.URL+"/v1/tokens", wrong, "", ip), 401)
	}
	want("4th failure with yet another forged address", doFrom(t, "GET", plain.URL+"/v1/tokens", wrong, "", "192.0.2.4"), 429)
	want("valid credential from the limited peer", doFrom(t, "GET", plain.URL+"/v1/tokens", plain.AdminToken, ""), 200)
	t.Logf("limiter: %d requests checked", cases)
}
