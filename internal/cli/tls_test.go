package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// selfSignedCert writes a self-signed certificate for 127.0.0.1 and its key to dir and
// returns the two paths and the certificate PEM.
func selfSignedCert(t *testing.T, dir string) (certPath, keyPath, certPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "tokenguard test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certPath, []byte(certPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath, certPEM
}

func TestServeTLS_clientWithTheCAConnectsOthersAndPlainHTTPAreRefused(t *testing.T) {
	const admin = "tgc_tls-test-admin-credential-0123456789abcdef"
	t.Setenv("TOKENGUARD_ADMIN_TOKEN", admin)
	dir := t.TempDir()
	certPath, keyPath, certPEM := selfSignedCert(t, dir)
	url, _, stop := startServe(t, "--db", filepath.Join(dir, "tg.db"), "--tls-cert", certPath, "--tls-key", keyPath)
	if !strings.HasPrefix(url, "https://127.0.0.1:") {
		t.Fatalf("serve with TLS listens on %s, want https://127.0.0.1:...", url)
	}
	ctx := context.Background()

	c, err := client.New(client.Config{Endpoint: url, Token: admin, CACertPEM: certPEM, RetryMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.CreateToken(ctx, wire.CreateTokenRequest{Name: "over-tls", Owner: "team-tls",
		Purpose: "prove the service answers over TLS", Scopes: []string{"orders:read"}, DataCategories: []string{}}, "")
	if err != nil {
		t.Fatalf("create over TLS: %v", err)
	}
	if in, err := c.Introspect(ctx, tok.Secret); err != nil || !in.Active {
		t.Fatalf("introspect over TLS = %v, %v", in.Active, err)
	}

	// A client that does not trust the certificate is refused by TLS verification.
	untrusting, err := client.New(client.Config{Endpoint: url, Token: admin, RetryMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	err = untrusting.Ready(ctx)
	var unknownAuthority x509.UnknownAuthorityError
	if !errors.As(err, &unknownAuthority) {
		t.Fatalf("client without the CA = %v, want x509.UnknownAuthorityError", err)
	}
	// Plain HTTP to the TLS port gets no API answer.
	resp, err := http.Get(strings.Replace(url, "https://", "http://", 1) + "/v1/tokens")
	if err == nil {
		if err := resp.Body.Close(); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain HTTP to the TLS listener = %d, want 400 (the TLS server's answer to plain HTTP)", resp.StatusCode)
		}
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}

	// Without TLS, a non-loopback address needs --insecure-http.
	code, _, errs := run(t, "", "serve", "--listen", "192.0.2.1:8790", "--db", filepath.Join(dir, "other.db"))
	if code != ExitUsage || !strings.Contains(errs, "not a loopback address") || !strings.Contains(errs, "--insecure-http") {
		t.Fatalf("plain HTTP on a non-loopback address = %d %q, want exit 2 naming --insecure-http", code, errs)
	}
	// The failed-authentication limit must be positive, or -1 to disable it.
	code, _, errs = run(t, "", "serve", "--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "other.db"), "--auth-failures-per-minute", "0")
	if code != ExitUsage || !strings.Contains(errs, "--auth-failures-per-minute 0") {
		t.Fatalf("--auth-failures-per-minute 0 = %d %q", code, errs)
	}
	// Half a TLS configuration is refused.
	code, _, errs = run(t, "", "serve", "--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "other.db"), "--tls-cert", certPath)
	if code != ExitUsage || !strings.Contains(errs, "--tls-cert and --tls-key go together") {
		t.Fatalf("--tls-cert without --tls-key = %d %q", code, errs)
	}
}
