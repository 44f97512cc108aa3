package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/keyring"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// accessSubject is the data subject of the access-request tests; the others are bound to
// tokens it shares or not.
const (
	accessSubject = "customer:5150"
	otherSubjectB = "customer:7001"
	otherSubjectC = "customer:7002"
)

func TestAccessRequest_SQLite(t *testing.T) {
	runAccessRequest(t, nil)
}

// TestAccessRequest_PostgreSQL runs the same scenario with the service on PostgreSQL (a fresh
// schema of TOKENGUARD_TEST_POSTGRES_URL); skipped without it, failing under
// TOKENGUARD_REQUIRE_POSTGRES=1.
func TestAccessRequest_PostgreSQL(t *testing.T) {
	runAccessRequest(t, postgresWrap(t))
}

// runAccessRequest is the done-means scenario of issue 19: a subject bound to three tokens
// (one rotated, one renewed, one revoked) and to nothing else; another subject's token and a
// token bound to no subject; verifications on two days. The answer lists exactly the three
// tokens with their history and usage, nothing of the other subjects, and after the
// subject's deletion request only the erasure.
func runAccessRequest(t *testing.T, wrap func(store.Store) store.Store) {
	ctx := context.Background()
	clock := servertest.NewClock(t0)
	svc := servertest.Start(t, servertest.Options{Now: clock.Now, WrapStore: wrap})
	admin := svc.Client(t)
	ic, _ := introspector(t, svc)
	create := func(name string, subjects ...string) wire.Token {
		t.Helper()
		req := compliantRequest(name)
		req.DataSubjects = subjects
		tok, err := admin.CreateToken(ctx, req, "")
		if err != nil {
			t.Fatalf("creating %s: %v", name, err)
		}
		return tok
	}
	rotated := create("orders-export", accessSubject)
	renewed := create("support-lookup", otherSubjectB, accessSubject, otherSubjectC)
	revoked := create("legacy-sync", accessSubject)
	other := create("other-subject-sync", otherSubjectB)
	unbound := create("unbound-report")
	secrets := []string{rotated.Secret, renewed.Secret, revoked.Secret, other.Secret, unbound.Secret}

	clock.Advance(time.Hour)
	rot, err := admin.RotateToken(ctx, rotated.ID, wire.RotateRequest{}, "")
	if err != nil {
		t.Fatalf("rotate: %v", err)
	}
	secrets = append(secrets, rot.Secret)
	clock.Advance(time.Hour)
	renewedAt := clock.Now()
	if _, err := admin.RenewToken(ctx, renewed.ID, wire.RenewRequest{TTL: "30d", Reason: "quarterly support review",
		ReviewedBy: "privacy-officer@example.com"}, ""); err != nil {
		t.Fatalf("renew: %v", err)
	}
	clock.Advance(time.Hour)
	if _, err := admin.RevokeToken(ctx, revoked.ID); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	clock.Advance(time.Hour)
	introspect := func(secret string, wantActive bool) {
		t.Helper()
		got, err := ic.Introspect(ctx, secret)
		if err != nil || got.Active != wantActive {
			t.Fatalf("introspect: active %v, %v; want %v", got.Active, err, wantActive)
		}
	}
	introspect(rot.Secret, true)
	introspect(rot.Secret, true)
	introspect(revoked.Secret, false)
	introspect(other.Secret, true)
	clock.Advance(24 * time.Hour)
	introspect(rot.Secret, true)
	introspect(other.Secret, true)

	answeredAt := clock.Now()
	raw, answer := accessRequest(t, svc, accessSubject)
	renewedUntil := renewedAt.Add(30 * 24 * time.Hour)
	rotatedAt, revokedAt := t0.Add(time.Hour), t0.Add(3*time.Hour)
	lastUsed := answeredAt
	want := wire.AccessAnswer{
		Subject: accessSubject, AnsweredAt: answeredAt,
		Tokens: []wire.AccessToken{
			accessToken(rotated, "active", 0, &rotatedAt, nil, &lastUsed, t0.Add(30*24*time.Hour),
				[]wire.AccessEvent{{At: t0, Event: wire.AccessCreated}, {At: rotatedAt, Event: wire.AccessRotated, SecretVersion: 2}},
				[]wire.AccessUsageDay{{Day: "2030-01-02", Active: 2}, {Day: "2030-01-03", Active: 1}}),
			accessToken(renewed, "active", 2, nil, nil, nil, renewedUntil,
				[]wire.AccessEvent{{At: t0, Event: wire.AccessCreated}, {At: renewedAt, Event: wire.AccessRenewed,
					Reason: "quarterly support review", Reviewer: "privacy-officer@example.com", ExpiresAt: &renewedUntil}},
				[]wire.AccessUsageDay{}),
			accessToken(revoked, "revoked", 0, nil, &revokedAt, nil, t0.Add(30*24*time.Hour),
				[]wire.AccessEvent{{At: t0, Event: wire.AccessCreated}, {At: revokedAt, Event: wire.AccessRevoked}},
				[]wire.AccessUsageDay{{Day: "2030-01-02", Inactive: 1}}),
		},
	}
	sortTokens(want.Tokens)
	records := auditRecords(t, svc)
	bySeq := map[int64]wire.AuditRecord{}
	for _, r := range records {
		bySeq[r.Seq] = r
	}
	got := answer
	for i := range got.Tokens {
		for j, ev := range got.Tokens[i].History {
			rec, ok := bySeq[ev.AuditSeq]
			if !ok || rec.Hash != ev.AuditHash || rec.TokenID != got.Tokens[i].ID {
				t.Errorf("token %s event %d cites audit record %d %s: not in the log as a record of this token", got.Tokens[i].ID, j, ev.AuditSeq, ev.AuditHash)
			}
			got.Tokens[i].History[j].AuditSeq, got.Tokens[i].History[j].AuditHash = 0, ""
		}
	}
	if got.AuditSeq == 0 {
		t.Error("the answer cites no audit record of the request")
	}
	got.AuditSeq = 0
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.MarshalIndent(got, "", " ")
		wj, _ := json.MarshalIndent(want, "", " ")
		t.Fatalf("access answer:\n%s\nwant:\n%s", gj, wj)
	}

	// Nothing about other subjects, no secret and no fingerprint.
	forbidden := append([]string{otherSubjectB, otherSubjectC, other.ID, other.Name, unbound.ID, unbound.Name,
		rotated.Fingerprint, rot.Fingerprint, renewed.Fingerprint, revoked.Fingerprint, "fingerprint"}, secrets...)
	for _, f := range forbidden {
		if strings.Contains(string(raw), f) {
			t.Errorf("the access answer holds %q", f)
		}
	}

	// The request is audited with the subject's blind index, never the subject.
	keys, err := keyring.Load(svc.KeyPath)
	if err != nil {
		t.Fatal(err)
	}
	last := bySeq[answer.AuditSeq]
	if last.Action != "access.request" || last.Actor == "" || !last.Time.Equal(answeredAt) ||
		last.Details["subject_index"] != keys.BlindIndex("subject:"+accessSubject) || last.Details["tokens"] != "3" {
		t.Errorf("audit record of the access request = %+v, want access.request by the caller with the subject's blind index and 3 tokens", last)
	}
	all, _ := json.Marshal(records)
	if strings.Contains(string(all), accessSubject) || strings.Contains(string(all), "privacy-officer") {
		t.Error("the audit log holds the subject or the reviewer in clear")
	}

	// A subject bound to nothing gets an empty answer, and is audited too.
	_, none := accessRequest(t, svc, "customer:0000")
	if len(none.Tokens) != 0 || none.Erased != nil || none.AuditSeq != answer.AuditSeq+1 {
		t.Errorf("answer for an unknown subject = %+v, want no tokens, audited as the next record", none)
	}

	// After the subject's deletion request the answer is the erasure notice and nothing else.
	clock.Advance(24 * time.Hour)
	erasedAt := clock.Now()
	del, err := admin.CreateDeletionRequest(ctx, wire.DeletionRequest{Subject: accessSubject}, "")
	if err != nil {
		t.Fatalf("deletion request: %v", err)
	}
	clock.Advance(time.Minute)
	raw, erased := accessRequest(t, svc, accessSubject)
	if erased.Erased == nil || !erased.Erased.ErasedAt.Equal(erasedAt) || erased.Erased.DeletionRequestID != del.ID || len(erased.Tokens) != 0 {
		t.Fatalf("answer after erasure = %s, want only the erasure at %s by %s", raw, erasedAt, del.ID)
	}
	for _, tok := range want.Tokens {
		if strings.Contains(string(raw), tok.ID) || strings.Contains(string(raw), tok.Name) {
			t.Errorf("the answer after erasure names token %s", tok.ID)
		}
	}
	if rec := auditRecords(t, svc); rec[len(rec)-1].Details["erased_by"] != del.ID {
		t.Errorf("audit record of the access request after erasure = %+v, want erased_by %s", rec[len(rec)-1], del.ID)
	}
}

