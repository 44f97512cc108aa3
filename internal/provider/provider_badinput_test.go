package provider

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// badInputOwner owns the token of every bad-configuration case; none may be created.
const badInputOwner = "team-bad-input@example.com"

// badInputResource is a compliant token: with a usable provider configuration it would be
// created, so its absence afterwards shows that the refused configuration wrote nothing.
const badInputResource = `
resource "tokenguard_api_token" "test" {
  name            = "bad-input-probe"
  owner           = "` + badInputOwner + `"
  purpose         = "Nightly export of invoice totals to the finance data warehouse"
  scopes          = ["invoices:read"]
  data_categories = ["commercial"]
  audiences       = ["warehouse"]
  ttl             = "30d"
  rotation        = { interval = "14d" }
}
`

// refusedPort returns a loopback address on which nothing listens.
func refusedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestAccProvider_badConfigurationCatalogueFailsWithAClearDiagnosticAndWritesNothing is the
// provider-configuration part of the bad-input catalogue (issue 8, item 4). Each case is a
// plan or apply of one compliant token with one thing wrong in the provider block; each must
// fail with an error diagnostic that names the problem, and the service must hold no token
// afterwards.
func TestAccProvider_badConfigurationCatalogueFailsWithAClearDiagnosticAndWritesNothing(t *testing.T) {
	ts := newTestService(t)
	t.Setenv(envEndpoint, "") // the provider runs in this process: no fallback from the environment
	t.Setenv(envToken, "")
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "data.json")
	if err := os.WriteFile(notJSON, []byte("{\"tokenguard\": {\"thresholds\": "), 0o600); err != nil {
		t.Fatal(err)
	}
	notYAML := filepath.Join(dir, "data.yaml")
	if err := os.WriteFile(notYAML, []byte("\x00\x01 binary"), 0o600); err != nil {
		t.Fatal(err)
	}
	badRego := filepath.Join(dir, "policies")
	if err := os.Mkdir(badRego, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(badRego, "broken.rego"), []byte("package extra\n\ndeny contains msg if {\n  msg := \n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badWaivers := filepath.Join(dir, "waivers.yaml")
	if err := os.WriteFile(badWaivers, []byte("waivers:\n  - rule: CPRA-MIN-001\n    colour: blue\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	unreachable := "http://" + refusedPort(t)
	provider := func(attrs string) string { return "provider \"tokenguard\" {\n" + attrs + "\n}\n" + badInputResource }
	withService := func(extra string) string {
		return provider(fmt.Sprintf("  endpoint = %q\n  token = %q\n%s", ts.URL, ts.Admin, extra))
	}
	cases := []struct {
		name, config, want string
	}{
		{"no endpoint anywhere", provider(`  token = "tgc_x"`), `Missing Token Service Endpoint[\s\S]*TOKENGUARD_ENDPOINT`},
		{"empty endpoint", provider(`  endpoint = ""` + "\n" + `  token = "tgc_x"`), `Missing Token Service Endpoint`},
		{"no credential anywhere", provider(fmt.Sprintf("  endpoint = %q", ts.URL)), `Missing Token Service Credential[\s\S]*TOKENGUARD_TOKEN`},
		{"endpoint not a URL", provider(`  endpoint = "tokens.example.com"` + "\n" + `  token = "tgc_x"`), `Invalid Token Service Endpoint[\s\S]*"tokens.example.com" is not an absolute\s+URL`},
		{"endpoint with spaces", provider(`  endpoint = "https://tokens example.com"` + "\n" + `  token = "tgc_x"`), `Invalid Token Service Endpoint[\s\S]*is not an\s+absolute\s+URL`},
		{"endpoint scheme ftp", provider(`  endpoint = "ftp://tokens.example.com"` + "\n" + `  token = "tgc_x"`), `Invalid Token Service Endpoint[\s\S]*has\s+scheme\s+"ftp"`},
		{"plain http to a non-loopback host", provider(`  endpoint = "http://10.1.2.3:8790"` + "\n" + `  token = "tgc_x"`), `Invalid Token Service Endpoint[\s\S]*plain\s+HTTP\s+on\s+a\s+non-loopback\s+host`},
		{"ca_cert_pem not PEM", provider(fmt.Sprintf("  endpoint = %q\n  token = \"tgc_x\"\n  ca_cert_pem = \"not a certificate\"", "https://127.0.0.1:1")), `Unable To Create Token Service Client[\s\S]*CA\s+certificate\s+PEM\s+holds\s+no\s+certificate`},
		{"ca_cert_pem a broken certificate", provider(fmt.Sprintf("  endpoint = %q\n  token = \"tgc_x\"\n  ca_cert_pem = \"-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n\"", "https://127.0.0.1:1")), `Unable To Create Token Service Client[\s\S]*certificate`},
		{"wrong credential (401 at plan)", provider(fmt.Sprintf("  endpoint = %q\n  token = \"tgc_wrong_credential\"", ts.URL)), `Unable To Read Erased Data Subjects[\s\S]*HTTP 401 \(unauthenticated\): credential\s+not\s+recognised`},
		{"wrong credential, policy off (401 at apply)", provider(fmt.Sprintf("  endpoint = %q\n  token = \"tgc_wrong_credential\"\n  policy = { enforcement = \"off\" }", ts.URL)), `Unable To Create Token[\s\S]*HTTP 401\s+\(unauthenticated\): credential not recognised`},
		{"unreachable endpoint", provider(fmt.Sprintf("  endpoint = %q\n  token = \"tgc_x\"", unreachable)), `Unable To Read Erased Data Subjects[\s\S]*connect:\s+connection\s+refused[\s\S]*Check that the service is\s+reachable`},
		{"policy.enforcement unknown value", withService(`  policy = { enforcement = "strict" }`), `Invalid Attribute Value Match[\s\S]*enforcement[\s\S]*"strict"`},
		{"policy.paths missing directory", withService(fmt.Sprintf("  policy = { paths = [%q] }", filepath.Join(dir, "none"))), `Invalid Policy Configuration[\s\S]*no\s+such\s+file\s+or\s+directory`},
		{"policy.paths Rego syntax error", withService(fmt.Sprintf("  policy = { paths = [%q] }", badRego)), `Invalid Policy Configuration[\s\S]*broken.rego:5:\s+rego_parse_error`},
		{"policy.data_file not JSON", withService(fmt.Sprintf("  policy = { data_file = %q }", notJSON)), `Invalid Policy Configuration[\s\S]*not\s+valid\s+JSON`},
		{"policy.data_file not YAML", withService(fmt.Sprintf("  policy = { data_file = %q }", notYAML)), `Invalid Policy Configuration[\s\S]*not\s+valid\s+YAML`},
		{"policy.data_file missing", withService(fmt.Sprintf("  policy = { data_file = %q }", filepath.Join(dir, "none.json"))), `Invalid Policy Configuration[\s\S]*no\s+such\s+file`},
		{"policy.waivers_file unknown key", withService(fmt.Sprintf("  policy = { waivers_file = %q }", badWaivers)), `Invalid Policy Waivers[\s\S]*unknown\s+field\s+"colour"`},
		{"unknown provider attribute", withService(`  timeout = "5s"`), `Unsupported argument[\s\S]*timeout`},
	}
	steps := make([]resource.TestStep, 0, len(cases))
	for _, c := range cases {
		steps = append(steps, resource.TestStep{Config: c.config, ExpectError: regexp.MustCompile(c.want)})
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ts.factories(),
		Steps:                    steps,
	})
	var all []wire.Token
	if err := eachToken(context.Background(), ts.Client, wire.ListTokensOptions{}, func(tok wire.Token) bool {
		all = append(all, tok)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(all) != 0 {
		t.Errorf("the service holds %d tokens after %d refused configurations, want none: %+v", len(all), len(cases), all)
	}
	t.Logf("provider configuration bad-input cases: %d", len(cases))
}
