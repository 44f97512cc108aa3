package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// runWithErase runs the CLI like Run, with the erase command registered even before cli.go
// registers it, and returns the exit code, stdout and stderr.
func runWithErase(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	s := &streams{in: strings.NewReader(""), out: &out, err: &errb}
	root := newRootCommand(s)
	if !slices.ContainsFunc(root.Commands(), func(c *cobra.Command) bool { return c.Name() == "erase" }) {
		root.AddCommand(newEraseCommand(s))
	}
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errb)
	err := root.ExecuteContext(context.Background())
	var ee *exitError
	switch {
	case err == nil:
		return ExitOK, out.String(), errb.String()
	case errors.As(err, &ee):
		return ee.code, out.String(), errb.String() + ee.Error()
	default:
		return ExitUsage, out.String(), errb.String() + err.Error()
	}
}

const eraseSubject = "customer:4411"

// eraseFixture creates, through the API, three tokens bound to eraseSubject, two other
// tokens reaching commercial or identifiers, and one reaching neither; it returns the bound
// tokens' ids and secrets and the ids to notify, both sorted.
func eraseFixture(t *testing.T, admin *client.Client) (bound []wire.Token, notify []string) {
	t.Helper()
	ctx := context.Background()
	mk := func(name string, cats, subjects []string) wire.Token {
		tok, err := admin.CreateToken(ctx, wire.CreateTokenRequest{
			Name: name, Owner: "team-orders@example.com", Purpose: "Reads the order history of customers for the support console",
			Scopes: []string{"orders:read"}, DataCategories: cats, DataSubjects: subjects, Audiences: []string{"support-console"}, TTL: "30d",
		}, "")
		if err != nil {
			t.Fatalf("creating %s: %v", name, err)
		}
		return tok
	}
	bound = []wire.Token{
		mk("bound-1", []string{"commercial"}, []string{eraseSubject}),
		mk("bound-2", []string{"identifiers"}, []string{"customer:9", eraseSubject}),
		mk("bound-3", []string{"geolocation"}, []string{eraseSubject}),
	}
	slices.SortFunc(bound, func(a, b wire.Token) int { return strings.Compare(a.ID, b.ID) })
	notify = []string{mk("reach-1", []string{"commercial"}, nil).ID, mk("reach-2", []string{"identifiers", "health"}, []string{"customer:77"}).ID}
	slices.Sort(notify)
	mk("unrelated", []string{"health"}, nil)
	return bound, notify
}

func ids(toks []wire.Token) []string {
	var out []string
	for _, t := range toks {
		out = append(out, t.ID)
	}
	return out
}

