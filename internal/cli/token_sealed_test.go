package cli

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// TestTokenCreateRotate_recipientPrintsOnlyTheSealedSecret proves `token create --recipient`
// and `token rotate --recipient` (issue 21, point 2): the output holds the sealed file and no
// secret; the recipient's identity decrypts it to a secret that `token introspect` finds
// active, before and after the rotation; a private key given as recipient exits 2 naming
// the mistake without printing the key.
func TestTokenCreateRotate_recipientPrintsOnlyTheSealedSecret(t *testing.T) {
	t.Setenv("TOKENGUARD_ADMIN_TOKEN", "")
	db := filepath.Join(t.TempDir(), "tg.db")
	url, logs, stop := startServe(t, "--db", db)
	defer stop()
	raw, err := os.ReadFile(db + ".admin-token") //nolint:gosec // G304: the admin token file serve wrote in the test's directory
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("TOKENGUARD_ENDPOINT", url)
	t.Setenv("TOKENGUARD_TOKEN", strings.TrimSpace(string(raw)))
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	open := func(out string) string {
		t.Helper()
		i := strings.Index(out, "-----BEGIN AGE ENCRYPTED FILE-----")
		if i < 0 || strings.Contains(out, "tg_") {
			t.Fatalf("output is not only a sealed secret:\n%s", out)
		}
		rd, err := age.Decrypt(armor.NewReader(strings.NewReader(out[i:])), id)
		if err != nil {
			t.Fatalf("decrypting the printed sealed secret: %v", err)
		}
		b, err := io.ReadAll(rd)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	active := func(secret string) bool {
		t.Helper()
		code, out, _ := run(t, secret+"\n", "token", "introspect")
		return code == 0 && strings.Contains(out, "active: true")
	}

	code, out, errs := run(t, "", "token", "create", "--name", "claims-reader", "--owner", "team-claims",
		"--purpose", "read claim records for the fraud review", "--scope", "claims:read",
		"--data-category", "commercial", "--rotation-overlap", "1h", "--recipient", id.Recipient().String())
	if code != 0 || !strings.Contains(out, "SEALED SECRET (shown only this once") {
		t.Fatalf("token create --recipient = %d\n%s%s", code, out, errs)
	}
	first := open(out)
	if !active(first) {
		t.Fatal("the secret sealed at create is not active")
	}
	tokID := ""
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "id:"); ok {
			tokID = strings.TrimSpace(v)
		}
	}
	code, out, errs = run(t, "", "token", "rotate", tokID, "--recipient", id.Recipient().String())
	if code != 0 {
		t.Fatalf("token rotate --recipient = %d\n%s%s", code, out, errs)
	}
	second := open(out)
	if second == first || !active(second) {
		t.Fatal("the re-sealed secret is not a new active secret")
	}

	code, out, errs = run(t, "", "token", "rotate", tokID, "--recipient", id.String())
	if code != ExitUsage || !strings.Contains(errs, "age identity (a private key)") || strings.Contains(out+errs, id.String()) {
		t.Fatalf("token rotate --recipient <identity> = %d; want exit 2 naming the mistake without the key\n%s%s", code, out, errs)
	}
	for _, s := range []string{first, second, id.String()} {
		if strings.Contains(logs.String(), s) {
			t.Fatal("the service log holds a secret or the identity")
		}
	}
}
