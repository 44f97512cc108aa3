package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/evidencepack"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// clonePack copies p, so that a rewrite leaves the genuine pack as it was.
func clonePack(p evidencepack.Pack) evidencepack.Pack {
	out := evidencepack.Pack{}
	for k, v := range p {
		out[k] = bytes.Clone(v)
	}
	return out
}

// editManifest decodes p's manifest, lets edit change it, and writes it back (the digests
// are left to remanifest).
func editManifest(t *testing.T, p evidencepack.Pack, edit func(*evidencepack.Manifest)) {
	t.Helper()
	var m evidencepack.Manifest
	if err := json.Unmarshal(p["manifest.json"], &m); err != nil {
		t.Fatal(err)
	}
	edit(&m)
	p["manifest.json"] = mustIndentJSON(t, m)
}

// TestReportVerify_refusesARewrittenPackWhoseManifestDigestIsNotTheRecordedOne rewrites a
// pack as someone who can rewrite every file of it would: a part that cites no audit record
// changed, a part removed, a part added, the manifest edited, each with every hash and the
// manifest digest recomputed, and the issuance's digest rewritten to match. The service
// recorded the genuine manifest's digest when the pack was issued, in a record the signed
// checkpoint covers: report verify refuses every rewrite. Without the issuance rewritten,
// even --manifest-only refuses it. The issuance of another pack, and a second record on
// the pack's checkpoint made with a reader credential, are refused too; the genuine pack
// still verifies after all of them.
func TestReportVerify_refusesARewrittenPackWhoseManifestDigestIsNotTheRecordedOne(t *testing.T) {
	w := newPackWorld(t)
	ctx := context.Background()
	tmp := t.TempDir()
	genuine := w.writePack(t, filepath.Join(tmp, "genuine"))

	rewrites := map[string]func(p evidencepack.Pack){
		"inventory owner changed": func(p evidencepack.Pack) {
			p["inventory.json"] = bytes.ReplaceAll(p["inventory.json"], []byte("team-orders@example.com"), []byte("team-audit@example.com"))
		},
		"token purpose changed in the inventory": func(p evidencepack.Pack) {
			p["inventory.json"] = bytes.Replace(p["inventory.json"], []byte("support console"), []byte("marketing export"), 1)
		},
		"index.html changed": func(p evidencepack.Pack) {
			p["index.html"] = bytes.Replace(p["index.html"], []byte("<h2>Token inventory</h2>"), []byte("<h2>Token inventory (complete)</h2>"), 1)
		},
		"waiver reason changed in policy.json": func(p evidencepack.Pack) {
			p["policy.json"] = bytes.Replace(p["policy.json"], []byte(w.waiverWhy), []byte("approved for ever"), 1)
		},
		"rotation report changed": func(p evidencepack.Pack) {
			p["rotation.html"] = append(p["rotation.html"], []byte("<!-- all on schedule -->")...)
		},
		"renewals.json removed": func(p evidencepack.Pack) {
			delete(p, "renewals.json")
			editManifest(t, p, func(m *evidencepack.Manifest) {
				kept := m.Files[:0]
				for _, f := range m.Files {
					if f.Path != "renewals.json" {
						kept = append(kept, f)
					}
				}
				m.Files = kept
			})
		},
		"a part added": func(p evidencepack.Pack) {
			p["exceptions.json"] = []byte(`{"exceptions": []}` + "\n")
			editManifest(t, p, func(m *evidencepack.Manifest) {
				m.Files = append(m.Files, evidencepack.File{Path: "exceptions.json"})
			})
		},
		"manifest endpoint edited": func(p evidencepack.Pack) {
			editManifest(t, p, func(m *evidencepack.Manifest) { m.Endpoint = "https://tokens.example.com" })
		},
		"manifest generation time edited": func(p evidencepack.Pack) {
			editManifest(t, p, func(m *evidencepack.Manifest) { m.GeneratedAt = m.GeneratedAt.AddDate(0, 3, 0) })
		},
	}
	cases := 0
	for name, rewrite := range rewrites {
		p := clonePack(genuine)
		rewrite(p)
		issued := p[evidencepack.IssuanceName]
		remanifest(t, p) // every hash, the digest and the issuance's digest recomputed
		dir := filepath.Join(tmp, strings.ReplaceAll(name, " ", "-"))
		copyPack(t, p, dir)
		cases++
		if code, out := w.verify(t, dir); code != ExitFindings || !strings.Contains(out, "when the pack was issued (the pack was rewritten since)") {
			t.Errorf("%s, re-manifested and re-sealed: verify = %d %q, want exit 1 naming the recorded digest", name, code, out)
		}
		// Left with the digest the pack was issued with, even the offline check refuses it.
		p[evidencepack.IssuanceName] = issued
		dir += "-unsealed"
		copyPack(t, p, dir)
		cases++
		if code, out, errs := runSubcommand(t, w.report(), "report", "verify", "--manifest-only", dir); code != ExitFindings ||
			!strings.Contains(errs, "the manifest was rewritten after the pack was issued") {
			t.Errorf("%s, re-manifested only: verify --manifest-only = %d %q %q, want exit 1", name, code, out, errs)
		}
	}

	// The issuance of another pack, made later on the same service, in a rewritten pack.
	other := w.writePack(t, filepath.Join(tmp, "other"))
	p := clonePack(genuine)
	rewrites["inventory owner changed"](p)
	p[evidencepack.IssuanceName] = other[evidencepack.IssuanceName]
	remanifest(t, p)
	dir := filepath.Join(tmp, "other-issuance")
	copyPack(t, p, dir)
	cases++
	if code, out := w.verify(t, dir); code != ExitFindings || !strings.Contains(out, "does not verify") {
		t.Errorf("a rewritten pack with another pack's issuance: verify = %d %q, want exit 1", code, out)
	}

	// A reader records the rewritten manifest's digest on the pack's own checkpoint and seals
	// the pack with that record and a fresh signed checkpoint: the service holds the genuine
	// pack's record on that checkpoint first.
	reader, err := w.svc.Client(t).CreateCredential(ctx, wire.CreateCredentialRequest{Name: "curious-auditor", Role: "reader"}, "")
	if err != nil {
		t.Fatal(err)
	}
	rc := w.svc.ClientWithToken(t, reader.Secret)
	p = clonePack(genuine)
	rewrites["inventory owner changed"](p)
	remanifest(t, p)
	var m evidencepack.Manifest
	if err := json.Unmarshal(p["manifest.json"], &m); err != nil {
		t.Fatal(err)
	}
	forged, err := rc.IssueEvidence(ctx, wire.EvidenceIssueRequest{ManifestDigest: m.Digest, CheckpointSeq: m.Checkpoint.Seq, CheckpointHash: m.Checkpoint.Hash})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := rc.AuditCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var iss evidencepack.Issuance
	if err := json.Unmarshal(p[evidencepack.IssuanceName], &iss); err != nil {
		t.Fatal(err)
	}
	iss.RecordSeq, iss.RecordHash, iss.Checkpoint = forged.AuditSeq, forged.AuditHash, signed
	p[evidencepack.IssuanceName] = mustIndentJSON(t, iss)
	dir = filepath.Join(tmp, "second-record")
	copyPack(t, p, dir)
	cases++
	if code, out := w.verify(t, dir); code != ExitFindings || !strings.Contains(out, "recorded another manifest digest on this pack's checkpoint") {
		t.Errorf("a rewritten pack sealed by a second record on its checkpoint: verify = %d %q, want exit 1", code, out)
	}
	// The issuance pointed at a genuine record of another kind (an access request made after
	// the pack), with a fresh signed checkpoint covering it: refused (the genuine record of
	// the issue on the same checkpoint comes first).
	answer, err := rc.CreateAccessRequest(ctx, wire.AccessRequest{Subject: "customer:8101"})
	if err != nil {
		t.Fatal(err)
	}
	page, err := rc.ListAudit(ctx, answer.AuditSeq-1, 1)
	if err != nil || len(page.Records) != 1 {
		t.Fatalf("reading the access request's record: %v", err)
	}
	if signed, err = rc.AuditCheckpoint(ctx); err != nil {
		t.Fatal(err)
	}
	p = clonePack(genuine)
	rewrites["inventory owner changed"](p)
	remanifest(t, p)
	if err := json.Unmarshal(p[evidencepack.IssuanceName], &iss); err != nil {
		t.Fatal(err)
	}
	iss.RecordSeq, iss.RecordHash, iss.Checkpoint = page.Records[0].Seq, page.Records[0].Hash, signed
	p[evidencepack.IssuanceName] = mustIndentJSON(t, iss)
	dir = filepath.Join(tmp, "another-kind-of-record")
	copyPack(t, p, dir)
	cases++
	if code, out := w.verify(t, dir); code != ExitFindings || !strings.Contains(out, "does not verify") {
		t.Errorf("a rewritten pack sealed by an access request's record: verify = %d %q, want exit 1", code, out)
	}
	t.Logf("%d rewritten packs, each refused", cases)

	// The genuine pack still verifies, and says which record holds its digest, by whom.
	if code, out := w.verify(t, filepath.Join(tmp, "genuine")); code != ExitOK || !strings.Contains(out, "(evidence.issued by credential cred_") ||
		!strings.Contains(out, "is the one audit record") {
		t.Errorf("the genuine pack after the attacks: verify = %d %q", code, out)
	}
}

