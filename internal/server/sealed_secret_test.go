package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
)

// openSealed decrypts an armored age file with id, failing t when it does not decrypt.
func openSealed(t *testing.T, sealed string, id age.Identity) string {
	t.Helper()
	rd, err := age.Decrypt(armor.NewReader(strings.NewReader(sealed)), id)
	if err != nil {
		t.Fatalf("decrypting sealed_secret: %v", err)
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSealedSecret_decryptsToAnActiveSecretAlsoAfterRotation proves issue 21, point 2 at the
// service: a create naming a recipient answers sealed_secret and no secret; the recipient's
// identity decrypts it to a secret that introspects active; a rotation naming the recipient
// re-seals a new secret that introspects active while the old one stops after the overlap;
// a replayed create (same Idempotency-Key) answers the same sealed secret, never a clear
// one; neither the secret nor the sealed file appears in the audit log or the service log,
// and the audit records say the secret was sealed, and to which recipient.
func TestSealedSecret_decryptsToAnActiveSecretAlsoAfterRotation(t *testing.T) {
	ctx := context.Background()
	clock := servertest.NewClock(t0)
	svc := servertest.Start(t, servertest.Options{Now: clock.Now})
	admin := svc.Client(t)
	ic, _ := introspector(t, svc)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	recipient := id.Recipient().String()
	active := func(secret string) bool {
		t.Helper()
		in, err := ic.Introspect(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		return in.Active
	}

	req := compliantRequest("sealed-export")
	req.Recipient = recipient
	created, err := admin.CreateToken(ctx, req, "sealed-create")
	if err != nil {
		t.Fatal(err)
	}
	if created.Secret != "" || !strings.HasPrefix(created.SealedSecret, "-----BEGIN AGE ENCRYPTED FILE-----") {
		t.Fatalf("create answered secret %q and sealed_secret %q; want only an armored sealed_secret", created.Secret, created.SealedSecret)
	}
	first := openSealed(t, created.SealedSecret, id)
	if !strings.HasPrefix(first, "tg_") || !active(first) {
		t.Fatalf("the sealed secret decrypts to %d characters that do not introspect active", len(first))
	}
	replayed, err := admin.CreateToken(ctx, req, "sealed-create")
	if err != nil || replayed.ID != created.ID || replayed.Secret != "" || replayed.SealedSecret != created.SealedSecret {
		t.Fatalf("replayed create = id %s secret %q, same sealed %v, %v; want the first answer", replayed.ID, replayed.Secret, replayed.SealedSecret == created.SealedSecret, err)
	}

	clock.Advance(time.Hour)
	rotated, err := admin.RotateToken(ctx, created.ID, client.RotateRequest{Recipient: recipient}, "")
	if err != nil {
		t.Fatal(err)
	}
	if rotated.Secret != "" || rotated.SealedSecret == "" {
		t.Fatalf("rotate answered secret %q and sealed_secret %q; want only sealed_secret", rotated.Secret, rotated.SealedSecret)
	}
	second := openSealed(t, rotated.SealedSecret, id)
	if second == first || !active(second) || !active(first) {
		t.Fatal("after the rotation the re-sealed secret is not a new active secret, or the previous one stopped inside the overlap")
	}
	clock.Advance(time.Hour) // the overlap of compliantRequest
	if active(first) || !active(second) {
		t.Fatal("after the overlap the previous secret still works, or the re-sealed one stopped")
	}

	// The raw answer has no secret member at all.
	raw := rawPost(t, svc, "/v1/tokens/"+created.ID+"/rotate", `{"recipient":"`+recipient+`","overlap":"1s"}`)
	if _, ok := raw["secret"]; ok {
		t.Fatalf("the raw rotate answer has a secret member: %v", keys(raw))
	}
	if s, _ := raw["sealed_secret"].(string); s == "" {
		t.Fatalf("the raw rotate answer has no sealed_secret: %v", keys(raw))
	}

	svc.Flush(t)
	page, err := admin.ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	sealedRecords := 0
	for _, rec := range page.Records {
		b, _ := json.Marshal(rec)
		for _, leak := range []string{first, second, "AGE ENCRYPTED", id.String()} {
			if bytes.Contains(b, []byte(leak)) {
				t.Fatalf("audit record %d holds a secret or a sealed file: %s", rec.Seq, b)
			}
		}
		if rec.Details["secret_sealed"] == "age-x25519" && rec.Details["recipient"] == recipient {
			sealedRecords++
		}
	}
	if sealedRecords != 3 { // the create and two rotations
		t.Fatalf("%d audit records say the secret was sealed to the recipient, want 3", sealedRecords)
	}
	for _, leak := range []string{first, second, "AGE ENCRYPTED"} {
		if strings.Contains(svc.Logs.String(), leak) {
			t.Fatal("the service log holds a secret or a sealed file")
		}
	}
}

// TestSealedSecret_invalidRecipientIsRefusedAndIssuesNothing: a create or rotate whose
// recipient is not an age X25519 public key gets 400 naming the field and the mistake,
// without repeating the value, and issues nothing: no token, no new secret version.
func TestSealedSecret_invalidRecipientIsRefusedAndIssuesNothing(t *testing.T) {
	ctx := context.Background()
	svc := servertest.Start(t, servertest.Options{Now: servertest.NewClock(t0).Now})
	admin := svc.Client(t)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	good := id.Recipient().String()
	bad := map[string]string{
		"identity":         id.String(),
		"token secret":     "tg_live_abcdefghijkl_0123456789abcdefghijklmnop",
		"ssh key":          "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG",
		"zero-width space": good[:8] + "\u200b" + good[8:],
		"look-alike":       "\u0430ge1" + good[4:],
		"upper case":       strings.ToUpper(good),
		"truncated":        good[:50],
		"blank":            "  ",
		"padded":           good + "\n",
	}
	existing, err := admin.CreateToken(ctx, compliantRequest("clear-export"), "")
	if err != nil {
		t.Fatal(err)
	}
	for name, value := range bad {
		req := compliantRequest("sealed-" + strings.ReplaceAll(name, " ", "-"))
		req.Recipient = value
		_, err := admin.CreateToken(ctx, req, "")
		wantAPIError(t, err, http.StatusBadRequest, "invalid_request", "recipient")
		var re *client.ResponseError
		_ = errors.As(err, &re)
		if strings.TrimSpace(value) != "" && strings.Contains(re.Message, strings.TrimSpace(value)) {
			t.Fatalf("%s: the refusal repeats the value: %q", name, re.Message)
		}
		if !strings.Contains(re.Message, "age-keygen") {
			t.Fatalf("%s: the refusal does not say what to give: %q", name, re.Message)
		}
		_, err = admin.RotateToken(ctx, existing.ID, client.RotateRequest{Recipient: value}, "")
		wantAPIError(t, err, http.StatusBadRequest, "invalid_request", "recipient")
	}
	list, err := admin.ListTokens(ctx, client.ListTokensOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := admin.GetToken(ctx, existing.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Tokens) != 1 || got.SecretVersion != 1 {
		t.Fatalf("refused requests issued something: %d tokens, secret_version %d", len(list.Tokens), got.SecretVersion)
	}
}

// rawPost posts body to path as the admin and decodes the JSON answer, failing t unless 200.
func rawPost(t *testing.T, svc *servertest.Service, path, body string) map[string]any {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, svc.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+svc.AdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d, %v", path, resp.StatusCode, err)
	}
	return out
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
