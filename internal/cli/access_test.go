package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// accessFixture starts a service with two tokens bound to customer:5150 (one shared with two
// other subjects, one renewed) and one bound to another subject; it returns the service, the
// two bound tokens and every secret minted.
func accessFixture(t *testing.T) (*servertest.Service, []wire.Token, []string) {
	t.Helper()
	ctx := context.Background()
	clock := servertest.NewClock(time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC))
	svc := servertest.Start(t, servertest.Options{Now: clock.Now})
	admin := svc.Client(t)
	mk := func(name string, subjects ...string) wire.Token {
		tok, err := admin.CreateToken(ctx, wire.CreateTokenRequest{
			Name: name, Owner: "team-orders@example.com", Purpose: "Reads the order history of customers for the support console",
			Scopes: []string{"orders:read"}, DataCategories: []string{"commercial"}, DataSubjects: subjects,
			Audiences: []string{"support-console"}, TTL: "30d", Rotation: &wire.Rotation{Interval: "7d", Overlap: "1h"},
		}, "")
		if err != nil {
			t.Fatalf("creating %s: %v", name, err)
		}
		return tok
	}
	a := mk("orders-console", "customer:5150")
	b := mk("shared-<script>|lookup", "customer:7001", "customer:5150", "customer:7002")
	other := mk("other-console", "customer:7001")
	clock.Advance(time.Hour)
	if _, err := admin.RenewToken(ctx, b.ID, wire.RenewRequest{TTL: "30d", Reason: "support contract renewed", ReviewedBy: "privacy-officer@example.com"}, ""); err != nil {
		t.Fatal(err)
	}
	return svc, []wire.Token{a, b}, []string{a.Secret, b.Secret, other.Secret, svc.AdminToken}
}

func TestAccess_answersInEveryFormatWithoutSecretsOrOtherSubjects(t *testing.T) {
	svc, bound, secrets := accessFixture(t)
	t.Setenv("TOKENGUARD_TOKEN", svc.AdminToken)
	dir := t.TempDir()
	outputs := map[string]string{}
	for _, format := range []string{"markdown", "json", "html"} {
		path := filepath.Join(dir, "answer."+format)
		code, stdout, stderr := run(t, "", "access", "--endpoint", svc.URL, "--subject", "customer:5150", "--format", format, "--output", path)
		if code != ExitOK || stdout != "" || !strings.Contains(stderr, "2 tokens") {
			t.Fatalf("access --format %s: exit %d, stdout %q, stderr %q", format, code, stdout, stderr)
		}
		info, err := os.Stat(path)
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Fatalf("answer file: %v, mode %v; want mode 0600 (it holds personal data)", err, info)
		}
		raw, _ := os.ReadFile(path) //nolint:gosec // the test's own file
		outputs[format] = string(raw)
	}
	var answer wire.AccessAnswer
	if err := json.Unmarshal([]byte(outputs["json"]), &answer); err != nil {
		t.Fatalf("json answer: %v", err)
	}
	if len(answer.Tokens) != 2 || answer.Tokens[0].ID > answer.Tokens[1].ID {
		t.Fatalf("json answer tokens = %+v, want the two bound tokens in id order", answer.Tokens)
	}
	for format, out := range outputs {
		for _, tok := range bound {
			if !strings.Contains(out, tok.ID) {
				t.Errorf("%s answer does not name token %s", format, tok.ID)
			}
		}
		for _, want := range []string{"support contract renewed", "privacy-officer@example.com", "support-console", "Reads the order history"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s answer does not hold %q", format, want)
			}
		}
		for _, leak := range append([]string{"customer:7001", "customer:7002", "other-console", "fingerprint", "<script>"}, secrets...) {
			if strings.Contains(out, leak) {
				t.Errorf("%s answer holds %q", format, leak)
			}
		}
	}
	if !strings.Contains(outputs["markdown"], "this subject and 2 other subjects") || !strings.Contains(outputs["html"], "this subject and 2 other subjects") {
		t.Error("the shared token does not say it is bound to 2 other subjects")
	}
	if !strings.Contains(outputs["html"], "shared-&lt;script&gt;|lookup") || !strings.Contains(outputs["markdown"], `shared-&lt;script&gt;\|lookup`) {
		t.Error("a token name with markup is not escaped in html and markdown")
	}
	// Standard output without --output.
	code, stdout, _ := run(t, "", "access", "--endpoint", svc.URL, "--subject", "customer:5150")
	if code != ExitOK || !strings.HasPrefix(stdout, "# Access request: customer:5150") {
		t.Errorf("access to stdout: exit %d, %q", code, stdout)
	}
}

func TestAccess_refusesBadUsage(t *testing.T) {
	svc := servertest.Start(t, servertest.Options{})
	t.Setenv("TOKENGUARD_TOKEN", svc.AdminToken)
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no subject", []string{"access", "--endpoint", svc.URL}, "give --subject"},
		{"blank subject", []string{"access", "--endpoint", svc.URL, "--subject", "  "}, "give --subject"},
		{"unknown format", []string{"access", "--endpoint", svc.URL, "--subject", "customer:1", "--format", "pdf"}, `--format "pdf"`},
		{"refused subject", []string{"access", "--endpoint", svc.URL, "--subject", "customer:\u202e1"}, "bidirectional"},
		{"output in a missing directory", []string{"access", "--endpoint", svc.URL, "--subject", "customer:1", "--output", filepath.Join(t.TempDir(), "no", "such.md")}, "--output"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := run(t, "", c.args...)
			if code != ExitUsage || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want exit %d naming %q", code, stderr, ExitUsage, c.want)
			}
		})
	}
}
