package cli

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/keyring"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// TestAdminRekey_restrictedCredentialWorksWithoutTheOldKey proves that admin rekey
// re-encrypts the owner of an owner-restricted credential: after a rekey, the rotation of
// the credentials (their secret hashes cannot be rehashed without the secrets) and the
// removal of the old key set from the key file, the restarted service still lists the
// credential with its owner, rotates it, and keeps it restricted to that owner; on SQLite
// and on PostgreSQL.
func TestAdminRekey_restrictedCredentialWorksWithoutTheOldKey(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "tg.db")
		testRestrictedCredentialAcrossRekey(t, db, db+".key")
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		testRestrictedCredentialAcrossRekey(t, freshPostgresDatabase(t), filepath.Join(t.TempDir(), "tokenguard.key"))
	})
}

func testRestrictedCredentialAcrossRekey(t *testing.T, db, keyFile string) {
	const admin = "tgc_rekey-credential-test-admin-0123456789abcdef"
	t.Setenv("TOKENGUARD_ADMIN_TOKEN", admin)
	ctx := context.Background()
	stopped := func(stop func() int) {
		t.Helper()
		if code := stop(); code != 0 {
			t.Fatalf("serve exited %d", code)
		}
	}
	connect := func(url, secret string) *client.Client {
		t.Helper()
		c, err := client.New(client.Config{Endpoint: url, Token: secret, RetryMax: -1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	url, _, stop := startServe(t, "--db", db, "--key-file", keyFile)
	adm := connect(url, admin)
	mine := wire.CreateTokenRequest{Name: "orders-reader", Owner: "team-mine", Purpose: "read orders for the nightly invoice run",
		Scopes: []string{"orders:read"}, DataCategories: []string{"commercial"}}
	theirs := mine
	theirs.Owner = "team-theirs"
	own, err := adm.CreateToken(ctx, mine, "")
	if err != nil {
		t.Fatal(err)
	}
	other, err := adm.CreateToken(ctx, theirs, "")
	if err != nil {
		t.Fatal(err)
	}
	cred, err := adm.CreateCredential(ctx, wire.CreateCredentialRequest{Name: "mine-reader", Role: "reader", Owner: "team-mine"}, "")
	if err != nil {
		t.Fatal(err)
	}
	stopped(stop)
	old, err := keyring.Load(keyFile)
	if err != nil {
		t.Fatal(err)
	}

	code, out, errs := runAdmin(t, "rekey", "--db", db, "--key-file", keyFile, "--new-key")
	if code != 0 {
		t.Fatalf("admin rekey --new-key = %d\n%s%s", code, out, errs)
	}
	// The bootstrap admin and the reader; the reader's owner is the one envelope.
	if !strings.Contains(out, "2 credentials read, 1 credential owners re-encrypted") {
		t.Fatalf("rekey output does not count the credential owner:\n%s", out)
	}
	if strings.Contains(out+errs, "team-mine") || strings.Contains(out+errs, cred.Secret) {
		t.Fatal("rekey output holds a credential's owner or secret")
	}

	// With both key sets, rotate both credentials so their secrets are hashed under the new
	// key (overlap 0: the old secrets end now).
	url, _, stop = startServe(t, "--db", db, "--key-file", keyFile)
	adm = connect(url, admin)
	creds, err := adm.ListCredentials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var adminID string
	for _, c := range creds {
		if c.Role == "admin" {
			adminID = c.ID
		}
	}
	newAdmin, err := adm.RotateCredential(ctx, adminID, wire.RotateCredentialRequest{Overlap: "0s"}, "")
	if err != nil {
		t.Fatal(err)
	}
	adm = connect(url, newAdmin.Secret)
	rotated, err := adm.RotateCredential(ctx, cred.ID, wire.RotateCredentialRequest{Overlap: "0s"}, "")
	if err != nil {
		t.Fatal(err)
	}
	stopped(stop)

	// Remove the old key set: nothing left in the database may need it but the audit chain
	// (which audit verify needs the old key file for) and the tokens' secret hashes.
	removeKeySet(t, keyFile, old.KeyID())
	if keys, err := keyring.Load(keyFile); err != nil || len(keys.KeyIDs()) != 1 || keys.KeyIDs()[0] == old.KeyID() {
		t.Fatalf("key file after removing %s: %v, %v", old.KeyID(), keys, err)
	}

	url, _, stop = startServe(t, "--db", db, "--key-file", keyFile)
	defer stopped(stop)
	adm = connect(url, newAdmin.Secret)
	creds, err = adm.ListCredentials(ctx)
	if err != nil {
		t.Fatalf("listing credentials without the old key set: %v", err)
	}
	found := false
	for _, c := range creds {
		if c.ID == cred.ID {
			found = true
			if c.Owner != "team-mine" || c.Role != "reader" {
				t.Fatalf("restricted credential listed as %+v; want reader restricted to team-mine", c)
			}
		}
	}
	if !found {
		t.Fatalf("restricted credential %s not listed", cred.ID)
	}
	reader := connect(url, rotated.Secret)
	if got, err := reader.GetToken(ctx, own.ID); err != nil || got.Owner != "team-mine" {
		t.Fatalf("restricted reader reading its owner's token = %+v, %v", got, err)
	}
	var re *client.ResponseError
	if _, err := reader.GetToken(ctx, other.ID); !errors.As(err, &re) || re.StatusCode != 404 {
		t.Fatalf("restricted reader reading another owner's token = %v; want 404", err)
	}
	list, err := reader.ListTokens(ctx, wire.ListTokensOptions{})
	if err != nil || len(list.Tokens) != 1 || list.Tokens[0].ID != own.ID {
		t.Fatalf("restricted reader's list = %+v, %v; want its owner's one token", list.Tokens, err)
	}
	if list, err := reader.ListTokens(ctx, wire.ListTokensOptions{Owner: "team-theirs"}); err != nil || len(list.Tokens) != 0 {
		t.Fatalf("restricted reader listing another owner's tokens = %d tokens, %v; want none", len(list.Tokens), err)
	}
	// Its answer opens the owner: a rotation needs the re-encrypted envelope too.
	again, err := adm.RotateCredential(ctx, cred.ID, wire.RotateCredentialRequest{Overlap: "0s"}, "")
	if err != nil || again.Owner != "team-mine" {
		t.Fatalf("rotating the restricted credential without the old key set = %+v, %v", again, err)
	}
	if _, err := connect(url, again.Secret).GetToken(ctx, other.ID); !errors.As(err, &re) || re.StatusCode != 404 {
		t.Fatalf("rotated restricted reader reading another owner's token = %v; want 404", err)
	}
}

// removeKeySet deletes the key set id from the key file at path, as an operator retiring it
// would (the file keeps mode 0600).
func removeKeySet(t *testing.T, path, id string) {
	t.Helper()
	raw, err := os.ReadFile(path) //nolint:gosec // the test's own key file
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]json.RawMessage
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	var sets []map[string]json.RawMessage
	if err := json.Unmarshal(f["keys"], &sets); err != nil {
		t.Fatal(err)
	}
	kept := sets[:0]
	for _, ks := range sets {
		var got string
		if err := json.Unmarshal(ks["id"], &got); err != nil {
			t.Fatal(err)
		}
		if got != id {
			kept = append(kept, ks)
		}
	}
	if len(kept) != len(sets)-1 {
		t.Fatalf("key file holds no key set %s", id)
	}
	if f["keys"], err = json.Marshal(kept); err != nil {
		t.Fatal(err)
	}
	if raw, err = json.Marshal(f); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
}