func TestErase_revokesTheBoundTokensReportsTheOthersExportsAndCheckBlocksReissue(t *testing.T) {
	ctx := context.Background()
	clock := servertest.NewClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	// The fixture's tokens have no rotation schedule; this test is about erasure, not the policy gate.
	svc := servertest.Start(t, servertest.Options{Now: clock.Now, PolicyEnforcement: server.PolicyOff})
	admin := svc.Client(t)
	t.Setenv("TOKENGUARD_ENDPOINT", svc.URL)
	t.Setenv("TOKENGUARD_TOKEN", svc.AdminToken)
	t.Setenv("TOKENGUARD_CA_CERT", "")
	bound, notify := eraseFixture(t, admin)
	cred, err := admin.CreateCredential(ctx, wire.CreateCredentialRequest{Name: "orders-api"}, "")
	if err != nil {
		t.Fatal(err)
	}
	ic := svc.ClientWithToken(t, cred.Secret)
	active := func(secret string) bool {
		t.Helper()
		in, err := ic.Introspect(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		return in.Active
	}
	plan := filepath.Join("testdata", "erase", "plan.json")

	// Before the request, the plan that binds a token to the subject passes the service gate.
	if code, out, errOut := runWithErase(t, "check", "--service", svc.URL, plan); code != ExitOK {
		t.Fatalf("check --service before erase = %d\n%s%s", code, out, errOut)
	}

	// A dry run reports exactly what the request would do and changes nothing.
	auditBefore, err := admin.ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runWithErase(t, "erase", "--subject", eraseSubject, "--categories", "commercial,identifiers", "--dry-run", "--json")
	if code != ExitOK {
		t.Fatalf("erase --dry-run = %d\n%s%s", code, out, errOut)
	}
	var dry wire.DeletionResult
	if err := json.Unmarshal([]byte(out), &dry); err != nil {
		t.Fatalf("erase --json output: %v\n%s", err, out)
	}
	var dryRevoked, dryNotify []string
	for _, r := range dry.Revoked {
		dryRevoked = append(dryRevoked, r.TokenID)
	}
	for _, n := range dry.Notify {
		dryNotify = append(dryNotify, n.TokenID)
	}
	if !dry.DryRun || dry.ID != "" || !slices.Equal(dryRevoked, ids(bound)) || !slices.Equal(dryNotify, notify) {
		t.Fatalf("dry run = %+v, want revoke %v and notify %v", dry, ids(bound), notify)
	}
	auditAfter, err := admin.ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(auditAfter.Records) != len(auditBefore.Records) {
		t.Fatalf("the dry run wrote %d audit records", len(auditAfter.Records)-len(auditBefore.Records))
	}
	for _, b := range bound {
		if !active(b.Secret) {
			t.Fatalf("token %s is inactive after a dry run", b.ID)
		}
	}

	// The request: exactly the three bound tokens revoked at once, the two others reported.
	export := filepath.Join(t.TempDir(), "erased.json")
	code, out, errOut = runWithErase(t, "erase", "--subject", eraseSubject, "--categories", "commercial,identifiers",
		"--reference", "DSR-2030-0001", "--export", export)
	if code != ExitOK {
		t.Fatalf("erase = %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"Revoked 3 token(s) bound to the subject", "Notify the holders of 2 token(s)",
		"Categories: commercial, identifiers", "exported 1 erased subject(s) to " + export} {
		if !strings.Contains(out, want) {
			t.Errorf("erase output lacks %q:\n%s", want, out)
		}
	}
	for _, id := range append(ids(bound), notify...) {
		if !strings.Contains(out, id) {
			t.Errorf("erase output lacks token %s:\n%s", id, out)
		}
	}
	for _, b := range bound {
		if active(b.Secret) {
			t.Errorf("bound token %s is still active right after erase", b.ID)
		}
	}
	for _, id := range notify {
		if tok, err := admin.GetToken(ctx, id); err != nil || tok.Status != "active" {
			t.Errorf("token to notify %s was changed: %+v %v", id, tok, err)
		}
	}
	delID := ""
	for _, f := range strings.Fields(out) {
		if strings.HasPrefix(f, "del_") {
			delID = f
			break
		}
	}
	ev, err := admin.GetDeletionRequest(ctx, delID)
	if err != nil || ev.RevokedCount != 3 || ev.NotifiedCount != 2 || ev.Reference != "DSR-2030-0001" {
		t.Fatalf("evidence of %q = %+v, %v", delID, ev, err)
	}

	// The export: policy data, mode 0600.
	raw, err := os.ReadFile(export) //nolint:gosec // G304: the --export file in the test's temporary directory
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(export); info.Mode().Perm() != 0o600 {
		t.Errorf("export mode = %v, want 0600 (it holds personal data)", info.Mode().Perm())
	}
	var doc map[string]map[string][]string
	if err := json.Unmarshal(raw, &doc); err != nil || !slices.Equal(doc["tokenguard"]["erased_subjects"], []string{eraseSubject}) || len(doc) != 1 {
		t.Fatalf("export = %s (%v), want {\"tokenguard\": {\"erased_subjects\": [%q]}}", raw, err, eraseSubject)
	}

	// Both policy routes now block the plan that re-issues a token for the subject, also when
	// the plan marks data_subjects sensitive (as the provider's schema does, issue 14).
	sensitivePlan := filepath.Join("testdata", "erase", "plan_sensitive.json")
	for _, args := range [][]string{
		{"check", "--data", export, plan},
		{"check", "--service", svc.URL, plan},
		{"check", "--format", "json", "--service", svc.URL, "--token", svc.AdminToken, plan},
		{"check", "--data", export, sensitivePlan},
		{"check", "--service", svc.URL, sensitivePlan},
		{"check", "--format", "json", "--service", svc.URL, "--token", svc.AdminToken, sensitivePlan},
		{"check", "--format", "sarif", "--data", export, sensitivePlan},
		{"check", "--format", "markdown", "--data", export, sensitivePlan},
	} {
		code, out, errOut := runWithErase(t, args...)
		if code != ExitFindings || !strings.Contains(out, "CPRA-DEL-001") || !strings.Contains(out, "tokenguard_api_token.reissue") {
			t.Errorf("%v = %d, want 1 with CPRA-DEL-001 on tokenguard_api_token.reissue:\n%s%s", args, code, out, errOut)
		}
		if strings.Contains(out+errOut, eraseSubject) {
			t.Errorf("%v prints the subject in clear", args)
		}
	}

	// --export alone writes the same document.
	again := filepath.Join(t.TempDir(), "again.json")
	if code, out, errOut := runWithErase(t, "erase", "--export", again); code != ExitOK {
		t.Fatalf("erase --export = %d\n%s%s", code, out, errOut)
	}
	if raw2, err := os.ReadFile(again); err != nil || !bytes.Equal(raw2, raw) { //nolint:gosec // G304: the --export file in the test's temporary directory
		t.Fatalf("erase --export wrote %s (%v), want %s", raw2, err, raw)
	}
}

func TestErase_usageErrorsExitTwoAndWriteNothing(t *testing.T) {
	svc := servertest.Start(t, servertest.Options{})
	t.Setenv("TOKENGUARD_ENDPOINT", svc.URL)
	t.Setenv("TOKENGUARD_TOKEN", svc.AdminToken)
	t.Setenv("TOKENGUARD_CA_CERT", "")
	missing := filepath.Join(t.TempDir(), "no-such-dir", "erased.json")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"erase"}, "give --subject SUBJECT"},
		{[]string{"erase", "--dry-run"}, "give --subject SUBJECT"},
		{[]string{"erase", "--export", filepath.Join(t.TempDir(), "x.json"), "--dry-run"}, "need --subject"},
		{[]string{"erase", "--subject", "customer:1", "--categories", "everything"}, `"everything" is not a CPRA data category`},
		{[]string{"erase", "--export", missing}, "--export " + missing},
		{[]string{"erase", "--subject", "customer:1", "extra"}, "unknown command"},
		{[]string{"erase", "--subject", "customer:1", "--dry-run", "--export", missing}, "--export " + missing},
	} {
		code, out, errOut := runWithErase(t, c.args...)
		if code != ExitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v = %d, stderr %q; want 2 with %q (stdout %q)", c.args, code, errOut, c.want, out)
		}
	}
	if erased, err := svc.Client(t).ErasedSubjects(context.Background()); err != nil || len(erased) != 0 {
		t.Fatalf("erased subjects after refused commands = %v, %v; want none", erased, err)
	}
	// A request that succeeds with an export that fails says the request was recorded.
	code, _, errOut := runWithErase(t, "erase", "--subject", "customer:2", "--yes", "--export", missing)
	if code != ExitUsage || !strings.Contains(errOut, "the deletion request was recorded, but the export failed: --export "+missing) {
		t.Errorf("erase with a failing export = %d %q", code, errOut)
	}
	if erased, err := svc.Client(t).ErasedSubjects(context.Background()); err != nil || !slices.Equal(erased, []string{"customer:2"}) {
		t.Errorf("erased subjects = %v, %v; want [customer:2]", erased, err)
	}
	t.Setenv("TOKENGUARD_TOKEN", "")
	if code, _, errOut := runWithErase(t, "check", "--service", svc.URL, filepath.Join("testdata", "erase", "plan.json")); code != ExitUsage || !strings.Contains(errOut, "no API credential") {
		t.Errorf("check --service without a credential = %d %q, want 2 naming the missing credential", code, errOut)
	}
}

