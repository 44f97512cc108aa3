package cli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/evidencepack"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/keyring"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/testenv"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

var packT0 = time.Date(2030, 4, 1, 9, 0, 0, 0, time.UTC)

// packWorld is a service with every kind of evidence: a rotated token, a renewed token, a
// deletion request that revoked a bound token, uses, an access request and a waiver.
type packWorld struct {
	svc       *servertest.Service
	clock     *servertest.Clock
	secrets   []string // every secret and credential minted, and the subjects (personal data)
	renewed   string
	rotated   string
	deletion  string
	reviewer  string
	waiverWhy string
}

func newPackWorld(t *testing.T) *packWorld {
	t.Helper()
	return newPackWorldWrapped(t, nil)
}

// newPackWorldWrapped is newPackWorld with the service's handler wrapped by wrap (nil: not).
func newPackWorldWrapped(t *testing.T, wrap func(http.Handler) http.Handler) *packWorld {
	t.Helper()
	ctx := context.Background()
	w := &packWorld{clock: servertest.NewClock(packT0), reviewer: "privacy-officer@example.com", waiverWhy: "vendor API cannot rotate before the Q3 migration"}
	w.svc = servertest.Start(t, servertest.Options{Now: w.clock.Now, Wrap: wrap, Waivers: []policy.Waiver{{
		Rule: "CPRA-ROT-001", Address: "tokenguard_api_token.legacy-*", Reason: w.waiverWhy, ApprovedBy: "ciso@example.com",
		Expires: time.Date(2030, 9, 30, 0, 0, 0, 0, time.UTC)}}, WaiversFile: "waivers.json"})
	c := w.svc.Client(t)
	mk := func(name string, subjects ...string) wire.Token {
		tok, err := c.CreateToken(ctx, wire.CreateTokenRequest{Name: name, Owner: "team-orders@example.com",
			Purpose: "Reads the order history of customers for the support console", Scopes: []string{"orders:read"},
			DataCategories: []string{"commercial"}, DataSubjects: subjects, Audiences: []string{"support-console"}, TTL: "30d",
			Rotation: &wire.Rotation{Interval: "7d", Overlap: "1h"}}, "")
		if err != nil {
			t.Fatalf("creating %s: %v", name, err)
		}
		w.secrets = append(w.secrets, tok.Secret)
		return tok
	}
	rot := mk("orders-console", "customer:8101")
	ren := mk("support-lookup")
	mk("erased-sync", "customer:8102")
	w.rotated, w.renewed = rot.ID, ren.ID
	w.clock.Advance(time.Hour)
	r, err := c.RotateToken(ctx, rot.ID, wire.RotateRequest{}, "")
	if err != nil {
		t.Fatal(err)
	}
	w.secrets = append(w.secrets, r.Secret)
	if _, err := c.RenewToken(ctx, ren.ID, wire.RenewRequest{TTL: "30d", Reason: "support contract renewed for a year", ReviewedBy: w.reviewer}, ""); err != nil {
		t.Fatal(err)
	}
	cred, err := c.CreateCredential(ctx, wire.CreateCredentialRequest{Name: "orders-api"}, "")
	if err != nil {
		t.Fatal(err)
	}
	w.secrets = append(w.secrets, cred.Secret, w.svc.AdminToken, "customer:8101", "customer:8102")
	if _, err := w.svc.ClientWithToken(t, cred.Secret).Introspect(ctx, r.Secret); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(time.Hour)
	del, err := c.CreateDeletionRequest(ctx, wire.DeletionRequest{Subject: "customer:8102", Reference: "DSR-2030-0007"}, "")
	if err != nil {
		t.Fatal(err)
	}
	w.deletion = del.ID
	if _, err := c.CreateAccessRequest(ctx, wire.AccessRequest{Subject: "customer:8101"}); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(time.Hour)
	t.Setenv("TOKENGUARD_ENDPOINT", w.svc.URL)
	t.Setenv("TOKENGUARD_TOKEN", w.svc.AdminToken)
	t.Setenv("TOKENGUARD_KEY_FILE", w.svc.KeyPath) // the audit chain's HMACs are verified with it
	return w
}

func (w *packWorld) report() func(*streams) *cobra.Command {
	return func(s *streams) *cobra.Command { return newReportCommandWithClock(s, w.clock.Now) }
}

