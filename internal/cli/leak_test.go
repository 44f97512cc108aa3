package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// leakAdminToken is the admin credential of the leak scan's service.
const leakAdminToken = "tgc_leak-scan-admin-credential-0123456789abcdef" //nolint:gosec // G101: the admin credential of the test's own throwaway service

// leakConfig is the Terraform configuration of the leak scan: one token bound to a data
// subject, rotated by its trigger and renewed by raising ttl with a renewal block.
const leakConfig = `terraform {
  required_providers {
    tokenguard = { source = "tokenguard/tokenguard" }
  }
}

# endpoint and token come from TOKENGUARD_ENDPOINT and TOKENGUARD_TOKEN.
provider "tokenguard" {}

variable "release" { default = "r1" }
variable "ttl" { default = "30d" }
variable "renew" { default = false }

resource "tokenguard_api_token" "leak" {
  name              = "leak-scan"
  owner             = "team-leak@example.com"
  purpose           = "Nightly export of invoice totals to the finance data warehouse"
  scopes            = ["invoices:read"]
  data_categories   = ["commercial", "identifiers"]
  data_subjects     = ["customer:4411"]
  audiences         = ["warehouse"]
  ttl               = var.ttl
  rotation          = { interval = "14d", overlap = "1h" }
  rotation_triggers = { release = var.release }
  renewal = var.renew ? {
    reason      = "Quarter-end close needs the export for two more months"
    reviewed_by = "security@example.com"
  } : null
}
`

// leakServe is a "tokenguard serve --log-level debug" process whose every output line goes
// to a log file.
type leakServe struct {
	cmd    *exec.Cmd
	url    string
	exited chan struct{}
}

func startLeakServe(t *testing.T, bin, db, key, logPath string) *leakServe {
	t.Helper()
	logFile, err := os.Create(logPath) //nolint:gosec // the test's own file
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = logFile.Close() })
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--db", db, "--key-file", key, "--env", "leak", //nolint:gosec // the binary this test built
		"--log-level", "debug", "--auth-failures-per-minute", "-1")
	cmd.Env = append(os.Environ(), "TOKENGUARD_ADMIN_TOKEN="+leakAdminToken)
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &leakServe{cmd: cmd, exited: make(chan struct{})}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			_, _ = fmt.Fprintln(logFile, sc.Text())
			if u, ok := strings.CutPrefix(sc.Text(), "tokenguard: listening on "); ok {
				urls <- strings.TrimSpace(u)
			}
		}
	}()
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(p.stop)
	select {
	case p.url = <-urls:
	case <-p.exited:
		t.Fatalf("serve exited before listening: %v", cmd.ProcessState)
	case <-time.After(time.Minute): // a hang guard, not a timing assertion
		t.Fatal("serve did not print its address")
	}
	c, err := client.New(client.Config{Endpoint: p.url, Token: leakAdminToken, RetryMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for c.Ready(context.Background()) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("serve at %s not ready", p.url)
		}
		runtime.Gosched()
	}
	return p
}

// stop interrupts serve (a clean shutdown, as an operator would) and waits for it.
func (p *leakServe) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(time.Minute): // a hang guard
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// leakScan collects the places to search and the secrets to search for.
type leakScan struct {
	t       *testing.T
	places  map[string][]byte // where → content
	secrets map[string]string // secret → where it was issued
}

func (s *leakScan) place(name string, content []byte) {
	if _, dup := s.places[name]; dup {
		s.t.Fatalf("place %q recorded twice", name)
	}
	s.places[name] = append([]byte(nil), content...)
}

func (s *leakScan) placeFile(name, path string) {
	b, err := os.ReadFile(path) //nolint:gosec // the test's own files
	if err != nil {
		if os.IsNotExist(err) {
			return // -wal and -shm exist only while the database is open
		}
		s.t.Fatal(err)
	}
	s.place(name, b)
}

func (s *leakScan) secret(value, issuedBy string) {
	if !strings.HasPrefix(value, "tg_leak_") {
		s.t.Fatalf("%s: %q is not a secret of the leak environment", issuedBy, value)
	}
	if _, dup := s.secrets[value]; !dup {
		s.secrets[value] = issuedBy
	}
}

