package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/spf13/cobra"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/server"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// runSubcommand runs the command newCmd builds under a bare root, as cli.Run would once the
// command is registered there, and returns the exit code, stdout and stderr.
func runSubcommand(t *testing.T, newCmd func(*streams) *cobra.Command, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	s := &streams{in: strings.NewReader(""), out: &out, err: &errb}
	root := &cobra.Command{Use: "tokenguard", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(newCmd(s))
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errb)
	err := root.ExecuteContext(context.Background())
	var ee *exitError
	switch {
	case err == nil:
		return ExitOK, out.String(), errb.String()
	case errors.As(err, &ee):
		errb.WriteString(err.Error())
		return ee.code, out.String(), errb.String()
	default:
		errb.WriteString(err.Error())
		return ExitUsage, out.String(), errb.String()
	}
}

var invT0 = time.Date(2030, 3, 1, 8, 0, 0, 0, time.UTC)

// inventoryWorld is a service holding seven tokens, and a state fixture managing three of them.
type inventoryWorld struct {
	svc     *servertest.Service
	clock   *servertest.Clock
	ids     map[string]string // fixture key -> token id
	secrets map[string]string
	state   string // path of the state JSON with the ids filled in
}

const longPurpose = "reconcile nightly settlement files from the payment processor with the ledger"