// writePack runs report evidence to dest and returns the pack read back.
func (w *packWorld) writePack(t *testing.T, dest string) evidencepack.Pack {
	t.Helper()
	code, out, errs := runSubcommand(t, w.report(), "report", "evidence", "--output", dest)
	// 11 parts: the manifest, the 9 parts it lists and the issuance, which records its digest.
	if code != ExitOK || out != "" || !strings.Contains(errs, "wrote the evidence pack (11 parts, 3 tokens, 1 deletion requests, 1 renewals") ||
		!regexp.MustCompile(`manifest digest [0-9a-f]{64}, recorded in audit record \d+ \(evidence.issued\), covered by the signed audit checkpoint of record \d+\n`).MatchString(errs) {
		t.Fatalf("report evidence --output %s = %d, stdout %q, stderr %q", dest, code, out, errs)
	}
	p, err := evidencepack.Read(dest)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (w *packWorld) verify(t *testing.T, pack string) (int, string) {
	t.Helper()
	code, out, errs := runSubcommand(t, w.report(), "report", "verify", pack)
	return code, out + errs
}

// secretPattern finds anything shaped like a token secret or an API credential.
var secretPattern = regexp.MustCompile(`tg_[a-z0-9]+_[A-Za-z0-9]+_[A-Za-z0-9]{20,}|tgc_[A-Za-z0-9_-]{16,}`)

func TestReportEvidence_packHoldsEveryPartAndNoSecret(t *testing.T) {
	w := newPackWorld(t)
	dir := filepath.Join(t.TempDir(), "pack")
	p := w.writePack(t, dir)
	want := []string{"audit-checkpoint.json", "citations.json", "deletion-requests.json", "evidence-issued.json", "index.html", "inventory.json",
		"manifest.json", "policy.json", "renewals.json", "rotation.html", "rotation.json"}
	var got []string
	for name := range p {
		got = append(got, name)
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v mode %v, want mode 0600", name, err, info)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("pack parts = %v, want %v", got, want)
	}
	// The leak scan: no secret, credential or subject in any part, in any encoding the
	// parts use (JSON escapes, HTML escapes).
	for name, b := range p {
		text := string(b)
		for _, s := range w.secrets {
			for _, enc := range []string{s, strings.ReplaceAll(s, ":", "\\u003a"), strings.ReplaceAll(s, ":", "&#58;")} {
				if strings.Contains(text, enc) {
					t.Errorf("%s holds %q", name, s)
				}
			}
		}
		if m := secretPattern.FindString(text); m != "" {
			t.Errorf("%s holds something shaped like a secret: %q", name, m)
		}
	}
	var renewals struct{ Renewals []wire.Renewal }
	if err := json.Unmarshal(p["renewals.json"], &renewals); err != nil || len(renewals.Renewals) != 1 ||
		renewals.Renewals[0].Reviewer != w.reviewer || renewals.Renewals[0].TokenID != w.renewed || renewals.Renewals[0].Reason != "support contract renewed for a year" {
		t.Errorf("renewals.json = %s (%v), want the one renewal with its reason and reviewer", p["renewals.json"], err)
	}
	var pol wire.PolicyInForce
	if err := json.Unmarshal(p["policy.json"], &pol); err != nil || pol.Enforcement != "mandatory" || pol.Bundle == nil ||
		len(pol.Bundle.Digest) != 64 || len(pol.Rules) == 0 || len(pol.Waivers) != 1 || pol.Waivers[0].Reason != w.waiverWhy ||
		pol.Bundle.Thresholds["ttl_max_days"] == nil {
		t.Errorf("policy.json = %s (%v), want mandatory, a digest, the rules, the thresholds and the waiver", p["policy.json"], err)
	}
	var cp evidencepack.Checkpoint
	if err := json.Unmarshal(p["audit-checkpoint.json"], &cp); err != nil || !cp.ChainVerified || cp.Seq == 0 || cp.Seq != cp.Records || len(cp.Hash) != 64 ||
		cp.Kind != evidencepack.CheckpointSigned || len(cp.Signature) != ed25519.SignatureSize || len(cp.PublicKey) != ed25519.PublicKeySize {
		t.Errorf("audit-checkpoint.json = %s (%v), want the signed checkpoint of the verified chain", p["audit-checkpoint.json"], err)
	}
	var cites struct{ Citations []evidencepack.Citation }
	_ = json.Unmarshal(p["citations.json"], &cites)
	var whats []string
	for _, c := range cites.Citations {
		whats = append(whats, c.What)
	}
	for _, want := range []string{"renewal of " + w.renewed, "rotation of " + w.rotated, "deletion request " + w.deletion, "audit checkpoint"} {
		if !slices.Contains(whats, want) {
			t.Errorf("citations %v do not cite the %s", whats, want)
		}
	}
}

func TestReportEvidence_indexRendersInChromiumWithEverySection(t *testing.T) {
	browser := testenv.Chromium(t)
	w := newPackWorld(t)
	dir := filepath.Join(t.TempDir(), "pack")
	p := w.writePack(t, dir)
	page := string(p["index.html"])
	if m := regexp.MustCompile(`(?i)(src|href)="https?:`).FindString(page); m != "" {
		t.Errorf("index.html loads or links something online (%q): it must open offline", m)
	}
	dom := headless(t, browser, "--dump-dom", "file://"+filepath.Join(dir, "index.html"))
	for _, id := range []string{"checkpoint", "inventory", "rotation", "deletions", "renewals", "policy", "thresholds", "waivers", "manifest"} {
		if !strings.Contains(dom, `<section id="`+id+`">`) {
			t.Errorf("the rendered index has no %s section", id)
		}
	}
	for name := range p {
		if name != "index.html" && !strings.Contains(dom, `href="`+name+`"`) {
			t.Errorf("the rendered index does not link %s", name)
		}
	}
	for _, want := range []string{"Audit chain verified", w.reviewer, w.deletion, w.waiverWhy, "ttl_max_days", "CPRA-RET-003", "3 tokens: 2 active, 0 expired, 1 revoked"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered index does not show %q", want)
		}
	}
	for _, s := range w.secrets {
		if strings.Contains(dom, s) {
			t.Errorf("the rendered index shows %q", s)
		}
	}
	shot := filepath.Join(t.TempDir(), "index.png")
	headless(t, browser, "--window-size=1000,1600", "--screenshot="+shot, "file://"+filepath.Join(dir, "index.html"))
	if info, err := os.Stat(shot); err != nil || info.Size() < 10_000 {
		t.Errorf("screenshot: %v (%v)", err, info)
	}
}

