package server_test

import (
	"context"
	"encoding/json"
	"maps"
	"strconv"
	"strings"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/testenv"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// TestEvidenceIssue_recordsTheDigestAndChangesNothingElse: POST /v1/evidence-packs, called by
// a reader credential, appends one evidence.issued audit record holding the manifest
// digest, the checkpoint the pack rests on and its scope, named by the credential, and
// changes nothing else in the database; bad input and weaker or restricted credentials are
// refused with nothing written.
func TestEvidenceIssue_recordsTheDigestAndChangesNothingElse(t *testing.T) {
	ctx := context.Background()
	svc := servertest.Start(t, servertest.Options{AuthFailuresPerMinute: -1})
	admin := svc.Client(t)
	tok, err := admin.CreateToken(ctx, compliantRequest("evidence"), "")
	if err != nil {
		t.Fatal(err)
	}
	mint := func(req wire.CreateCredentialRequest) wire.Credential {
		t.Helper()
		c, err := admin.CreateCredential(ctx, req, "")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	reader := mint(wire.CreateCredentialRequest{Name: "auditor", Role: "reader"})
	restricted := mint(wire.CreateCredentialRequest{Name: "team-reader", Role: "reader", Owner: tok.Owner})
	issuer := mint(wire.CreateCredentialRequest{Name: "pipeline", Role: "issuer"})
	cp, err := admin.AuditCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	svc.Flush(t)
	digest := strings.Repeat("5e", 32)
	body := func(digest string, seq int64, hash string) string {
		b, _ := json.Marshal(wire.EvidenceIssueRequest{ManifestDigest: digest, CheckpointSeq: seq, CheckpointHash: hash})
		return string(b)
	}

	// Refusals first: each leaves the database as it was but for the refusal's own record.
	before := snapshotDB(t, svc.DBPath)
	refusals := []struct {
		name, credential, body string
		status                 int
		code, field            string
	}{
		{"issuer credential", issuer.Secret, body(digest, cp.Seq, cp.Hash), 403, "forbidden", ""},
		{"owner-restricted reader", restricted.Secret, body(digest, cp.Seq, cp.Hash), 403, "owner_restricted", ""},
		{"digest not hex", reader.Secret, body(strings.Repeat("zz", 32), cp.Seq, cp.Hash), 400, "invalid_request", "manifest_digest"},
		{"digest in upper case", reader.Secret, body(strings.ToUpper(digest), cp.Seq, cp.Hash), 400, "invalid_request", "manifest_digest"},
		{"digest too short", reader.Secret, body(digest[:63], cp.Seq, cp.Hash), 400, "invalid_request", "manifest_digest"},
		{"no checkpoint", reader.Secret, `{"manifest_digest":"` + digest + `"}`, 400, "invalid_request", "checkpoint_seq"},
		{"checkpoint past the log", reader.Secret, body(digest, cp.Seq+1000, cp.Hash), 400, "invalid_request", "checkpoint_hash"},
		{"checkpoint of another chain", reader.Secret, body(digest, cp.Seq, strings.Repeat("0", 64)), 400, "invalid_request", "checkpoint_hash"},
		{"unknown field", reader.Secret, `{"manifest_digest":"` + digest + `","checkpoint_seq":1,"checkpoint_hash":"` + cp.Hash + `","owner":"x"}`, 400, "invalid_request", "owner"},
	}
	for _, c := range refusals {
		status, got, _ := rawDo(t, "POST", svc.URL+"/v1/evidence-packs", c.credential, c.body)
		var eb wire.ErrorBody
		if status != c.status || json.Unmarshal(got, &eb) != nil || eb.Error.Code != c.code || eb.Error.Field != c.field || eb.Error.Message == "" {
			t.Errorf("%s: %d %s, want %d %s on field %q with a message", c.name, status, got, c.status, c.code, c.field)
		}
	}
	svc.Flush(t)
	if d := diffExceptNewAudit(before, snapshotDB(t, svc.DBPath)); d != "" {
		t.Fatalf("refused issues changed the database: %s", d)
	}
	for _, a := range auditActionsAfter(t, svc.DBPath, before.auditMax) {
		if a == "evidence.issued" {
			t.Fatalf("a refused issue was recorded: %v", auditActionsAfter(t, svc.DBPath, before.auditMax))
		}
	}
	t.Logf("%d refusals, none recorded", len(refusals))

	// The reader records the digest: one record, nothing else changed.
	before = snapshotDB(t, svc.DBPath)
	status, got, _ := rawDo(t, "POST", svc.URL+"/v1/evidence-packs", reader.Secret, body(digest, cp.Seq, cp.Hash))
	var issued wire.EvidenceIssued
	if status != 201 || json.Unmarshal(got, &issued) != nil || issued.ManifestDigest != digest || issued.AuditSeq <= cp.Seq || len(issued.AuditHash) != 64 {
		t.Fatalf("issue by a reader = %d %s", status, got)
	}
	svc.Flush(t)
	if d := diffExceptNewAudit(before, snapshotDB(t, svc.DBPath)); d != "" {
		t.Fatalf("recording an evidence pack changed the database beyond its audit record: %s", d)
	}
	if a := auditActionsAfter(t, svc.DBPath, before.auditMax); len(a) != 1 || a[0] != "evidence.issued" {
		t.Fatalf("audit after the issue = %v, want one evidence.issued record", a)
	}
	var recs []wire.AuditRecord
	err = svc.Store.View(ctx, func(r store.Reader) error {
		list, err := r.ListAudit(ctx, issued.AuditSeq-1, 1)
		for _, rec := range list {
			recs = append(recs, wire.AuditRecord{Seq: rec.Seq, Hash: rec.Hash, Actor: rec.Actor, Action: rec.Action, Details: rec.Details})
		}
		return err
	})
	if err != nil || len(recs) != 1 {
		t.Fatalf("reading the record: %v", err)
	}
	rec := recs[0]
	want := map[string]string{"manifest_digest": digest, "checkpoint_seq": jsonInt(cp.Seq), "checkpoint_hash": cp.Hash, "scope": "service"}
	if rec.Hash != issued.AuditHash || rec.Actor != reader.ID || rec.Action != "evidence.issued" || !maps.Equal(rec.Details, want) {
		t.Fatalf("evidence.issued record = %+v, want actor %s and details %v", rec, reader.ID, want)
	}
	for _, personal := range []string{tok.Owner, "customer:4411", tok.Secret, reader.Secret} {
		if strings.Contains(string(got), personal) || strings.Contains(strings.Join(mapValues(rec.Details), " "), personal) {
			t.Errorf("the record or the answer holds %q", personal)
		}
	}
}

func jsonInt(n int64) string { return strconv.FormatInt(n, 10) }

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestEvidenceIssue_PostgreSQL: the record of a pack's issue on PostgreSQL: a reader's
// record holds the digest and checkpoint and chains where the answer says; a checkpoint the
// log does not hold is refused and not recorded.
func TestEvidenceIssue_PostgreSQL(t *testing.T) {
	ctx := context.Background()
	pg := openPostgres(testenv.PostgresURL(t))(t)
	svc := servertest.Start(t, servertest.Options{WrapStore: func(store.Store) store.Store { return pg }})
	admin := svc.Client(t)
	if _, err := admin.CreateToken(ctx, compliantRequest("evidence-pg"), ""); err != nil {
		t.Fatal(err)
	}
	reader, err := admin.CreateCredential(ctx, wire.CreateCredentialRequest{Name: "auditor", Role: "reader"}, "")
	if err != nil {
		t.Fatal(err)
	}
	rc := svc.ClientWithToken(t, reader.Secret)
	cp, err := rc.AuditCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	digest := strings.Repeat("7c", 32)
	_, err = rc.IssueEvidence(ctx, wire.EvidenceIssueRequest{ManifestDigest: digest, CheckpointSeq: cp.Seq, CheckpointHash: strings.Repeat("0", 64)})
	wantAPIError(t, err, 400, "invalid_request", "checkpoint_hash")
	issued, err := rc.IssueEvidence(ctx, wire.EvidenceIssueRequest{ManifestDigest: digest, CheckpointSeq: cp.Seq, CheckpointHash: cp.Hash})
	if err != nil || issued.AuditSeq != cp.Seq+1 {
		t.Fatalf("issue = %+v, %v; want the record right after the checkpoint %d", issued, err, cp.Seq)
	}
	err = pg.View(ctx, func(r store.Reader) error {
		recs, err := r.ListAudit(ctx, cp.Seq, 10)
		if err != nil {
			return err
		}
		if len(recs) != 1 || recs[0].Hash != issued.AuditHash || recs[0].Action != "evidence.issued" || recs[0].Actor != reader.ID ||
			recs[0].Details["manifest_digest"] != digest || recs[0].Details["checkpoint_hash"] != cp.Hash || recs[0].Details["scope"] != "service" {
			t.Errorf("records after the checkpoint = %+v, want the one evidence.issued record", recs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