// accessToken is the expected access answer entry of tok.
func accessToken(tok wire.Token, status string, others int, rotatedAt, revokedAt, lastUsed *time.Time, expires time.Time,
	history []wire.AccessEvent, usage []wire.AccessUsageDay) wire.AccessToken {
	return wire.AccessToken{
		ID: tok.ID, Name: tok.Name, Purpose: tok.Purpose, Owner: tok.Owner, Status: status,
		DataCategories: tok.DataCategories, Audiences: tok.Audiences, Scopes: tok.Scopes, OtherSubjects: others,
		CreatedAt: tok.CreatedAt, ExpiresAt: expires, RotatedAt: rotatedAt, RevokedAt: revokedAt, LastUsedAt: lastUsed,
		History: history, Usage: usage,
	}
}

func sortTokens(ts []wire.AccessToken) {
	for i := range ts {
		for j := i + 1; j < len(ts); j++ {
			if ts[j].ID < ts[i].ID {
				ts[i], ts[j] = ts[j], ts[i]
			}
		}
	}
}

// accessRequest asks svc's access request for subject and returns the raw and decoded answer.
func accessRequest(t *testing.T, svc *servertest.Service, subject string) ([]byte, wire.AccessAnswer) {
	t.Helper()
	body, _ := json.Marshal(wire.AccessRequest{Subject: subject})
	status, raw, _ := rawDo(t, http.MethodPost, svc.URL+"/v1/access-requests", svc.AdminToken, string(body))
	if status != http.StatusOK {
		t.Fatalf("access request: %d %s", status, raw)
	}
	var out wire.AccessAnswer
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("access answer: %v", err)
	}
	return raw, out
}

