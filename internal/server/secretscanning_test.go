package server_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// scanKey is a signing key of the test's own secret scanner and the key file that lists it.
type scanKey struct {
	id   string
	priv *ecdsa.PrivateKey
}

func newScanKey(t *testing.T, id string) scanKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return scanKey{id: id, priv: priv}
}

// keyFile is the JSON GitHub publishes its keys in, listing keys.
func keyFile(t *testing.T, keys ...scanKey) []byte {
	t.Helper()
	type entry struct {
		KeyIdentifier string `json:"key_identifier"`
		Key           string `json:"key"`
		IsCurrent     bool   `json:"is_current"`
	}
	var doc struct {
		PublicKeys []entry `json:"public_keys"`
	}
	for i, k := range keys {
		der, err := x509.MarshalPKIXPublicKey(&k.priv.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		doc.PublicKeys = append(doc.PublicKeys, entry{k.id, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), i == 0})
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sign is the base64 DER ECDSA signature of SHA-256(body), as the program sends it.
func (k scanKey) sign(t *testing.T, body []byte) string {
	t.Helper()
	digest := sha256.Sum256(body)
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// postReport posts body with the given key id and signature headers ("" leaves one out).
func postReport(t *testing.T, svc *servertest.Service, body []byte, keyID, sig string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, svc.URL+"/v1/secret-scanning/reports", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if keyID != "" {
		req.Header.Set("Github-Public-Key-Identifier", keyID)
	}
	if sig != "" {
		req.Header.Set("Github-Public-Key-Signature", sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer closeOrFail(t, "the response body", resp.Body)
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// TestSecretScanning_signedReportRevokesLiveSecrets runs runSecretScanning on SQLite.
func TestSecretScanning_signedReportRevokesLiveSecrets(t *testing.T) { runSecretScanning(t, nil) }

// TestSecretScanning_signedReportRevokesLiveSecrets_PostgreSQL runs it on PostgreSQL.
func TestSecretScanning_signedReportRevokesLiveSecrets_PostgreSQL(t *testing.T) {
	runSecretScanning(t, postgresWrap(t))
}

// runSecretScanning proves issue 16, point 4: a leaked-secret report in the secret scanning
// partner program's format, signed by a configured key, revokes every reported live tg_
// secret (the next introspection is inactive), labels each secret true_positive or
// false_positive by its SHA-256 (never echoing it), and records the report's url, source and
// type with the signing key as actor in the audit log; an unsigned, forged, tampered or
// unknown-key report is refused 401 and changes nothing; no secret reaches the logs or the
// audit log.
func runSecretScanning(t *testing.T, wrap func(store.Store) store.Store) {
	ctx := context.Background()
	scanner, impostor := newScanKey(t, "scanner-key-1"), newScanKey(t, "scanner-key-1")
	retired := newScanKey(t, "scanner-key-0")
	keys, err := server.ParseSecretScanningKeys(keyFile(t, scanner, retired))
	if err != nil {
		t.Fatal(err)
	}
	svc := servertest.Start(t, servertest.Options{WrapStore: wrap, SecretScanningKeys: keys, AuthFailuresPerMinute: -1})
	admin := svc.Client(t)
	ic, _ := introspector(t, svc)
	active := func(secret string) bool {
		t.Helper()
		in, err := ic.Introspect(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		return in.Active
	}
	leaked, err := admin.CreateToken(ctx, compliantRequest("leaked"), "")
	if err != nil {
		t.Fatal(err)
	}
	leakedToo, err := admin.CreateToken(ctx, compliantRequest("leaked-too"), "")
	if err != nil {
		t.Fatal(err)
	}
	safe, err := admin.CreateToken(ctx, compliantRequest("not-leaked"), "")
	if err != nil {
		t.Fatal(err)
	}
	lookAlike := leaked.Secret[:len(leaked.Secret)-1] + map[bool]string{true: "B", false: "A"}[strings.HasSuffix(leaked.Secret, "A")]
	report := []map[string]string{
		{"token": leaked.Secret, "type": "tokenguard_api_token", "url": "https://github.com/octo/repo/blob/abc/config.env", "source": "content"},
		{"token": lookAlike, "type": "tokenguard_api_token", "url": "https://github.com/octo/repo/blob/abc/x", "source": "content"},
		{"token": "tg_live_not_one_of_ours", "type": "tokenguard_api_token", "url": "https://gist.github.com/x", "source": "gist"}, //nolint:gosec // G101: a made-up string that is no secret

	}
	body, err := json.Marshal(report)
	if err != nil {
		t.Fatal(err)
	}

	// Refused reports: each 401, none changes anything.
	tampered := bytes.Replace(body, []byte("config.env"), []byte("config.EVIL"), 1)
	refusals := []struct {
		name       string
		body       []byte
		keyID, sig string
	}{
		{"unsigned", body, "", ""},
		{"no key id", body, "", scanner.sign(t, body)},
		{"no signature", body, scanner.id, ""},
		{"forged (another key under the configured id)", body, scanner.id, impostor.sign(t, body)},
		{"tampered body", tampered, scanner.id, scanner.sign(t, body)},
		{"unknown key id", body, "scanner-key-9", scanner.sign(t, body)},
		{"signature not base64", body, scanner.id, "%%%"},
		{"signature of the empty body", body, scanner.id, scanner.sign(t, nil)},
	}
	for _, r := range refusals {
		status, out := postReport(t, svc, r.body, r.keyID, r.sig)
		if status != 401 {
			t.Errorf("%s: status %d (%s), want 401", r.name, status, out)
		}
	}
	if !active(leaked.Secret) || !active(leakedToo.Secret) || !active(safe.Secret) {
		t.Fatal("a refused report revoked a token")
	}

	status, out := postReport(t, svc, body, scanner.id, scanner.sign(t, body))
	if status != 200 {
		t.Fatalf("signed report: %d %s", status, out)
	}
	var labels []struct {
		TokenHash string `json:"token_hash"`
		TokenType string `json:"token_type"`
		Label     string `json:"label"`
	}
	if err := json.Unmarshal(out, &labels); err != nil || len(labels) != len(report) {
		t.Fatalf("answer %s: want one label per reported secret", out)
	}
	for i, want := range []string{"true_positive", "false_positive", "false_positive"} {
		sum := sha256.Sum256([]byte(report[i]["token"]))
		if labels[i].Label != want || labels[i].TokenHash != fmt.Sprintf("%x", sum) || labels[i].TokenType != "tokenguard_api_token" {
			t.Errorf("label %d = %+v, want %s for the SHA-256 of the reported secret", i, labels[i], want)
		}
	}
	if bytes.Contains(out, []byte(leaked.Secret)) {
		t.Fatal("the answer echoes the leaked secret")
	}
	if active(leaked.Secret) {
		t.Fatal("the reported secret still introspects active")
	}
	if !active(leakedToo.Secret) || !active(safe.Secret) {
		t.Fatal("a token that was not reported was revoked")
	}
	// A report signed by a key that is listed but no longer current is accepted too, and a
	// repeated report of an already revoked secret is still a true positive.
	again, err := json.Marshal([]map[string]string{
		{"token": leakedToo.Secret, "type": "tokenguard_api_token", "url": "https://github.com/octo/other", "source": "commit"},
		{"token": leaked.Secret, "type": "tokenguard_api_token", "url": "https://github.com/octo/repo", "source": "content"},
	})
	if err != nil {
		t.Fatal(err)
	}
	status, out = postReport(t, svc, again, retired.id, retired.sign(t, again))
	if status != 200 || strings.Count(string(out), "true_positive") != 2 || active(leakedToo.Secret) {
		t.Fatalf("report signed by the retired key: %d %s, leaked-too active %v", status, out, active(leakedToo.Secret))
	}

	svc.Flush(t)
	page, err := admin.ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	revocations := map[string]wire.AuditRecord{}
	for _, rec := range page.Records {
		raw, _ := json.Marshal(rec)
		if strings.Contains(string(raw), leaked.Secret) || strings.Contains(string(raw), leakedToo.Secret) {
			t.Fatalf("audit record %d holds a reported secret", rec.Seq)
		}
		if rec.Action == audit.ActionRevoke && rec.Details["via"] == "secret_scanning" {
			revocations[rec.TokenID] = rec
		}
	}
	first, ok := revocations[leaked.ID]
	if !ok || len(revocations) != 2 || first.Actor != "secret-scanning:scanner-key-1" ||
		first.Details["url"] != report[0]["url"] || first.Details["source"] != "content" || first.Details["type"] != "tokenguard_api_token" {
		t.Fatalf("secret scanning revocations %+v, want leaked and leaked-too with url, source and signing key", revocations)
	}
	if revocations[leakedToo.ID].Actor != "secret-scanning:scanner-key-0" {
		t.Errorf("second report's actor %q", revocations[leakedToo.ID].Actor)
	}
	if logs := svc.Logs.String(); strings.Contains(logs, leaked.Secret) || strings.Contains(logs, leakedToo.Secret) || strings.Contains(logs, lookAlike) {
		t.Fatal("the server log holds a reported secret")
	}
}

// TestSecretScanning_badKeyFilesAndUnconfiguredService checks that a key file that is not
// GitHub's shape, lists no key, or holds a non-P-256 or non-PEM key is refused with an error
// naming the problem, and that a service started without keys answers 404 (and revokes
// nothing) whatever the report.
func TestSecretScanning_badKeyFilesAndUnconfiguredService(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaDER, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaPEM, _ := json.Marshal(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaDER})))
	k := newScanKey(t, "dup")
	dup := keyFile(t, k, k)
	for name, c := range map[string]struct{ data, want string }{
		"not JSON":      {"nope", "not the JSON GitHub publishes"},
		"no keys":       {`{"public_keys":[]}`, "public_keys is empty"},
		"no identifier": {`{"public_keys":[{"key":"x"}]}`, "no key_identifier"},
		"not PEM":       {`{"public_keys":[{"key_identifier":"a","key":"x"}]}`, "not a PEM public key"},
		"RSA key":       {`{"public_keys":[{"key_identifier":"a","key":` + string(rsaPEM) + `}]}`, "ECDSA P-256"},
		"listed twice":  {string(dup), "listed twice"},
	} {
		if _, err := server.ParseSecretScanningKeys([]byte(c.data)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one saying %q", name, err, c.want)
		}
	}

	svc := servertest.Start(t, servertest.Options{})
	tok, err := svc.Client(t).CreateToken(context.Background(), compliantRequest("unconfigured"), "")
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`[{"token":"` + tok.Secret + `","type":"t","url":"u","source":"content"}]`)
	if status, out := postReport(t, svc, body, k.id, k.sign(t, body)); status != 404 || !strings.Contains(string(out), "--secret-scanning-keys") {
		t.Fatalf("unconfigured service: %d %s, want 404 naming --secret-scanning-keys", status, out)
	}
	got, err := svc.Client(t).GetToken(context.Background(), tok.ID)
	if err != nil || got.Status != "active" {
		t.Fatalf("token after a report to an unconfigured service: %+v, %v", got, err)
	}
}