func newInventoryWorld(t *testing.T) *inventoryWorld {
	t.Helper()
	w := &inventoryWorld{clock: servertest.NewClock(invT0), ids: map[string]string{}, secrets: map[string]string{}}
	// Some of the world's tokens have no rotation schedule; this test is about the inventory, not the policy gate.
	w.svc = servertest.Start(t, servertest.Options{Now: w.clock.Now, PolicyEnforcement: server.PolicyOff})
	c := w.svc.Client(t)
	for _, tk := range []struct{ key, name, owner, purpose string }{
		{"ORDERS_TEAM_ORDERS", "orders-sync", "team-orders", longPurpose},
		{"ORDERS_TEAM_B", "orders-sync", "team-b", "sync paid orders to the partner warehouse"},
		{"BILLING", "Billing Export (EU)!", "team-billing", "export invoices to the EU accounting system"},
		{"TWO_FA", "2fa-check", "team-security", "check second factors for the login service"},
		{"CI_DEPLOY", "ci-deploy", "team-platform", "deploy the storefront from the CI pipeline"},
		{"AUDIT_READER", "audit-reader", "team-security", "read the audit trail for the quarterly review"},
		{"REPORTING", "reporting", "team-bi", "build the weekly sales dashboard from orders"},
	} {
		tok, err := c.CreateToken(context.Background(), wire.CreateTokenRequest{
			Name: tk.name, Owner: tk.owner, Purpose: tk.purpose, Scopes: []string{"orders:read"},
			DataCategories: []string{"commercial", "identifiers"}, TTL: "60d",
		}, "")
		if err != nil {
			t.Fatalf("create %s: %v", tk.key, err)
		}
		w.ids[tk.key], w.secrets[tk.key] = tok.ID, tok.Secret
	}
	if _, err := c.RevokeToken(context.Background(), w.ids["REPORTING"]); err != nil {
		t.Fatal(err)
	}
	tmpl, err := os.ReadFile(filepath.Join("testdata", "inventory", "state.json.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	w.state = filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(w.state, []byte(w.fill(string(tmpl))), 0o600); err != nil { //nolint:gosec // G703: a path in the test's temporary directory
		t.Fatal(err)
	}
	t.Setenv("TOKENGUARD_ENDPOINT", w.svc.URL)
	t.Setenv("TOKENGUARD_TOKEN", w.svc.AdminToken)
	return w
}

// fill replaces @KEY@ placeholders with token ids.
func (w *inventoryWorld) fill(s string) string {
	for k, id := range w.ids {
		s = strings.ReplaceAll(s, "@"+k+"@", id)
	}
	return s
}

// unfill replaces token ids with @KEY@ placeholders.
func (w *inventoryWorld) unfill(s string) string {
	for k, id := range w.ids {
		s = strings.ReplaceAll(s, id, "@"+k+"@")
	}
	return s
}

func (w *inventoryWorld) keys(ids []string) []string {
	var out []string
	for _, id := range ids {
		out = append(out, w.unfill(id))
	}
	slices.Sort(out)
	return out
}

func decodeInventory(t *testing.T, out string) inventory {
	t.Helper()
	var inv inventory
	if err := json.Unmarshal([]byte(out), &inv); err != nil {
		t.Fatalf("inventory --json output does not parse: %v\n%s", err, out)
	}
	return inv
}

func TestInventory_joinsServiceTokensWithTerraformState(t *testing.T) {
	w := newInventoryWorld(t)
	code, out, errs := runSubcommand(t, newInventoryCommand, "inventory", "--state", w.state, "--json")
	if code != 0 {
		t.Fatalf("inventory --state --json = %d\n%s", code, errs)
	}
	inv := decodeInventory(t, out)
	managed := map[string]string{}
	for _, tk := range inv.Tokens {
		managed[w.unfill(tk.ID)] = tk.Managed + " " + tk.TerraformAddress
	}
	want := map[string]string{
		"@ORDERS_TEAM_ORDERS@": "yes tokenguard_api_token.orders_sync",
		"@CI_DEPLOY@":          `yes module.ci.tokenguard_api_token.this["deploy"]`,
		"@AUDIT_READER@":       "yes module.ci.module.nested.tokenguard_api_token.audit",
		"@ORDERS_TEAM_B@":      "no ", "@BILLING@": "no ", "@TWO_FA@": "no ", "@REPORTING@": "no ",
	}
	for k, v := range want {
		if managed[k] != v {
			t.Errorf("%s managed = %q, want %q", k, managed[k], v)
		}
	}
	if len(inv.Tokens) != len(want) {
		t.Errorf("inventory lists %d tokens, want %d", len(inv.Tokens), len(want))
	}
	if len(inv.MissingFromService) != 1 || inv.MissingFromService[0] != (stateToken{Address: "tokenguard_api_token.gone", ID: "tok_01J000000000000000000GONE", Root: w.state}) {
		t.Errorf("missing_from_service = %+v", inv.MissingFromService)
	}
	for _, tk := range inv.Tokens {
		if tk.ID == w.ids["ORDERS_TEAM_ORDERS"] && (tk.Purpose != longPurpose || !slices.Equal(tk.DataCategories, []string{"commercial", "identifiers"}) ||
			tk.Owner != "team-orders" || tk.Status != "active" || !tk.ExpiresAt.Equal(invT0.Add(60*24*time.Hour))) {
			t.Errorf("orders-sync row = %+v", tk)
		}
		if tk.ID == w.ids["REPORTING"] && tk.Status != "revoked" {
			t.Errorf("revoked token status = %q", tk.Status)
		}
	}
	for k, secret := range w.secrets {
		if strings.Contains(out, secret) || strings.Contains(errs, secret) {
			t.Errorf("the secret of %s appears in the inventory output", k)
		}
	}
	if strings.Contains(out+errs, "state0secret") {
		t.Error("the secret held in the state file appears in the inventory output")
	}
}

// column returns the cell of line under the header column named name (tabwriter keeps
// columns aligned, so the header's offsets hold for every row).
func column(t *testing.T, header, line, name string) string {
	t.Helper()
	start := strings.Index(header, name)
	if start < 0 {
		t.Fatalf("no column %s in %q", name, header)
	}
	end := len(line)
	if rest := header[start+len(name):]; strings.TrimLeft(rest, " ") != "" {
		end = start + len(name) + len(rest) - len(strings.TrimLeft(rest, " "))
	}
	if start >= len(line) {
		return ""
	}
	return strings.TrimSpace(line[start:min(end, len(line))])
}

func TestInventory_tableShowsManagementAndTruncatesPurpose(t *testing.T) {
	w := newInventoryWorld(t)
	code, out, errs := runSubcommand(t, newInventoryCommand, "inventory", "--state", w.state)
	if code != 0 {
		t.Fatalf("inventory --state = %d\n%s", code, errs)
	}
	t.Logf("inventory table:\n%s", out)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	header := lines[0]
	if got := strings.Fields(header); !slices.Equal(got, []string{"ID", "NAME", "OWNER", "STATUS", "EXPIRES", "LAST", "USED", "CATEGORIES", "MANAGED", "PURPOSE"}) {
		t.Fatalf("header = %q", header)
	}
	if len(lines) != 8 {
		t.Fatalf("table has %d lines, want a header and 7 tokens:\n%s", len(lines), out)
	}
	rows := map[string]string{}
	for _, l := range lines[1:] {
		rows[w.unfill(column(t, header, l, "ID"))] = l
	}
	orders := rows["@ORDERS_TEAM_ORDERS@"]
	for col, want := range map[string]string{
		"NAME": "orders-sync", "OWNER": "team-orders", "STATUS": "active", "EXPIRES": "2030-04-30T08:00:00Z", "LAST USED": "-",
		"CATEGORIES": "commercial,identifiers", "MANAGED": "yes", "PURPOSE": "reconcile nightly settlement files from…",
	} {
		if got := column(t, header, orders, col); got != want {
			t.Errorf("orders-sync %s = %q, want %q", col, got, want)
		}
	}
	for key, want := range map[string]string{"@BILLING@": "no", "@REPORTING@": "no", "@CI_DEPLOY@": "yes"} {
		if got := column(t, header, rows[key], "MANAGED"); got != want {
			t.Errorf("%s MANAGED = %q, want %q", key, got, want)
		}
	}
	if got := column(t, header, rows["@BILLING@"], "NAME"); got != "Billing Export (EU)!" {
		t.Errorf("name with spaces = %q", got)
	}
	wantWarn := "warning: tokenguard_api_token.gone holds token tok_01J000000000000000000GONE, which this service does not list"
	if !strings.Contains(errs, wantWarn) {
		t.Errorf("stderr does not warn about the state entry the service lacks: %q", errs)
	}

	// Without state, management is unknown and no warning is possible.
	code, out, errs = runSubcommand(t, newInventoryCommand, "inventory")
	if code != 0 || errs != "" {
		t.Fatalf("inventory = %d %q", code, errs)
	}
	lines = strings.Split(strings.TrimRight(out, "\n"), "\n")
	for _, l := range lines[1:] {
		if got := column(t, lines[0], l, "MANAGED"); got != "unknown" {
			t.Errorf("MANAGED without state = %q in %q", got, l)
		}
	}
}

func TestInventory_unusedForUsesLastUseFromIntrospection(t *testing.T) {
	w := newInventoryWorld(t)
	c := w.svc.Client(t)
	ctx := context.Background()
	// ci-deploy is used at creation, orders-sync (team-orders) on day 15; the others never.
	if in, err := c.Introspect(ctx, w.secrets["CI_DEPLOY"]); err != nil || !in.Active {
		t.Fatalf("introspect ci-deploy: %+v %v", in, err)
	}
	w.clock.Advance(15 * 24 * time.Hour)
	if in, err := c.Introspect(ctx, w.secrets["ORDERS_TEAM_ORDERS"]); err != nil || !in.Active {
		t.Fatalf("introspect orders-sync: %+v %v", in, err)
	}
	w.clock.Advance(16 * 24 * time.Hour) // day 31

	listed := func(args ...string) []string {
		t.Helper()
		code, out, errs := runSubcommand(t, newInventoryCommand, append([]string{"inventory", "--json"}, args...)...)
		if code != 0 {
			t.Fatalf("inventory %v = %d %s", args, code, errs)
		}
		var ids []string
		for _, tk := range decodeInventory(t, out).Tokens {
			ids = append(ids, tk.ID)
		}
		return w.keys(ids)
	}
	if got, want := listed("--unused-for", "30d"), []string{"@AUDIT_READER@", "@BILLING@", "@CI_DEPLOY@", "@ORDERS_TEAM_B@", "@TWO_FA@"}; !slices.Equal(got, want) {
		t.Errorf("--unused-for 30d = %v, want %v", got, want)
	}
	if got, want := listed("--unused-for", "30d", "--status", "active", "--owner", "team-security"), []string{"@AUDIT_READER@", "@TWO_FA@"}; !slices.Equal(got, want) {
		t.Errorf("--unused-for 30d --status active --owner team-security = %v, want %v", got, want)
	}
	if got, want := listed("--unused-for", "15d"), []string{"@AUDIT_READER@", "@BILLING@", "@CI_DEPLOY@", "@ORDERS_TEAM_B@", "@ORDERS_TEAM_ORDERS@", "@TWO_FA@"}; !slices.Equal(got, want) {
		t.Errorf("--unused-for 15d = %v, want %v", got, want)
	}
	// Revoked tokens are unused by definition: listed only when asked for by status.
	if got, want := listed("--unused-for", "30d", "--status", "revoked"), []string{"@REPORTING@"}; !slices.Equal(got, want) {
		t.Errorf("--unused-for 30d --status revoked = %v, want %v", got, want)
	}
	code, out, _ := runSubcommand(t, newInventoryCommand, "inventory", "--json")
	for _, tk := range decodeInventory(t, out).Tokens {
		if tk.ID == w.ids["ORDERS_TEAM_ORDERS"] && (tk.LastUsedAt == nil || !tk.LastUsedAt.Equal(invT0.Add(15*24*time.Hour))) {
			t.Errorf("last_used_at of orders-sync = %v (exit %d)", tk.LastUsedAt, code)
		}
	}
	if code, _, errs := runSubcommand(t, newInventoryCommand, "inventory", "--unused-for", "a month"); code != ExitUsage || !strings.Contains(errs, "--unused-for") {
		t.Errorf("--unused-for 'a month' = %d %q; want exit 2 naming the flag", code, errs)
	}
}

func TestInventory_pagesThroughEveryToken(t *testing.T) {
	svc := servertest.Start(t, servertest.Options{})
	c := svc.Client(t)
	const n = 105 // more than the service's default page of 100
	for i := range n {
		if _, err := c.CreateToken(context.Background(), wire.CreateTokenRequest{
			Name: "batch-" + strings.Repeat("x", i%3) + time.Duration(i).String(), Owner: "team-batch",
			Purpose: "load the nightly batch of partner orders", Scopes: []string{"orders:read"}, DataCategories: []string{},
		}, ""); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errs := runSubcommand(t, newInventoryCommand, "inventory", "--json", "--endpoint", svc.URL, "--token", svc.AdminToken)
	if code != 0 {
		t.Fatalf("inventory = %d %s", code, errs)
	}
	inv := decodeInventory(t, out)
	seen := map[string]bool{}
	for _, tk := range inv.Tokens {
		seen[tk.ID] = true
		if tk.DataCategories == nil || len(tk.DataCategories) != 0 {
			t.Fatalf("data_categories of a no-personal-data token = %#v, want []", tk.DataCategories)
		}
	}
	if len(inv.Tokens) != n || len(seen) != n {
		t.Fatalf("inventory lists %d tokens (%d distinct), want %d", len(inv.Tokens), len(seen), n)
	}
}

// importBlock is one parsed import {} block.
type importBlock struct{ to, id string }

func parseImports(t *testing.T, path string) []importBlock {
	t.Helper()
	src, err := os.ReadFile(path) //nolint:gosec // G304: the imports file in the test's temporary directory
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclparse.NewParser().ParseHCL(src, path)
	if diags.HasErrors() {
		t.Fatalf("generated imports do not parse as HCL: %v\n%s", diags, src)
	}
	content, diags := f.Body.Content(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "import"}}})
	if diags.HasErrors() {
		t.Fatalf("generated imports hold something other than import blocks: %v", diags)
	}
	var out []importBlock
	for _, b := range content.Blocks {
		attrs, diags := b.Body.JustAttributes()
		if diags.HasErrors() || len(attrs) != 2 || attrs["to"] == nil || attrs["id"] == nil {
			t.Fatalf("import block attributes = %v %v; want exactly to and id", attrs, diags)
		}
		trav, diags := hcl.AbsTraversalForExpr(attrs["to"].Expr)
		if diags.HasErrors() || len(trav) != 2 {
			t.Fatalf("import to is not a resource address: %v", diags)
		}
		id, diags := attrs["id"].Expr.Value(nil)
		if diags.HasErrors() {
			t.Fatalf("import id is not a literal: %v", diags)
		}
		out = append(out, importBlock{
			to: trav.RootName() + "." + trav[1].(hcl.TraverseAttr).Name,
			id: id.AsString(),
		})
	}
	return out
}