// TestReportEvidence_refusesToSealWhenAnotherPackWasRecordedOnItsCheckpoint: a checkpoint
// seals one pack, so report evidence must not write a pack that report verify would refuse.
// Another manifest digest recorded on the same checkpoint just before this pack's record (a
// concurrent run, or someone racing it) makes report evidence fail, naming the other record,
// and leave nothing behind. The same digest recorded twice (a request retried after a lost
// answer) is one pack: the pack is written and verifies.
func TestReportEvidence_refusesToSealWhenAnotherPackWasRecordedOnItsCheckpoint(t *testing.T) {
	for _, c := range []struct {
		name    string
		digest  func(string) string // the digest of the record made first
		refused bool
	}{
		{"another pack first", func(string) string { return strings.Repeat("0", 64) }, true},
		{"the same digest first (a retry)", func(d string) string { return d }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var once sync.Once
			w := newPackWorldWrapped(t, func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodPost && r.URL.Path == "/v1/evidence-packs" {
						once.Do(func() {
							body, _ := io.ReadAll(r.Body)
							var req wire.EvidenceIssueRequest
							_ = json.Unmarshal(body, &req)
							req.ManifestDigest = c.digest(req.ManifestDigest)
							first, _ := json.Marshal(req)
							early := r.Clone(r.Context())
							early.Body = io.NopCloser(bytes.NewReader(first))
							early.ContentLength = int64(len(first))
							h.ServeHTTP(httptest.NewRecorder(), early)
							r.Body = io.NopCloser(bytes.NewReader(body))
						})
					}
					h.ServeHTTP(rw, r)
				})
			})
			dest := filepath.Join(t.TempDir(), "pack.zip")
			code, out, errs := runSubcommand(t, w.report(), "report", "evidence", "--output", dest)
			if !c.refused {
				if code != ExitOK {
					t.Fatalf("report evidence after a retried record = %d %q %q, want a pack", code, out, errs)
				}
				if code, out := w.verify(t, dest); code != ExitOK {
					t.Fatalf("verify of a pack whose digest was recorded twice = %d %q", code, out)
				}
				return
			}
			if code != ExitFindings || !strings.Contains(errs, "another evidence pack (another manifest digest) was recorded on the same audit checkpoint") {
				t.Fatalf("report evidence after a racing record = %d %q %q, want exit 1 naming the other record", code, out, errs)
			}
			if left, _ := os.ReadDir(filepath.Dir(dest)); len(left) != 0 {
				t.Errorf("a refused pack left %d entries, e.g. %s", len(left), left[0].Name())
			}
		})
	}
}