func TestReportVerify_passesUntouchedAndFailsAfterOneByteOfAnyPart(t *testing.T) {
	w := newPackWorld(t)
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "pack")
	p := w.writePack(t, dir)
	zipPath := filepath.Join(tmp, "pack.zip")
	w.writePack(t, zipPath)
	for _, pack := range []string{dir, zipPath} {
		if code, out := w.verify(t, pack); code != ExitOK || !strings.Contains(out, "evidence pack verified: 9 parts match manifest.json;") ||
			!strings.Contains(out, "the service holding that key file signed record") {
			t.Fatalf("verify %s untouched = %d %q", pack, code, out)
		}
	}
	// One byte of each part, at its start, middle and end.
	cases := 0
	for name, b := range p {
		for _, at := range []int{0, len(b) / 2, len(b) - 1} {
			cases++
			tampered := filepath.Join(tmp, fmt.Sprintf("t-%s-%d", name, at))
			copyPack(t, p, tampered)
			changed := slices.Clone(b)
			changed[at] ^= 0x01
			if err := os.WriteFile(filepath.Join(tampered, name), changed, 0o600); err != nil {
				t.Fatal(err)
			}
			if code, out := w.verify(t, tampered); code != ExitFindings || !strings.Contains(out, "does not verify") {
				t.Errorf("verify after one byte of %s at %d changed = %d %q, want exit 1", name, at, code, out)
			}
		}
	}
	t.Logf("%d one-byte changes, each refused", cases)
	// One byte of the zip file.
	raw, err := os.ReadFile(zipPath) //nolint:gosec // the test's own file
	if err != nil {
		t.Fatal(err)
	}
	for i, at := range []int{len(raw) / 3, len(raw) / 2} {
		bad := slices.Clone(raw)
		bad[at] ^= 0x01
		badPath := filepath.Join(tmp, fmt.Sprintf("bad-%d.zip", i))
		if err := os.WriteFile(badPath, bad, 0o600); err != nil { //nolint:gosec // G703: the test's own temporary directory
			t.Fatal(err)
		}
		if code, out := w.verify(t, badPath); code == ExitOK {
			t.Errorf("verify of a zip with byte %d changed passed: %q", at, out)
		}
	}
	// A part added, and a part removed.
	added := filepath.Join(tmp, "added")
	copyPack(t, p, added)
	_ = os.WriteFile(filepath.Join(added, "extra.json"), []byte("{}"), 0o600)
	if code, out := w.verify(t, added); code != ExitFindings || !strings.Contains(out, "extra.json is not in the manifest") {
		t.Errorf("verify with a part added = %d %q", code, out)
	}
	removed := filepath.Join(tmp, "removed")
	copyPack(t, p, removed)
	_ = os.Remove(filepath.Join(removed, "renewals.json"))
	if code, out := w.verify(t, removed); code != ExitFindings || !strings.Contains(out, "renewals.json is missing") {
		t.Errorf("verify with a part removed = %d %q", code, out)
	}
}