func TestInventory_generateImportsForExactlyTheUnmanagedActiveTokens(t *testing.T) {
	w := newInventoryWorld(t)
	path := filepath.Join(t.TempDir(), "imports.tf")
	code, _, errs := runSubcommand(t, newInventoryCommand, "inventory", "--state", w.state, "--generate-imports", path)
	if code != 0 {
		t.Fatalf("--generate-imports = %d %s", code, errs)
	}
	if !strings.Contains(errs, "wrote 3 import block(s) to "+path+" (1 revoked or expired token(s) listed as comments, not imported); next: write their resource blocks with --generate-config-out FILE") {
		t.Errorf("stderr = %q", errs)
	}
	blocks := parseImports(t, path)
	var got []string
	for _, b := range blocks {
		got = append(got, b.to+" = "+w.unfill(b.id))
	}
	want := []string{
		"tokenguard_api_token.token_2fa_check = @TWO_FA@",
		"tokenguard_api_token.billing_export_eu = @BILLING@",
		"tokenguard_api_token.orders_sync_2 = @ORDERS_TEAM_B@", // orders_sync is taken in the state
	}
	if !slices.Equal(got, want) {
		t.Errorf("import blocks:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	src, err := os.ReadFile(path) //nolint:gosec // G304: the imports file in the test's temporary directory
	if err != nil {
		t.Fatal(err)
	}
	goldenFile(t, filepath.Join("testdata", "inventory", "imports.tf.golden"), []byte(w.unfill(string(src))))

	// A second run refuses to overwrite, and leaves the file alone; --force overwrites.
	if err := os.WriteFile(path, []byte("# mine\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs = runSubcommand(t, newInventoryCommand, "inventory", "--state", w.state, "--generate-imports", path)
	if code != ExitUsage || !strings.Contains(errs, "already exists: pass --force to overwrite it") {
		t.Errorf("second --generate-imports = %d %q; want exit 2 asking for --force", code, errs)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "# mine\n" { //nolint:gosec // G304: the imports file in the test's temporary directory
		t.Errorf("the existing file was changed: %q (%v)", b, err)
	}
	if code, _, errs := runSubcommand(t, newInventoryCommand, "inventory", "--state", w.state, "--generate-imports", path, "--force"); code != 0 {
		t.Fatalf("--force = %d %s", code, errs)
	}
	if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, src) { //nolint:gosec // G304: the imports file in the test's temporary directory
		t.Errorf("--force output differs from the first run (output must be deterministic) (%v):\n%s", err, b)
	}
}

// goldenFile compares got with the golden file at path; TOKENGUARD_UPDATE_GOLDEN=1 rewrites it.
func goldenFile(t *testing.T, path string, got []byte) {
	t.Helper()
	if os.Getenv("TOKENGUARD_UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(path, got, 0o644); err != nil { //nolint:gosec // G306: golden files are committed source, world-readable like the rest of the tree
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path) //nolint:gosec // G304: a golden file under testdata/
	if err != nil {
		t.Fatalf("%v (run with TOKENGUARD_UPDATE_GOLDEN=1 to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with TOKENGUARD_UPDATE_GOLDEN=1 after checking the change); got:\n%s", path, got)
	}
}

func TestInventory_dirRunsTerraformShowThere(t *testing.T) {
	w := newInventoryWorld(t)
	work := t.TempDir()
	state, err := os.ReadFile(w.state) //nolint:gosec // G304: the state file in the test's temporary directory
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "shown.json"), state, 0o600); err != nil { //nolint:gosec // G703: a path in the test's temporary directory
		t.Fatal(err)
	}
	// A stand-in terraform that answers "show -json" from the working directory it runs in.
	bin := t.TempDir()
	script := "#!/bin/sh\n[ \"$1 $2\" = \"show -json\" ] || { echo \"unexpected arguments: $*\" >&2; exit 3; }\nexec cat ./shown.json\n"
	if err := os.WriteFile(filepath.Join(bin, "terraform"), []byte(script), 0o755); err != nil { //nolint:gosec // an executable test stub
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	code, out, errs := runSubcommand(t, newInventoryCommand, "inventory", "--dir", work, "--json")
	if code != 0 {
		t.Fatalf("inventory --dir = %d %s", code, errs)
	}
	inv := decodeInventory(t, out)
	if inv.TerraformState != work+" (terraform show -json)" {
		t.Errorf("terraform_state = %q", inv.TerraformState)
	}
	var managed []string
	for _, tk := range inv.Tokens {
		if tk.Managed == managedYes {
			managed = append(managed, tk.ID)
		}
	}
	if got := w.keys(managed); !slices.Equal(got, []string{"@AUDIT_READER@", "@CI_DEPLOY@", "@ORDERS_TEAM_ORDERS@"}) {
		t.Errorf("managed via --dir = %v", got)
	}

	// terraform failing is reported with its own message.
	if err := os.Remove(filepath.Join(work, "shown.json")); err != nil {
		t.Fatal(err)
	}
	code, _, errs = runSubcommand(t, newInventoryCommand, "inventory", "--dir", work)
	if code != ExitUsage || !strings.Contains(errs, "terraform show -json in "+work+" failed (run terraform init there first, or pass --state)") ||
		!strings.Contains(errs, "shown.json") {
		t.Errorf("failing terraform = %d %q", code, errs)
	}
}

func TestInventory_dirWithoutTerraformOnPath(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("TOKENGUARD_TOKEN", "unused")
	code, _, errs := runSubcommand(t, newInventoryCommand, "inventory", "--dir", t.TempDir())
	if code != ExitUsage || !strings.Contains(errs, "--dir needs the terraform CLI, which is not on PATH") {
		t.Fatalf("--dir without terraform = %d %q", code, errs)
	}
}

func TestInventory_rejectsBadStateAndFlagCombinations(t *testing.T) {
	t.Setenv("TOKENGUARD_TOKEN", "unused: every case fails before calling the service")
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.json")
	raw := filepath.Join(dir, "terraform.tfstate")
	_ = os.WriteFile(empty, nil, 0o600)
	_ = os.WriteFile(raw, []byte(`{"version": 4, "terraform_version": "1.11.4", "resources": []}`), 0o600)
	existing := filepath.Join(dir, "imports.tf")
	_ = os.WriteFile(existing, []byte("# mine\n"), 0o600)
	plan := filepath.Join("testdata", "inventory", "plan.json")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--state", plan}, "is a plan, not state"},
		{[]string{"--state", empty}, "is empty: expected the output of terraform show -json"},
		{[]string{"--state", raw}, "a raw terraform.tfstate is not accepted"},
		{[]string{"--state", filepath.Join(dir, "nope.json")}, "--state: open"},
		{[]string{"--state", empty, "--state", plan}, "is empty: expected the output of terraform show -json"},
		{[]string{"--generate-imports", filepath.Join(dir, "x.tf")}, "--generate-imports needs the Terraform state"},
		{[]string{"--force"}, "--force only applies to --generate-imports"},
		{[]string{"--state", filepath.Join("testdata", "inventory", "state.json.tmpl"), "--generate-imports", existing}, "already exists: pass --force"},
	} {
		code, out, errs := runSubcommand(t, newInventoryCommand, append([]string{"inventory"}, tc.args...)...)
		if code != ExitUsage || out != "" || !strings.Contains(errs, tc.want) {
			t.Errorf("inventory %v = %d %q %q; want exit 2 with %q", tc.args, code, out, errs, tc.want)
		}
	}
}

func TestHCLName(t *testing.T) {
	for in, want := range map[string]string{
		"orders-sync": "orders_sync", "Billing Export (EU)!": "billing_export_eu", "2fa-check": "token_2fa_check",
		"___": "token", "": "token", "Überweisung": "berweisung", "a..b": "a_b", "_x_": "x",
	} {
		if got := hclName(in); got != want {
			t.Errorf("hclName(%q) = %q, want %q", in, got, want)
		}
	}
	taken := map[string]bool{"a": true, "a_2": true}
	if got := uniqueName("a", taken); got != "a_3" || !taken["a_3"] {
		t.Errorf("uniqueName = %q", got)
	}
}

// TestAccInventory_generatedImportsLetTerraformWriteTheConfig drives the real Terraform CLI
// (TF_ACC=1): tokens created through the API are unmanaged for inventory --dir on an empty
// working directory. Terraform's own plan -generate-config-out writes data_subjects (sensitive)
// as null, so the provider refuses the plan of the token with subjects rather than replace it,
// naming the fix and never the subjects. inventory --generate-config-out then writes the
// resource blocks itself: the plan imports both tokens and changes nothing, shows data_subjects
// only as a sensitive value, and after apply inventory shows them managed at the generated
// addresses and a second plan is empty.
func TestAccInventory_generatedImportsLetTerraformWriteTheConfig(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1 to run it with the terraform CLI on PATH (it builds the provider)")
	}
	svc := servertest.Start(t, servertest.Options{})
	tf := newRealTerraform(t, svc).in(map[string]string{"main.tf": `terraform {
  required_providers {
    tokenguard = { source = "tokenguard/tokenguard" }
  }
}
provider "tokenguard" {}
`})
	c := svc.Client(t)
	var ids []string
	// Two shapes: every optional attribute unset, and every one set (with an empty category
	// list, a lifetime that is not whole days and a data subject), so the generated HCL must
	// round-trip both null and empty collections, the ttl derived at import and the subjects.
	const subject = "tenant:eu-1"
	for _, req := range []wire.CreateTokenRequest{
		{Name: "orders-sync", Owner: "team-orders", Purpose: "sync paid orders to the warehouse system",
			Scopes: []string{"orders:read"}, DataCategories: []string{"commercial"},
			TTL: "30d", Rotation: &wire.Rotation{Interval: "7d", Overlap: "1h"}},
		{Name: "Billing Export (EU)!", Owner: "team-orders", Purpose: "export invoice totals to the EU accounting system",
			Scopes: []string{"invoices:read", "credit-notes:read"}, DataCategories: []string{}, DataSubjects: []string{subject},
			Audiences: []string{"accounting"}, Labels: map[string]string{"env": "prod"}, TTL: "36h"},
		// Text HCL would read differently if written unescaped: interpolations, template
		// directives, quotes, backslashes, label keys HCL would take as keywords, and a
		// Cyrillic look-alike. Terraform must read back the service's text exactly, so the
		// import plans no change.
		{Name: "tpl-${var.x}-%{if}", Owner: `team "quoted" \ back`, Purpose: `sync ${file("/etc/passwd")} %{ for x in y }orders%{ endfor } to the warehouse`,
			Scopes: []string{"orders:read"}, DataCategories: []string{"commercial"}, DataSubjects: []string{"customer:${x}", "\u0441ustomer:4411"},
			Labels: map[string]string{"null": "${x}", "for": "%{y}", "true": `"\`}, TTL: "30d"},
	} {
		tok, err := c.CreateToken(context.Background(), req, "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tok.ID)
	}
	tf.setenv()
	t.Setenv("PATH", filepath.Dir(tf.bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	work := tf.dir
	terraform := func(args ...string) (string, error) {
		cmd := exec.Command(tf.bin, args...) //nolint:gosec // G204: the Terraform CLI of the acceptance tests
		cmd.Dir = work
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	code, out, errs := runSubcommand(t, newInventoryCommand, "inventory", "--dir", work, "--generate-imports", filepath.Join(work, "imports.tf"), "--json")
	if code != 0 {
		t.Fatalf("inventory --dir --generate-imports = %d %s", code, errs)
	}
	for _, tk := range decodeInventory(t, out).Tokens {
		if tk.Managed != managedNo {
			t.Errorf("token %s managed = %q in an empty working directory, want no", tk.ID, tk.Managed)
		}
	}
	if !strings.Contains(errs, "next: write their resource blocks with --generate-config-out FILE") {
		t.Errorf("inventory --generate-imports does not point to --generate-config-out: %s", errs)
	}

	// Terraform's -generate-config-out: the token with a subject is refused, not replaced.
	planOut, err := terraform("plan", "-input=false", "-no-color", "-generate-config-out=generated.tf")
	if err == nil {
		t.Fatalf("terraform plan -generate-config-out succeeded; want the import of the token with data subjects refused:\n%s", planOut)
	}
	for _, want := range []string{"Imported Token's Data Subjects Missing From Configuration", ids[1], "tokenguard inventory",
		"--generate-config-out", "tokenguard token show " + ids[1], "data_subjects = []"} {
		if !strings.Contains(strings.Join(strings.Fields(planOut), " "), want) {
			t.Errorf("the refused plan does not say %q:\n%s", want, planOut)
		}
	}
	if strings.Contains(planOut, "forces replacement") || strings.Contains(planOut, subject) || strings.Contains(planOut, "ustomer:") {
		t.Errorf("the refused plan plans a replacement or prints the subject:\n%s", planOut)
	}
	t.Logf("the refused plan:\n%s", planOut)
	generated, err := os.ReadFile(filepath.Join(work, "generated.tf")) //nolint:gosec // G304: terraform's output in the test's working directory
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`data_subjects +\= null # sensitive`).Match(generated) || !strings.Contains(string(generated), `resource "tokenguard_api_token" "billing_export_eu" {`) {
		t.Errorf("generated.tf does not write data_subjects as null (what the guard is for):\n%s", generated)
	}
	for _, f := range []string{"generated.tf", "imports.tf"} {
		if err := os.Remove(filepath.Join(work, f)); err != nil {
			t.Fatal(err)
		}
	}

	// inventory --generate-config-out writes the resource blocks with the subjects.
	code, _, errs = runSubcommand(t, newInventoryCommand, "inventory", "--dir", work, "--generate-imports", filepath.Join(work, "imports.tf"),
		"--generate-config-out", filepath.Join(work, "tokens.tf"))
	if code != 0 {
		t.Fatalf("inventory --generate-config-out = %d %s", code, errs)
	}
	config, err := os.ReadFile(filepath.Join(work, "tokens.tf")) //nolint:gosec // G304: the file inventory wrote in the test's working directory
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`resource "tokenguard_api_token" "orders_sync" {`, `resource "tokenguard_api_token" "billing_export_eu" {`,
		`name +\= "Billing Export \(EU\)!"`, `data_subjects +\= \["tenant:eu-1"\]`, `ttl +\= "36h"`, `ttl +\= "30d"`} {
		if !regexp.MustCompile(want).Match(config) {
			t.Errorf("tokens.tf does not match %q:\n%s", want, config)
		}
	}
	t.Logf("tokens.tf:\n%s", config)
	if t.Failed() {
		return
	}
	planOut, err = terraform("plan", "-input=false", "-no-color", "-out=import.tfplan")
	if err != nil {
		t.Fatalf("terraform plan with the written configuration: %v\n%s", err, planOut)
	}
	if !strings.Contains(planOut, "Plan: 3 to import, 0 to add, 0 to change, 0 to destroy.") {
		t.Errorf("plan does not import exactly the three tokens without changing them:\n%s", planOut)
	}
	if !regexp.MustCompile(`data_subjects +\= \(sensitive value\)`).MatchString(planOut) || strings.Contains(planOut, subject) || strings.Contains(planOut, "ustomer:") {
		t.Errorf("the plan does not show data_subjects as a sensitive value, or prints the subject:\n%s", planOut)
	}
	// The JSON plan holds the subjects for tools that judge them (tokenguard check), marked
	// sensitive, which is what keeps them out of every human rendering.
	planJSON, err := terraform("show", "-json", "import.tfplan")
	if err != nil {
		t.Fatal(err)
	}
	var plan struct {
		ResourceChanges []struct {
			Address string `json:"address"`
			Change  struct {
				After          map[string]any `json:"after"`
				AfterSensitive map[string]any `json:"after_sensitive"`
			} `json:"change"`
		} `json:"resource_changes"`
	}
	if err := json.Unmarshal([]byte(planJSON), &plan); err != nil {
		t.Fatal(err)
	}
	marked := false
	for _, rc := range plan.ResourceChanges {
		if rc.Address == "tokenguard_api_token.billing_export_eu" {
			marked = rc.Change.AfterSensitive["data_subjects"] == true && fmt.Sprint(rc.Change.After["data_subjects"]) == "["+subject+"]"
		}
	}
	if !marked {
		t.Errorf("the JSON plan does not mark data_subjects sensitive:\n%s", planJSON)
	}

	// Apply the imports with the written configuration, unchanged.
	applyOut, err := terraform("apply", "-input=false", "-no-color", "import.tfplan")
	if err != nil {
		t.Fatalf("terraform apply of the imports: %v\n%s", err, applyOut)
	}
	if !strings.Contains(applyOut, "Apply complete! Resources: 3 imported, 0 added, 0 changed, 0 destroyed.") || strings.Contains(applyOut, subject) {
		t.Errorf("apply did not import exactly the three tokens without changing them, or printed the subject:\n%s", applyOut)
	}

	// Inventory now finds both tokens in the state, at the generated addresses.
	code, out, errs = runSubcommand(t, newInventoryCommand, "inventory", "--dir", work, "--json")
	if code != 0 {
		t.Fatalf("inventory --dir after apply = %d %s", code, errs)
	}
	managed := map[string]string{}
	for _, tk := range decodeInventory(t, out).Tokens {
		managed[tk.ID] = tk.Managed + " " + tk.TerraformAddress
	}
	want := map[string]string{ids[0]: "yes tokenguard_api_token.orders_sync", ids[1]: "yes tokenguard_api_token.billing_export_eu",
		ids[2]: "yes tokenguard_api_token.tpl_var_x_if"}
	if !maps.Equal(managed, want) {
		t.Errorf("inventory after apply = %v, want %v", managed, want)
	}

	// A second plan finds nothing to do: exit code 0 of -detailed-exitcode (2 means changes).
	secondOut, err := terraform("plan", "-input=false", "-no-color", "-detailed-exitcode")
	if err != nil {
		t.Fatalf("the second plan is not empty (%v):\n%s", err, secondOut)
	}
	if !strings.Contains(secondOut, "No changes.") {
		t.Errorf("the second plan does not report No changes:\n%s", secondOut)
	}
	for _, tok := range ids {
		got, err := c.GetToken(context.Background(), tok)
		if err != nil || got.Status != "active" || got.SecretVersion != 1 {
			t.Errorf("token %s after import and apply = %+v, %v; want active with its first secret (an import never rotates)", tok, got, err)
		}
	}
	if got, err := c.GetToken(context.Background(), ids[1]); err != nil || !slices.Equal(got.DataSubjects, []string{subject}) {
		t.Errorf("token %s holds data subjects %v (%v) after the import, want [%s]", ids[1], got.DataSubjects, err, subject)
	}
}

// TestInventory_severalRootsEachCountAsManaging: --state and --dir repeat; a token any root
// manages is not offered for import, and a token two roots manage is named in a warning.
func TestInventory_severalRootsEachCountAsManaging(t *testing.T) {
	w := newInventoryWorld(t)
	second := filepath.Join(t.TempDir(), "second.json")
	state := `{"format_version":"1.0","terraform_version":"1.11.4","values":{"root_module":{"resources":[
	  {"address":"tokenguard_api_token.two_fa","mode":"managed","type":"tokenguard_api_token","name":"two_fa","values":{"id":"@TWO_FA@"}},
	  {"address":"tokenguard_api_token.orders","mode":"managed","type":"tokenguard_api_token","name":"orders","values":{"id":"@ORDERS_TEAM_ORDERS@"}}]}}}`
	if err := os.WriteFile(second, []byte(w.fill(state)), 0o600); err != nil { //nolint:gosec // G703: a path in the test's temporary directory
		t.Fatal(err)
	}
	code, out, errs := runSubcommand(t, newInventoryCommand, "inventory", "--state", w.state, "--state", second, "--json")
	if code != 0 {
		t.Fatalf("inventory --state --state = %d %s", code, errs)
	}
	roots := map[string]string{}
	for _, tk := range decodeInventory(t, out).Tokens {
		roots[w.unfill(tk.ID)] = tk.Managed + " " + tk.TerraformRoot
	}
	for key, want := range map[string]string{
		"@TWO_FA@": "yes " + second, "@CI_DEPLOY@": "yes " + w.state, "@ORDERS_TEAM_ORDERS@": "yes " + w.state,
		"@BILLING@": "no ", "@ORDERS_TEAM_B@": "no ",
	} {
		if roots[key] != want {
			t.Errorf("%s = %q, want %q", key, roots[key], want)
		}
	}
	wantWarn := "warning: token " + w.ids["ORDERS_TEAM_ORDERS"] + " is managed by more than one root (" + w.state + ", " + second + ")"
	if !strings.Contains(errs, wantWarn) {
		t.Errorf("stderr does not name the token in two states: %q", errs)
	}

	path := filepath.Join(t.TempDir(), "imports.tf")
	if code, _, errs := runSubcommand(t, newInventoryCommand, "inventory", "--state", w.state, "--state", second, "--generate-imports", path); code != 0 {
		t.Fatalf("--generate-imports over two roots = %d %s", code, errs)
	}
	var got []string
	for _, b := range parseImports(t, path) {
		got = append(got, w.unfill(b.id))
	}
	if want := []string{"@BILLING@", "@ORDERS_TEAM_B@"}; !slices.Equal(got, want) {
		t.Errorf("imports over two roots = %v, want %v (a token another root manages is never offered)", got, want)
	}
	src, err := os.ReadFile(path) //nolint:gosec // G304: the imports file in the test's temporary directory
	if err != nil || !bytes.HasSuffix(src, []byte("\n")) || bytes.HasSuffix(src, []byte("\n\n")) {
		t.Errorf("the imports file must end in exactly one newline (%v): %q", err, src[max(0, len(src)-40):])
	}
}