// TestCheckIssueRecord_refusesAnotherKindDigestOrCheckpoint: the record an issuance names must
// be the evidence.issued record of this manifest's digest and this pack's checkpoint, with the
// hash the issuance names.
func TestCheckIssueRecord_refusesAnotherKindDigestOrCheckpoint(t *testing.T) {
	m := evidencepack.Manifest{Digest: strings.Repeat("d", 64)}
	m.Checkpoint.Seq, m.Checkpoint.Hash = 11, strings.Repeat("c", 64)
	good := audit.Record{Seq: 12, Hash: strings.Repeat("e", 64), Event: audit.Event{Action: actionEvidenceIssued, Details: map[string]string{
		"manifest_digest": m.Digest, "checkpoint_seq": "11", "checkpoint_hash": m.Checkpoint.Hash, "scope": "service"}}}
	iss := evidencepack.Issuance{ManifestDigest: m.Digest, RecordSeq: 12, RecordHash: good.Hash}
	if err := checkIssueRecord(good, m, iss); err != nil {
		t.Fatalf("the genuine record: %v", err)
	}
	bad := map[string]func(*audit.Record){
		"another hash":       func(r *audit.Record) { r.Hash = strings.Repeat("f", 64) },
		"another kind":       func(r *audit.Record) { r.Action = "access.request" },
		"another digest":     func(r *audit.Record) { r.Details["manifest_digest"] = strings.Repeat("0", 64) },
		"no digest":          func(r *audit.Record) { delete(r.Details, "manifest_digest") },
		"another checkpoint": func(r *audit.Record) { r.Details["checkpoint_seq"] = "10" },
		"another hash of it": func(r *audit.Record) { r.Details["checkpoint_hash"] = strings.Repeat("0", 64) },
	}
	for name, change := range bad {
		rec := good
		rec.Details = maps.Clone(good.Details)
		change(&rec)
		if err := checkIssueRecord(rec, m, iss); !errors.Is(err, evidencepack.ErrTampered) {
			t.Errorf("%s: checkIssueRecord = %v, want ErrTampered", name, err)
		}
	}
}
