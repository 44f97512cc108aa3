package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/keyring"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// runAdmin runs "tokenguard admin ARGS" and returns the exit code, stdout and stderr the way
// RunContext would. (The admin command is wired into the root command in cli.go.)
func runAdmin(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := newAdminCommand(&streams{in: strings.NewReader(""), out: &out, err: &errb})
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	if err == nil {
		return ExitOK, out.String(), errb.String()
	}
	errb.WriteString(err.Error())
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code, out.String(), errb.String()
	}
	return ExitUsage, out.String(), errb.String()
}

func TestAdminRekey_newKeyReencryptsAndTheServiceKeepsEveryTokenValid(t *testing.T) {
	const admin = "tgc_rekey-test-admin-credential-0123456789abcdef"
	t.Setenv("TOKENGUARD_ADMIN_TOKEN", admin)
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "tg.db")
	keyFile := db + ".key"
	url, _, stop := startServe(t, "--db", db)
	c, err := client.New(client.Config{Endpoint: url, Token: admin, RetryMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	req := wire.CreateTokenRequest{Name: "rekeyed", Owner: "team-keys", Purpose: "prove tokens survive a key rotation",
		Scopes: []string{"orders:read"}, DataCategories: []string{"identifiers"}, DataSubjects: []string{"customer:9"}}
	tok, err := c.CreateToken(ctx, req, "")
	if err != nil {
		t.Fatal(err)
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	old, err := keyring.Load(keyFile)
	if err != nil {
		t.Fatal(err)
	}

	code, out, errs := runAdmin(t, "rekey", "--db", db, "--new-key")
	if code != 0 {
		t.Fatalf("admin rekey --new-key = %d\n%s%s", code, out, errs)
	}
	keys, err := keyring.Load(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if keys.KeyID() == old.KeyID() || len(keys.KeyIDs()) != 2 {
		t.Fatalf("key file after --new-key: current %s, %d sets; want a new current key and the old one kept", keys.KeyID(), len(keys.KeyIDs()))
	}
	for _, want := range []string{"added key " + keys.KeyID(), "1 tokens read, 2 personal-field values re-encrypted", "no service held the database"} {
		if !strings.Contains(out, want) {
			t.Fatalf("rekey output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+errs, tok.Secret) || strings.Contains(out+errs, "customer:9") {
		t.Fatal("rekey output holds a secret or a data subject")
	}
	// Running it again finds nothing left under an old key.
	if code, out, _ := runAdmin(t, "rekey", "--db", db, "--key-file", keyFile); code != 0 || !strings.Contains(out, "0 personal-field values re-encrypted") {
		t.Fatalf("second rekey = %d %s", code, out)
	}

	url, _, stop = startServe(t, "--db", db)
	c, err = client.New(client.Config{Endpoint: url, Token: admin, RetryMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.GetToken(ctx, tok.ID); err != nil || got.Owner != "team-keys" || len(got.DataSubjects) != 1 || got.DataSubjects[0] != "customer:9" {
		t.Fatalf("token after rekey = %+v, %v", got, err)
	}
	if in, err := c.Introspect(ctx, tok.Secret); err != nil || !in.Active {
		t.Fatalf("secret hashed under the old key after rekey: active %v, %v", in.Active, err)
	}
	list, err := c.ListTokens(ctx, wire.ListTokensOptions{Subject: "customer:9"})
	if err != nil || len(list.Tokens) != 1 {
		t.Fatalf("lookup by data subject after rekey = %d tokens, %v", len(list.Tokens), err)
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	if code, out, errs := run(t, "", "audit", "verify", "--db", db); code != 0 {
		t.Fatalf("audit verify after rekey = %d %s %s", code, out, errs)
	}
}

func TestAdminRekey_refusesMissingDatabaseBadKeyFileAndPostgresURL(t *testing.T) {
	dir := t.TempDir()
	if code, _, errs := runAdmin(t, "rekey"); code != ExitUsage || !strings.Contains(errs, "--db is required") {
		t.Fatalf("rekey without --db = %d %q", code, errs)
	}
	if code, _, errs := runAdmin(t, "rekey", "--db", filepath.Join(dir, "missing.db")); code != ExitUsage || !strings.Contains(errs, "does not exist") {
		t.Fatalf("rekey of a missing database = %d %q", code, errs)
	}
	if code, _, errs := runAdmin(t, "rekey", "--db", "postgres://app:hunter2@db/tokens"); code != ExitUsage || strings.Contains(errs, "hunter2") {
		t.Fatalf("rekey with a PostgreSQL URL = %d %q; want exit 2 without the password", code, errs)
	}
	db := filepath.Join(dir, "tg.db")
	if err := os.WriteFile(db, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "tokenguard.key")
	if err := os.WriteFile(keyFile, []byte(`{"version":1}`), 0o644); err != nil { //nolint:gosec // G306: the world-readable key file rekey must refuse
		t.Fatal(err)
	}
	if code, _, errs := runAdmin(t, "rekey", "--db", db, "--new-key"); code != ExitFindings || !strings.Contains(errs, "chmod 600") {
		t.Fatalf("rekey with a world-readable key file = %d %q", code, errs)
	}
}