func TestPrintDeletion_exactTables(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	until := at.Add(730 * 24 * time.Hour)
	res := wire.DeletionResult{
		ID: "del_0123", Status: wire.DeletionComplete, RequestedAt: at, RetainUntil: &until,
		Categories: []string{"commercial", "identifiers"},
		Revoked:    []wire.DeletionRevoked{{TokenID: "tok_a", Name: "orders", Fingerprint: "fp_a", OtherSubjects: 2}},
		Notify: []wire.DeletionNotify{{TokenID: "tok_b", Name: "billing-export", Owner: "team-billing",
			DataCategories: []string{"commercial"}, Audiences: []string{}}},
	}
	var b bytes.Buffer
	if err := printDeletion(&b, res); err != nil {
		t.Fatal(err)
	}
	want := `Deletion request del_0123 complete at 2030-01-02T03:04:05Z; evidence kept until 2032-01-02T03:04:05Z. Categories: commercial, identifiers

Revoked 1 token(s) bound to the subject:
TOKEN  NAME    FINGERPRINT  OTHER SUBJECTS
tok_a  orders  fp_a         2
1 of these token(s) are bound to other subjects too: revoking them cuts those subjects off as well.

Notify the holders of 1 token(s) reaching these categories (their systems may hold the subject's data):
TOKEN  NAME            OWNER         DATA CATEGORIES  AUDIENCES
tok_b  billing-export  team-billing  commercial       -
`
	if b.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", b.String(), want)
	}

	res.DryRun, res.ID, res.RetainUntil, res.Status = true, "", nil, wire.DeletionDryRun
	res.Revoked, res.Notify = []wire.DeletionRevoked{}, []wire.DeletionNotify{}
	b.Reset()
	if err := printDeletion(&b, res); err != nil {
		t.Fatal(err)
	}
	want = `Dry run: nothing was changed. Categories: commercial, identifiers

Would revoke 0 token(s) bound to the subject:
TOKEN  NAME  FINGERPRINT  OTHER SUBJECTS

Notify the holders of 0 token(s) reaching these categories (their systems may hold the subject's data):
TOKEN  NAME  OWNER  DATA CATEGORIES  AUDIENCES
`
	if b.String() != want {
		t.Errorf("dry-run output:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestErase_typoNeedsYesAndDryRunNamesSharedTokens: a subject that matches no token and no
// earlier request is refused without --yes (nothing recorded); the dry run counts, per token,
// the other subjects its revocation cuts off.
func TestErase_typoNeedsYesAndDryRunNamesSharedTokens(t *testing.T) {
	svc := servertest.Start(t, servertest.Options{PolicyEnforcement: server.PolicyOff})
	admin := svc.Client(t)
	t.Setenv("TOKENGUARD_ENDPOINT", svc.URL)
	t.Setenv("TOKENGUARD_TOKEN", svc.AdminToken)
	t.Setenv("TOKENGUARD_CA_CERT", "")
	bound, _ := eraseFixture(t, admin)

	code, out, errOut := runWithErase(t, "erase", "--subject", eraseSubject, "--dry-run", "--json")
	if code != ExitOK {
		t.Fatalf("dry run = %d %s", code, errOut)
	}
	var dry wire.DeletionResult
	if err := json.Unmarshal([]byte(out), &dry); err != nil {
		t.Fatal(err)
	}
	others := map[string]int{}
	for _, r := range dry.Revoked {
		others[r.Name] = r.OtherSubjects
	}
	if want := map[string]int{"bound-1": 0, "bound-2": 1, "bound-3": 0}; !maps.Equal(others, want) {
		t.Errorf("other subjects per revoked token = %v, want %v", others, want)
	}
	if strings.Contains(out, "customer:9") {
		t.Error("the dry run names another subject")
	}
	code, out, _ = runWithErase(t, "erase", "--subject", eraseSubject, "--dry-run")
	if code != ExitOK || !strings.Contains(out, "1 of these token(s) are bound to other subjects too: revoking them would cut those subjects off as well.") {
		t.Errorf("dry-run table = %d:\n%s", code, out)
	}

	typo := "customer:441"
	code, _, errOut = runWithErase(t, "erase", "--subject", typo)
	if code != ExitUsage || !strings.Contains(errOut, `subject "customer:441" matches no token and no earlier deletion request`) || !strings.Contains(errOut, "--yes") {
		t.Errorf("erase of a subject matching nothing = %d %q, want 2 asking for --yes", code, errOut)
	}
	if erased, err := admin.ErasedSubjects(context.Background()); err != nil || len(erased) != 0 {
		t.Fatalf("erased subjects after the refusal = %v, %v; want none", erased, err)
	}
	if code, _, errOut := runWithErase(t, "erase", "--subject", typo, "--yes"); code != ExitOK {
		t.Fatalf("erase --yes = %d %s", code, errOut)
	}
	// An earlier request for the subject is confirmation enough; a bound token too.
	if code, _, errOut := runWithErase(t, "erase", "--subject", typo); code != ExitOK {
		t.Errorf("second request for an erased subject = %d %s", code, errOut)
	}
	if code, _, errOut := runWithErase(t, "erase", "--subject", eraseSubject); code != ExitOK {
		t.Errorf("erase of a subject with %d bound tokens = %d %s", len(bound), code, errOut)
	}
}