// cli runs the CLI in-process, records its output as a place and returns its stdout.
func (s *leakScan) cli(name, stdin string, wantCode int, args ...string) string {
	s.t.Helper()
	code, stdout, stderr := runCLI(s.t, stdin, args...)
	if code != wantCode {
		s.t.Fatalf("tokenguard %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, wantCode, stdout, stderr)
	}
	s.place(name, []byte(stdout+stderr))
	return stdout
}

// stateSecret reads the secret of tokenguard_api_token.leak from the state file.
func stateSecret(t *testing.T, state []byte) string {
	t.Helper()
	var st struct {
		Resources []struct {
			Type      string `json:"type"`
			Instances []struct {
				Attributes map[string]any `json:"attributes"`
			} `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(state, &st); err != nil {
		t.Fatalf("terraform.tfstate: %v", err)
	}
	for _, r := range st.Resources {
		if r.Type == "tokenguard_api_token" && len(r.Instances) == 1 {
			if s, ok := r.Instances[0].Attributes["secret"].(string); ok {
				return s
			}
		}
	}
	t.Fatal("terraform.tfstate holds no tokenguard_api_token secret")
	return ""
}

// TestAccLeakScan_noSecretInDatabaseLogsAuditOrOutputsAfterAFullLifecycle is issue 8, item 3.
// A token goes through its whole life with the real Terraform (TF_LOG=trace) and the real
// service process (--log-level debug): create, rotate (trigger change), renew (ttl raised with
// a renewal block); a second token is created and rotated with the CLI; every secret is
// introspected; tokenguard check runs in every format on a plan that holds the secret in an
// output; inventory, the rotation report in every format, audit verify and the audit export
// run; the data subject is erased, which revokes both tokens. Then every secret issued (all
// versions) is searched for in the database files, the service log, the audit export, every
// CLI and checker output and the Terraform trace log: zero hits. As positive controls each
// secret must be found where it legitimately is (the state file, the plan, the one-time
// create/rotate output). The admin credential, given through the environment, must appear
// nowhere, the state files and the plan included.
func TestAccLeakScan_noSecretInDatabaseLogsAuditOrOutputsAfterAFullLifecycle(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1 to run it with the terraform CLI on PATH (it builds the provider and the CLI)")
	}
	ctx := context.Background()
	bin := tokenguardBinary(t)
	dir := t.TempDir()
	db, key, serveLog, traceLog := filepath.Join(dir, "tokens.db"), filepath.Join(dir, "tokens.key"), filepath.Join(dir, "serve.log"), filepath.Join(dir, "terraform-trace.log")
	svc := startLeakServe(t, bin, db, key, serveLog)
	s := &leakScan{t: t, places: map[string][]byte{}, secrets: map[string]string{}}
	legit := map[string][]byte{} // where secrets belong → content

	tf := newRealTerraform(t, &servertest.Service{URL: svc.url, AdminToken: leakAdminToken})
	tf.env = append(tf.env, "TF_LOG=trace", "TF_LOG_PATH="+traceLog)
	tf = tf.in(map[string]string{"main.tf": leakConfig})
	tf.setenv() // the in-process CLI (inventory --dir) runs terraform show with the same settings
	statePath := filepath.Join(tf.dir, "terraform.tfstate")
	apply := func(step string, vars ...string) string {
		tf.run(append([]string{"apply", "-input=false", "-no-color", "-auto-approve"}, vars...)...)
		state, err := os.ReadFile(statePath) //nolint:gosec // the test's state file
		if err != nil {
			t.Fatal(err)
		}
		legit["terraform.tfstate after "+step] = state
		secret := stateSecret(t, state)
		s.secret(secret, "terraform "+step)
		return secret
	}
	created := apply("create")
	rotated := apply("rotate", "-var", "release=r2")
	renewed := apply("renew", "-var", "release=r2", "-var", "ttl=60d", "-var", "renew=true")
	if created == rotated {
		t.Fatal("the trigger change did not rotate the secret")
	}
	if renewed != rotated {
		t.Fatal("the renewal changed the secret; it should only move the expiry")
	}
	admin, err := client.New(client.Config{Endpoint: svc.url, Token: leakAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	toks, err := admin.ListTokens(ctx, wire.ListTokensOptions{Owner: "team-leak@example.com"})
	if err != nil || len(toks.Tokens) != 1 || toks.Tokens[0].SecretVersion != 2 {
		t.Fatalf("after create, rotate and renew: %+v, %v; want one token at secret version 2", toks, err)
	}
	tfID := toks.Tokens[0].ID

	// The CLI: a second token, created and rotated; both answers reveal a secret once.
	t.Setenv("TOKENGUARD_ENDPOINT", svc.url)
	t.Setenv("TOKENGUARD_TOKEN", leakAdminToken)
	t.Setenv("TOKENGUARD_KEY_FILE", key) // audit verify and the rotation report check the chain's HMACs with it
	var cliTok wire.Token
	out := runOK(t, "token", "create", "--name", "leak-scan-cli", "--owner", "team-leak@example.com",
		"--purpose", "Nightly export of invoice totals to the finance data warehouse", "--scope", "invoices:read",
		"--data-category", "commercial", "--subject", "customer:4411", "--audience", "warehouse", "--ttl", "30d",
		"--rotation-interval", "14d", "--rotation-overlap", "1h", "--json")
	legit["token create --json"] = []byte(out)
	if err := json.Unmarshal([]byte(out), &cliTok); err != nil {
		t.Fatalf("token create --json: %v\n%s", err, out)
	}
	s.secret(cliTok.Secret, "tokenguard token create")
	out = runOK(t, "token", "rotate", cliTok.ID, "--json")
	legit["token rotate --json"] = []byte(out)
	var cliRotated wire.Token
	if err := json.Unmarshal([]byte(out), &cliRotated); err != nil {
		t.Fatalf("token rotate --json: %v\n%s", err, out)
	}
	s.secret(cliRotated.Secret, "tokenguard token rotate")

	// Every secret introspected while it works (the first CLI secret is in its overlap).
	for secret, issued := range s.secrets {
		s.cli("token introspect of the secret from "+issued, secret+"\n", ExitOK, "token", "introspect")
	}
	s.cli("token show (Terraform's token)", "", ExitOK, "token", "show", tfID, "--json")
	s.cli("token list --json", "", ExitOK, "token", "list", "--json", "--all")

	// A plan that holds the current secret: a non-sensitive output of it (CPRA-SEC-001).
	if err := os.WriteFile(filepath.Join(tf.dir, "outputs.tf"), []byte("output \"leak\" {\n  value = nonsensitive(tokenguard_api_token.leak.secret)\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	planPath := tf.planJSON("-var", "release=r2", "-var", "ttl=60d", "-var", "renew=true")
	plan, err := os.ReadFile(planPath) //nolint:gosec // the plan this test wrote
	if err != nil {
		t.Fatal(err)
	}
	legit["plan.json"] = plan
	for _, format := range []string{"text", "json", "sarif", "junit", "github", "markdown"} {
		out := s.cli("check --format "+format, "", ExitFindings, "check", "--format", format, "--config-dir", tf.dir, planPath)
		if !strings.Contains(out, "CPRA-SEC-001") {
			t.Fatalf("check --format %s did not report the secret output (CPRA-SEC-001):\n%s", format, out)
		}
	}
	reportFile := filepath.Join(dir, "check.sarif")
	s.cli("check --output", "", ExitFindings, "check", "--format", "sarif", "--output", reportFile, filepath.Join(tf.dir, "tfplan"))
	s.placeFile("check --output file (binary plan)", reportFile)

	s.cli("inventory --json", "", ExitOK, "inventory", "--json", "--dir", tf.dir)
	for _, format := range []string{"markdown", "json", "html"} {
		s.cli("report rotation --format "+format, "", ExitOK, "report", "rotation", "--format", format)
	}
	s.cli("audit verify", "", ExitOK, "audit", "verify")

	// Erasure: the subject's deletion request revokes both tokens.
	out = s.cli("erase --subject", "", ExitOK, "erase", "--subject", "customer:4411", "--reference", "LEAK-1", "--json")
	if !strings.Contains(out, tfID) || !strings.Contains(out, cliTok.ID) {
		t.Fatalf("erase did not revoke both tokens:\n%s", out)
	}
	s.cli("erase --export", "", ExitOK, "erase", "--export", filepath.Join(dir, "erased.json"))
	s.placeFile("erase --export file", filepath.Join(dir, "erased.json"))
	for secret, issued := range s.secrets {
		s.cli("token introspect after erase of the secret from "+issued, secret+"\n", ExitFindings, "token", "introspect")
	}
	s.cli("audit verify after erase", "", ExitOK, "audit", "verify")

	// The audit export, raw, every page.
	var export bytes.Buffer
	records := 0
	for after := int64(0); ; {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/v1/audit?after=%d&limit=500", svc.url, after), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+leakAdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /v1/audit: %d %v\n%s", resp.StatusCode, err, body)
		}
		export.Write(body)
		var page wire.AuditPage
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		records += len(page.Records)
		if len(page.Records) == 0 {
			break
		}
		after = page.Records[len(page.Records)-1].Seq
	}
	if records < 10 {
		t.Fatalf("the audit export holds %d records; the lifecycle made more", records)
	}
	s.place("GET /v1/audit", export.Bytes())

	// The database files while the service runs, then after a clean shutdown.
	for _, suffix := range []string{"", "-wal", "-shm"} {
		s.placeFile("database"+suffix+" (running)", db+suffix)
	}
	svc.stop()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		s.placeFile("database"+suffix+" (stopped)", db+suffix)
	}
	s.cli("audit verify --db", "", ExitOK, "audit", "verify", "--db", db)
	s.placeFile("service log (debug)", serveLog)
	s.placeFile("terraform trace log", traceLog)

	// The scan.
	if len(s.secrets) != 4 {
		t.Fatalf("%d distinct secrets issued, want 4 (Terraform create and rotate, CLI create and rotate)", len(s.secrets))
	}
	for _, want := range []string{"service log (debug)", "terraform trace log", "database (stopped)", "GET /v1/audit"} {
		if len(s.places[want]) == 0 {
			t.Fatalf("%s is empty: the scan would prove nothing", want)
		}
	}
	// The service logs one record per request (it has no debug-only records yet): the log
	// must show the requests that carried secrets in or out.
	requests := bytes.Count(s.places["service log (debug)"], []byte(`"msg":"request"`))
	for _, route := range []string{`POST /v1/tokens"`, `POST /v1/tokens/{id}/rotate"`, `POST /v1/introspect"`, `POST /v1/tokens/{id}/renew"`} {
		if !bytes.Contains(s.places["service log (debug)"], []byte(route)) {
			t.Fatalf("the service log records no %s request (%d request records): the scan would miss that path", strings.TrimSuffix(route, `"`), requests)
		}
	}
	// Positive controls: each secret is found where it legitimately is.
	controls := map[string]string{created: "terraform.tfstate after create", rotated: "terraform.tfstate after renew",
		cliTok.Secret: "token create --json", cliRotated.Secret: "token rotate --json"}
	for secret, where := range controls {
		if !bytes.Contains(legit[where], []byte(secret)) {
			t.Errorf("positive control: the secret issued by %s is not in %s", s.secrets[secret], where)
		}
	}
	if !bytes.Contains(plan, []byte(rotated)) {
		t.Error("positive control: the plan does not hold the current secret, so check was not given one")
	}
	names := make([]string, 0, len(s.places))
	size := 0
	for name, content := range s.places {
		names = append(names, name)
		size += len(content)
	}
	sort.Strings(names)
	hits := 0
	for secret, issued := range s.secrets {
		// The whole secret, and its random part alone (what a truncated or re-encoded copy keeps).
		random := secret[strings.LastIndex(secret, "_")+1:]
		for _, name := range names {
			for _, needle := range []string{secret, random} {
				if n := bytes.Count(s.places[name], []byte(needle)); n > 0 {
					hits += n
					t.Errorf("the secret issued by %s appears %d times in %s", issued, n, name)
				}
			}
		}
	}
	// The admin credential (given to Terraform and the CLI through the environment) must not
	// reach any place either, nor the state files and the plan.
	credentialPlaces := append([]string(nil), names...)
	for where, content := range legit {
		if where != "token create --json" && where != "token rotate --json" {
			credentialPlaces = append(credentialPlaces, where)
			s.places[where] = content
		}
	}
	for _, name := range credentialPlaces {
		if n := bytes.Count(s.places[name], []byte(leakAdminToken)); n > 0 {
			hits += n
			t.Errorf("the admin credential appears %d times in %s", n, name)
		}
	}
	t.Logf("leak scan: %d secrets × %d places (%d bytes; %d service request records, %d audit records), admin credential × %d places: %d hits",
		len(s.secrets), len(names), size, requests, records, len(credentialPlaces), hits)
}

// runOK runs the CLI in-process and fails the test unless it exits 0.
func runOK(t *testing.T, args ...string) string {
	t.Helper()
	code, stdout, stderr := runCLI(t, "", args...)
	if code != ExitOK {
		t.Fatalf("tokenguard %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout, stderr)
	}
	return stdout
}