// auditRecords reads svc's whole audit log through the API.
func auditRecords(t *testing.T, svc *servertest.Service) []wire.AuditRecord {
	t.Helper()
	c := svc.Client(t)
	var out []wire.AuditRecord
	var after int64
	for {
		page, err := c.ListAudit(context.Background(), after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Records...)
		if len(page.Records) == 0 || page.NextPageToken == "" {
			return out
		}
		after = page.Records[len(page.Records)-1].Seq
	}
}

func TestAccessRequest_refusesBadInputAndWeakerCredentials(t *testing.T) {
	svc := servertest.Start(t, servertest.Options{})
	_, icSecret := introspector(t, svc)
	before := len(auditRecords(t, svc))
	cases := []struct {
		name, credential, body string
		status                 int
		code, field            string
	}{
		{"empty subject", svc.AdminToken, `{"subject":"  "}`, 400, "invalid_request", "subject"},
		{"missing subject", svc.AdminToken, `{}`, 400, "invalid_request", "subject"},
		{"control character", svc.AdminToken, `{"subject":"customer:1\u001b[2J"}`, 400, "invalid_request", "subject"},
		{"bidi override", svc.AdminToken, `{"subject":"customer:\u202e1144"}`, 400, "invalid_request", "subject"},
		{"unknown field", svc.AdminToken, `{"subject":"customer:1","subjects":["x"]}`, 400, "invalid_request", ""},
		{"not JSON", svc.AdminToken, `subject=customer:1`, 400, "invalid_request", ""},
		{"introspect credential", icSecret, `{"subject":"customer:1"}`, 403, "forbidden", ""},
		{"no credential", "", `{"subject":"customer:1"}`, 401, "unauthenticated", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, raw, _ := rawDo(t, http.MethodPost, svc.URL+"/v1/access-requests", c.credential, c.body)
			var eb wire.ErrorBody
			_ = json.Unmarshal(raw, &eb)
			if status != c.status || eb.Error.Code != c.code || (c.field != "" && eb.Error.Field != c.field) {
				t.Errorf("%s: %d %s, want %d %s field %q", c.name, status, raw, c.status, c.code, c.field)
			}
		})
	}
	for _, r := range auditRecords(t, svc)[before:] {
		if r.Action == "access.request" {
			t.Errorf("a refused access request was audited as answered: %+v", r)
		}
	}
}