// TestReportVerify_refusesAPackWhoseCitationsAreNotInTheChain rewrites a pack as someone
// who can write a consistent manifest would (every digest recomputed) but not the audit
// chain: a changed renewal reason with its citation pointing elsewhere, and a tampered chain.
func TestReportVerify_refusesAPackWhoseCitationsAreNotInTheChain(t *testing.T) {
	w := newPackWorld(t)
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "pack")
	p := w.writePack(t, dir)

	forged := evidencepack.Pack{}
	for k, v := range p {
		forged[k] = v
	}
	var cites struct {
		Citations []evidencepack.Citation `json:"citations"`
	}
	if err := json.Unmarshal(p["citations.json"], &cites); err != nil {
		t.Fatal(err)
	}
	cites.Citations[0].Hash = strings.Repeat("ab", 32)
	forged["citations.json"] = mustIndentJSON(t, cites)
	remanifest(t, forged)
	forgedDir := filepath.Join(tmp, "forged")
	copyPack(t, forged, forgedDir)
	if code, out := w.verify(t, forgedDir); code != ExitFindings || !strings.Contains(out, "the verified chain has") {
		t.Errorf("verify of a re-manifested pack with a forged citation = %d %q", code, out)
	}
	if code, out, _ := runSubcommand(t, w.report(), "report", "verify", "--manifest-only", forgedDir); code != ExitOK || !strings.Contains(out, "NOT checked") {
		t.Errorf("--manifest-only on the same pack = %d %q: it checks only the manifest, and must say so", code, out)
	}

	// Someone with database write access rolls the log back (deletes its newest records, or
	// restores an older backup): what is left still verifies as a chain, but the pack's
	// checkpoint is no longer in it.
	db, err := sql.Open("sqlite", w.svc.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	var m evidencepack.Manifest
	if err := json.Unmarshal(p["manifest.json"], &m); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM audit WHERE seq >= ?`, m.Checkpoint.Seq); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	if code, out := w.verify(t, dir); code != ExitFindings || !strings.Contains(out, "truncated or rolled back") {
		t.Errorf("verify after the log was rolled back = %d %q, want the signed checkpoint to catch it", code, out)
	}
}

// TestReportVerify_refusesAPackAfterAnAuditRecordChanged: someone with database write access
// changes the renewal's reason; the chain breaks and the pack no longer verifies.
func TestReportVerify_refusesAPackAfterAnAuditRecordChanged(t *testing.T) {
	w := newPackWorld(t)
	dir := filepath.Join(t.TempDir(), "pack")
	w.writePack(t, dir)
	db, err := sql.Open("sqlite", w.svc.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	res, err := db.Exec(`UPDATE audit SET details = replace(details, 'support contract', 'forged contract') WHERE action = 'token.renew'`)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("tampering changed %d records, want 1", n)
	}
	_ = db.Close()
	if code, out := w.verify(t, dir); code != ExitFindings || !strings.Contains(out, "does not verify") {
		t.Errorf("verify against a tampered chain = %d %q", code, out)
	}
}

func mustIndentJSON(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// remanifest rewrites p's manifest over its parts as they are now, digest included, and the
// digest its issuance records, as someone rewriting a pack would.
func remanifest(t *testing.T, p evidencepack.Pack) {
	t.Helper()
	var m evidencepack.Manifest
	if err := json.Unmarshal(p["manifest.json"], &m); err != nil {
		t.Fatal(err)
	}
	for i, f := range m.Files {
		s := sha256.Sum256(p[f.Path])
		m.Files[i].SHA256, m.Files[i].Bytes = hex.EncodeToString(s[:]), len(p[f.Path])
	}
	m.Digest = ""
	s := sha256.Sum256(mustIndentJSON(t, m))
	m.Digest = hex.EncodeToString(s[:])
	p["manifest.json"] = mustIndentJSON(t, m)
	var iss evidencepack.Issuance
	if err := json.Unmarshal(p[evidencepack.IssuanceName], &iss); err != nil {
		t.Fatal(err)
	}
	iss.ManifestDigest = m.Digest
	p[evidencepack.IssuanceName] = mustIndentJSON(t, iss)
}

func copyPack(t *testing.T, p evidencepack.Pack, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, b := range p {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReportEvidence_refusesBadOutput(t *testing.T) {
	w := newPackWorld(t)
	tmp := t.TempDir()
	full := filepath.Join(tmp, "full")
	_ = os.MkdirAll(full, 0o700)
	_ = os.WriteFile(filepath.Join(full, "keep.txt"), []byte("x"), 0o600)
	existing := filepath.Join(tmp, "old.zip")
	_ = os.WriteFile(existing, []byte("x"), 0o600)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"report", "evidence"}, "give --output"},
		{[]string{"report", "evidence", "--output", full}, "is not empty"},
		{[]string{"report", "evidence", "--output", existing}, "exists"},
		{[]string{"report", "verify", filepath.Join(tmp, "none")}, "reading the pack"},
	} {
		code, _, errs := runSubcommand(t, w.report(), c.args...)
		if code != ExitUsage || !strings.Contains(errs, c.want) {
			t.Errorf("%v = %d %q, want exit 2 naming %q", c.args, code, errs, c.want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(full, "keep.txt")); string(b) != "x" { //nolint:gosec // the test's own file
		t.Error("a refused pack changed the non-empty directory")
	}
	if b, _ := os.ReadFile(existing); string(b) != "x" { //nolint:gosec // the test's own file
		t.Error("a refused pack changed the existing zip")
	}
}

// withCheckpoint is p with its checkpoint replaced by cp, in audit-checkpoint.json and the
// manifest, and every digest recomputed: what someone who can rewrite a pack produces.
func withCheckpoint(t *testing.T, p evidencepack.Pack, cp evidencepack.Checkpoint) evidencepack.Pack {
	t.Helper()
	out := evidencepack.Pack{}
	for k, v := range p {
		out[k] = v
	}
	var m evidencepack.Manifest
	if err := json.Unmarshal(p["manifest.json"], &m); err != nil {
		t.Fatal(err)
	}
	m.Checkpoint = cp
	out["manifest.json"] = mustIndentJSON(t, m)
	out["audit-checkpoint.json"] = mustIndentJSON(t, cp)
	remanifest(t, out)
	return out
}

func packCheckpoint(t *testing.T, p evidencepack.Pack) evidencepack.Checkpoint {
	t.Helper()
	var cp evidencepack.Checkpoint
	if err := json.Unmarshal(p["audit-checkpoint.json"], &cp); err != nil {
		t.Fatal(err)
	}
	return cp
}

// TestReportVerify_refusesAForgedCheckpoint rewrites the pack's signed checkpoint as someone
// who can rewrite the whole pack (every digest recomputed) but holds no key of the service.
func TestReportVerify_refusesAForgedCheckpoint(t *testing.T) {
	w := newPackWorld(t)
	tmp := t.TempDir()
	p := w.writePack(t, filepath.Join(tmp, "pack"))
	genuine := packCheckpoint(t, p)
	code, published, _ := runSubcommand(t, newAuditCommand, "audit", "checkpoint", "--public-key", "--key-file", w.svc.KeyPath)
	if code != ExitOK || !strings.Contains(published, genuine.KeyID+" "+genuine.EncodedPublicKey()) {
		t.Fatalf("audit checkpoint --public-key = %d %q, want the key the pack embeds (%s)", code, published, genuine.EncodedPublicKey())
	}
	_, attackerKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// The attacker's own signature over the genuine head, under the genuine key set id.
	selfSigned := genuine
	selfSigned.Checkpoint = audit.SignCheckpoint(audit.Record{Seq: genuine.Seq, Hash: genuine.Hash}, genuine.KeyedFrom, genuine.Time, genuine.KeyID, attackerKey)
	selfSigned.PublicKey = attackerKey.Public().(ed25519.PublicKey)
	// An earlier record claimed as the head, the signature kept (the pack then covers less).
	moved := genuine
	moved.Seq, moved.Hash = genuine.Seq-1, strings.Repeat("0", 64)
	unsigned := genuine
	unsigned.Kind = "audit_head"
	noKey := genuine
	noKey.PublicKey = nil

	cases := 0
	for name, c := range map[string]struct {
		cp   evidencepack.Checkpoint
		args []string
		want string
	}{
		"seq and hash changed, signature kept":         {moved, nil, "does not verify (a forged or altered checkpoint)"},
		"seq and hash changed, manifest only":          {moved, []string{"--manifest-only"}, "does not verify (a forged or altered checkpoint)"},
		"not a signed checkpoint":                      {unsigned, nil, "not a signed checkpoint"},
		"no public key":                                {noKey, []string{"--manifest-only"}, "embeds no Ed25519 public key"},
		"self-signed, checked with the key file":       {selfSigned, nil, "does not verify (a forged or altered checkpoint)"},
		"self-signed, checked with the published key":  {selfSigned, []string{"--manifest-only", "--checkpoint-key", published}, "does not verify"},
		"self-signed, published key, no key file":      {selfSigned, []string{"--manifest-only", "--key-file", "", "--checkpoint-key", genuine.EncodedPublicKey()}, "does not verify"},
		"genuine signature, other embedded public key": {func() evidencepack.Checkpoint { c := genuine; c.PublicKey = selfSigned.PublicKey; return c }(), nil, "other than key set"},
	} {
		cases++
		dir := filepath.Join(tmp, fmt.Sprintf("forged-%d", cases))
		copyPack(t, withCheckpoint(t, p, c.cp), dir)
		code, out, errs := runSubcommand(t, w.report(), append([]string{"report", "verify", dir}, c.args...)...)
		if code != ExitFindings || !strings.Contains(out+errs, c.want) {
			t.Errorf("%s: verify = %d %q, want exit 1 saying %q", name, code, out+errs, c.want)
		}
	}
	// What the embedded key alone proves: the self-signed pack passes --manifest-only without
	// any key of the service, and the output says that this proves nothing about who signed.
	dir := filepath.Join(tmp, "self-signed")
	copyPack(t, withCheckpoint(t, p, selfSigned), dir)
	t.Setenv("TOKENGUARD_KEY_FILE", "")
	code, out, errs := runSubcommand(t, w.report(), "report", "verify", "--manifest-only", dir)
	if code != ExitOK || !strings.Contains(out, "NOT that the service signed it") || !strings.Contains(out, "NOT checked") {
		t.Errorf("--manifest-only with only the embedded key = %d %q %q, want a pass that says what it does not prove", code, out, errs)
	}
	t.Setenv("TOKENGUARD_KEY_FILE", w.svc.KeyPath)
	// The same pack against the service: the chain's record has the genuine hash but the
	// signature is not the service's.
	if code, out := w.verify(t, dir); code != ExitFindings {
		t.Errorf("full verify of the self-signed pack = %d %q", code, out)
	}
	t.Logf("%d forged checkpoints, each refused", cases+1)
}

// TestReportVerify_refusesACheckpointOfAnotherChain puts into the pack a genuine checkpoint of
// another service: one with its own key file, and one sharing this service's key file (a copy
// of the database restored elsewhere, or a staging service on the production key file).
func TestReportVerify_refusesACheckpointOfAnotherChain(t *testing.T) {
	w := newPackWorld(t)
	tmp := t.TempDir()
	p := w.writePack(t, filepath.Join(tmp, "pack"))
	ctx := context.Background()

	otherKeyDir := t.TempDir()
	sameKeyDir := t.TempDir()
	key, err := os.ReadFile(w.svc.KeyPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sameKeyDir, "tokenguard.key"), key, 0o600); err != nil { //nolint:gosec // G703: the test's own temporary directory
		t.Fatal(err)
	}
	// The other chains are longer and shorter than the pack's: a checkpoint past this chain's
	// head, and one whose record here has another hash.
	for name, c := range map[string]struct {
		dir    string
		tokens int
	}{"own key file": {otherKeyDir, 12}, "same key file, longer chain": {sameKeyDir, 12}, "same key file, shorter chain": {t.TempDir(), 3}} {
		dir := c.dir
		if c.tokens == 3 {
			if err := os.WriteFile(filepath.Join(dir, "tokenguard.key"), key, 0o600); err != nil { //nolint:gosec // G703: the test's own temporary directory
				t.Fatal(err)
			}
		}
		other := servertest.Start(t, servertest.Options{Dir: dir, Now: w.clock.Now})
		oc := other.Client(t)
		for i := range c.tokens {
			if _, err := oc.CreateToken(ctx, wire.CreateTokenRequest{Name: fmt.Sprintf("other-%d", i), Owner: "team-other@example.com",
				Purpose: "Reads the order history of customers for the support console", Scopes: []string{"orders:read"},
				DataCategories: []string{"commercial"}, TTL: "30d", Rotation: &wire.Rotation{Interval: "7d", Overlap: "1h"}}, ""); err != nil {
				t.Fatal(err)
			}
		}
		signed, err := oc.AuditCheckpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := keyring.Load(other.KeyPath)
		if err != nil {
			t.Fatal(err)
		}
		pub, _ := keys.CheckpointKey(signed.KeyID)
		cp := packCheckpoint(t, p)
		cp.Checkpoint, cp.PublicKey = signed, pub
		forged := filepath.Join(tmp, strings.ReplaceAll(name, " ", "-"))
		copyPack(t, withCheckpoint(t, p, cp), forged)
		code, out := w.verify(t, forged)
		if code != ExitFindings {
			t.Errorf("%s: verify of a pack holding another chain's checkpoint = %d %q, want exit 1", name, code, out)
		}
		t.Logf("%s: %s", name, out)
		if name == "own key file" && !strings.Contains(out, "key file does not hold") && !strings.Contains(out, "does not verify (a forged") {
			t.Errorf("%s: the refusal %q does not name the signature", name, out)
		}
		if name == "same key file, longer chain" && !strings.Contains(out, "truncated or rolled back") {
			t.Errorf("%s: the refusal %q does not name the chain", name, out)
		}
		if name == "same key file, shorter chain" && !strings.Contains(out, "differs from the signed checkpoint") {
			t.Errorf("%s: the refusal %q does not name the chain", name, out)
		}
	}
}

// TestReportEvidence_callsOnlyReadRoutes records every request report evidence, report verify
// and access make: each is a read (the access request's POST writes only its own audit
// record), so a credential that may only read can make the pack and answer the request.
func TestReportEvidence_callsOnlyReadRoutes(t *testing.T) {
	var (
		mu        sync.Mutex
		recording bool
		calls     = map[string]int{}
	)
	w := newPackWorldWrapped(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			mu.Lock()
			if recording {
				calls[r.Method+" "+r.URL.Path]++
			}
			mu.Unlock()
			h.ServeHTTP(rw, r)
		})
	})
	mu.Lock()
	recording = true
	mu.Unlock()
	pack := filepath.Join(t.TempDir(), "pack.zip")
	w.writePack(t, pack)
	if code, out := w.verify(t, pack); code != ExitOK {
		t.Fatalf("verify = %d %q", code, out)
	}
	if code, out, errs := runSubcommand(t, newAccessCommand, "access", "--subject", "customer:8101", "--format", "json"); code != ExitOK {
		t.Fatalf("access = %d %q %q", code, out, errs)
	}
	// POST /v1/evidence-packs is the one call that is not a read, and it is no token write
	// either: it appends an evidence.issued audit record holding the pack's manifest digest
	// (as POST /v1/access-requests appends an access.request record), and changes no token,
	// credential or deletion request; TestEvidenceIssue_recordsTheDigestAndChangesNothingElse
	// proves that of the route.
	reads := map[string]bool{"GET /v1/policy": true, "GET /v1/tokens": true, "GET /v1/deletion-requests": true, "GET /v1/renewals": true,
		"GET /v1/audit/checkpoint": true, "GET /v1/audit": true, "POST /v1/access-requests": true, "POST /v1/evidence-packs": true}
	mu.Lock()
	defer mu.Unlock()
	for call, n := range calls {
		if !reads[call] {
			t.Errorf("%s was called %d times: the pack, its verification and the access request must only read", call, n)
		}
	}
	if n := calls["POST /v1/evidence-packs"]; n != 1 {
		t.Errorf("POST /v1/evidence-packs was called %d times, want once: the pack's one record of issue", n)
	}
	for _, must := range []string{"GET /v1/audit/checkpoint", "GET /v1/audit", "POST /v1/access-requests"} {
		if calls[must] == 0 {
			t.Errorf("%s was never called (calls: %v): the recording misses requests", must, calls)
		}
	}
}

// TestReportEvidence_readerCredentialMakesThePackAndAnswersAccessButCannotWrite: issue 19
// wants the pack and the access request read with a reader credential. A reader makes and
// verifies the pack and answers an access request; it is refused every write, and an
// owner-restricted reader and an introspect credential cannot make the pack (it answers
// about every owner).
func TestReportEvidence_readerCredentialMakesThePackAndAnswersAccessButCannotWrite(t *testing.T) {
	w := newPackWorld(t)
	ctx := context.Background()
	admin := w.svc.Client(t)
	mint := func(req wire.CreateCredentialRequest) string {
		cred, err := admin.CreateCredential(ctx, req, "")
		if err != nil {
			t.Fatalf("creating credential %s: %v", req.Name, err)
		}
		return cred.Secret
	}
	reader := mint(wire.CreateCredentialRequest{Name: "auditor", Role: "reader"})
	t.Setenv("TOKENGUARD_TOKEN", reader)
	pack := filepath.Join(t.TempDir(), "pack.zip")
	w.writePack(t, pack)
	if code, out := w.verify(t, pack); code != ExitOK || !strings.Contains(out, "evidence pack verified") {
		t.Fatalf("verify with a reader credential = %d %q", code, out)
	}
	code, out, errs := runSubcommand(t, newAccessCommand, "access", "--subject", "customer:8101", "--format", "json")
	if code != ExitOK || !strings.Contains(out, w.rotated) {
		t.Fatalf("access with a reader credential = %d %q %q", code, out, errs)
	}

	// The reader cannot write: every mutating route answers 403.
	rc := w.svc.ClientWithToken(t, reader)
	writes := map[string]func() error{
		"create token": func() error {
			_, err := rc.CreateToken(ctx, wire.CreateTokenRequest{Name: "reader-made", Owner: "team-orders@example.com",
				Purpose: "Reads the order history of customers for the support console", Scopes: []string{"orders:read"},
				DataCategories: []string{"commercial"}, TTL: "30d", Rotation: &wire.Rotation{Interval: "7d", Overlap: "1h"}}, "")
			return err
		},
		"rotate": func() error { _, err := rc.RotateToken(ctx, w.rotated, wire.RotateRequest{}, ""); return err },
		"renew": func() error {
			_, err := rc.RenewToken(ctx, w.renewed, wire.RenewRequest{TTL: "30d", Reason: "more time", ReviewedBy: "x@example.com"}, "")
			return err
		},
		"revoke": func() error { _, err := rc.RevokeToken(ctx, w.rotated); return err },
		"deletion request": func() error {
			_, err := rc.CreateDeletionRequest(ctx, wire.DeletionRequest{Subject: "customer:8101"}, "")
			return err
		},
		"create credential": func() error {
			_, err := rc.CreateCredential(ctx, wire.CreateCredentialRequest{Name: "escalate", Role: "admin"}, "")
			return err
		},
	}
	for name, write := range writes {
		var re *client.ResponseError
		if err := write(); !errors.As(err, &re) || re.StatusCode != http.StatusForbidden {
			t.Errorf("%s with a reader credential = %v, want 403", name, err)
		}
	}
	if tok, err := admin.GetToken(ctx, w.rotated); err != nil || tok.Status != "active" {
		t.Errorf("after the refused writes the rotated token is %v (%v), want still active", tok.Status, err)
	}

	// Credentials that may not read every owner's records cannot make the pack.
	for name, secret := range map[string]string{
		"owner-restricted reader": mint(wire.CreateCredentialRequest{Name: "team-reader", Role: "reader", Owner: "team-orders@example.com"}),
		"introspect credential":   mint(wire.CreateCredentialRequest{Name: "rs", Role: "introspect"}),
	} {
		t.Setenv("TOKENGUARD_TOKEN", secret)
		dest := filepath.Join(t.TempDir(), "pack.zip")
		code, out, errs := runSubcommand(t, w.report(), "report", "evidence", "--output", dest)
		if code == ExitOK || !strings.Contains(errs, "403") {
			t.Errorf("report evidence with an %s = %d %q %q, want refused", name, code, out, errs)
		}
		if _, err := os.Stat(dest); err == nil {
			t.Errorf("report evidence with an %s left a pack behind", name)
		}
	}
	t.Logf("%d writes refused to a reader, 2 narrower credentials refused the pack", len(writes))
}
