package provider

import (
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// hangingEndpoint returns the URL of a loopback listener that accepts connections and never
// answers, as a wedged service or a black-holing proxy does.
func hangingEndpoint(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return // closed at cleanup
			}
			mu.Lock()
			conns = append(conns, c) // held open, never read or answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return "http://" + l.Addr().String()
}

// TestAccProvider_failuresSayWhatKindAndHowOften: a hanging endpoint fails within the
// configured request_timeout and retries (not after minutes), a service answering 503 is
// reported as transient with the number of attempts, and a refused credential is reported
// as an authentication failure naming TOKENGUARD_TOKEN.
func TestAccProvider_failuresSayWhatKindAndHowOften(t *testing.T) {
	ts := newTestService(t)
	t.Setenv(envEndpoint, "")
	t.Setenv(envToken, "")
	unavailable := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":{"code":"unavailable","message":"database is restarting"}}`))
	}))
	t.Cleanup(unavailable.Close)
	provider := func(attrs string) string { return "provider \"tokenguard\" {\n" + attrs + "\n}\n" + badInputResource }

	start := time.Now()
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ts.factories(),
		Steps: []resource.TestStep{{
			Config: provider(`  endpoint        = "` + hangingEndpoint(t) + `"
  token           = "tgc_x"
  request_timeout = "1s"
  retries         = 1`),
			ExpectError: regexp.MustCompile(`Transient\s+failure\s+reading\s+the\s+erased\s+data\s+subjects:\s+the\s+provider\s+got\s+no\s+answer\s+from\s+the\s+token\s+service\s+within\s+request_timeout\s+at\s+its\s+endpoint\s+on\s+each\s+of\s+2\s+attempts`),
		}},
	})
	// Two attempts of 1s and one back-off of at most 5s, plus Terraform's own start: far
	// below the 2m34s that the default settings take, which is the point.
	took := time.Since(start)
	if took > 45*time.Second {
		t.Errorf("a hanging endpoint with request_timeout 1s and 1 retry took %s to fail", took)
	}
	t.Logf("a hanging endpoint with request_timeout 1s and 1 retry failed the plan after %s", took.Round(time.Millisecond))

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ts.factories(),
		Steps: []resource.TestStep{
			{
				Config: provider(`  endpoint = "` + unavailable.URL + `"
  token    = "tgc_x"
  retries  = 2`),
				ExpectError: regexp.MustCompile(`Transient\s+failure[\s\S]*HTTP\s+503\s+\(unavailable\):\s+database\s+is\s+restarting\s+on\s+each\s+of\s+3\s+attempts[\s\S]*temporary`),
			},
			{
				Config: provider(`  endpoint = "` + unavailable.URL + `"
  token    = "tgc_x"
  retries  = 0
  policy   = { enforcement = "off" }`),
				ExpectError: regexp.MustCompile(`Unable To Create Token[\s\S]*Transient\s+failure\s+creating\s+token[\s\S]*on\s+each\s+of\s+1\s+attempt\.`),
			},
			{
				Config:      provider(`  endpoint = "` + ts.URL + `"` + "\n" + `  token = "tgc_wrong_credential"`),
				ExpectError: regexp.MustCompile(`HTTP\s+401[\s\S]*authentication\s+failed\s+reading\s+the\s+erased\s+data\s+subjects[\s\S]*Set\s+TOKENGUARD_TOKEN`),
			},
			{
				Config:      provider(`  endpoint = "` + ts.URL + `"` + "\n" + `  token = "tgc_wrong_credential"` + "\n" + `  policy = { enforcement = "off" }`),
				ExpectError: regexp.MustCompile(`Unable To Create Token[\s\S]*HTTP\s+401[\s\S]*authentication\s+failed\s+creating\s+token[\s\S]*Set\s+TOKENGUARD_TOKEN`),
			},
		},
	})
	if n := len(ts.tokensOf(t, badInputOwner)); n != 0 {
		t.Errorf("failed configurations left %d tokens, want 0", n)
	}
}
