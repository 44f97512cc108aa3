package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/keyring"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/sqlite"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// erasedSubject is the data subject of the deletion-request tests.
const erasedSubject = "customer:4411"

// deletionFixture is the done-means scenario of issue 6: three live tokens bound to the
// subject, one bound token revoked earlier, two other tokens reaching the request's
// categories, and three tokens that must be neither revoked nor reported.
type deletionFixture struct {
	svc     *servertest.Service
	clock   *servertest.Clock
	admin   *client.Client
	ic      *client.Client
	bound   map[string]string // token id -> secret, live and bound to the subject
	notify  []string          // ids, sorted
	others  map[string]string // id -> secret: untouched tokens (live)
	revoked string            // bound, revoked before the request
}

func tokenRequest(name string, categories, subjects []string) wire.CreateTokenRequest {
	req := compliantRequest(name)
	req.DataCategories = categories
	req.DataSubjects = subjects
	return req
}

func newDeletionFixture(t *testing.T) *deletionFixture {
	t.Helper()
	ctx := context.Background()
	f := &deletionFixture{clock: servertest.NewClock(t0), bound: map[string]string{}, others: map[string]string{}}
	f.svc = servertest.Start(t, servertest.Options{Now: f.clock.Now})
	f.admin = f.svc.Client(t)
	f.ic, _ = introspector(t, f.svc)
	create := func(req wire.CreateTokenRequest) wire.Token {
		t.Helper()
		tok, err := f.admin.CreateToken(ctx, req, "")
		if err != nil {
			t.Fatalf("creating %s: %v", req.Name, err)
		}
		return tok
	}
	for _, req := range []wire.CreateTokenRequest{
		tokenRequest("bound-orders", []string{"commercial"}, []string{erasedSubject}),
		tokenRequest("bound-two-subjects", []string{"identifiers"}, []string{"customer:9", erasedSubject}),
		tokenRequest("bound-other-category", []string{"geolocation"}, []string{erasedSubject}), // revoked whatever the categories
	} {
		tok := create(req)
		f.bound[tok.ID] = tok.Secret
	}
	old := create(tokenRequest("bound-revoked-earlier", []string{"commercial"}, []string{erasedSubject}))
	if _, err := f.admin.RevokeToken(ctx, old.ID); err != nil {
		t.Fatal(err)
	}
	f.revoked = old.ID
	reach1 := create(tokenRequest("reach-commercial", []string{"commercial", "health"}, []string{"customer:77"}))
	reach2 := create(tokenRequest("reach-identifiers", []string{"identifiers"}, nil))
	f.notify = []string{reach1.ID, reach2.ID}
	slices.Sort(f.notify)
	f.others[create(tokenRequest("no-personal-data", []string{}, nil)).ID] = ""
	other := create(tokenRequest("other-category", []string{"health"}, nil))
	f.others[other.ID] = other.Secret
	gone := create(tokenRequest("revoked-commercial", []string{"commercial"}, nil))
	if _, err := f.admin.RevokeToken(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *deletionFixture) boundIDs() []string {
	var ids []string
	for id := range f.bound {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (f *deletionFixture) assertActive(t *testing.T, secret string, want bool, what string) {
	t.Helper()
	in, err := f.ic.Introspect(context.Background(), secret)
	if err != nil {
		t.Fatal(err)
	}
	if in.Active != want {
		t.Fatalf("%s: introspection active = %v, want %v", what, in.Active, want)
	}
}

func revokedIDs(r wire.DeletionResult) []string {
	var ids []string
	for _, x := range r.Revoked {
		ids = append(ids, x.TokenID)
	}
	return ids
}

func notifyIDs(r wire.DeletionResult) []string {
	var ids []string
	for _, x := range r.Notify {
		ids = append(ids, x.TokenID)
	}
	return ids
}

var requestCategories = []string{"commercial", "identifiers"}

func TestDeletionRequest_dryRunReportsAndChangesNothing(t *testing.T) {
	ctx := context.Background()
	f := newDeletionFixture(t)
	before := snapshotDB(t, f.svc.DBPath)

	res, err := f.admin.CreateDeletionRequest(ctx, wire.DeletionRequest{Subject: erasedSubject, Categories: requestCategories, DryRun: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.ID != "" || res.Status != wire.DeletionDryRun || !res.DryRun || res.RetainUntil != nil ||
		!res.RequestedAt.Equal(t0) || !slices.Equal(res.Categories, requestCategories) {
		t.Fatalf("dry run answer = %+v", res)
	}
	if got := revokedIDs(res); !slices.Equal(got, f.boundIDs()) {
		t.Errorf("dry run would revoke %v, want exactly the three live bound tokens %v", got, f.boundIDs())
	}
	if got := notifyIDs(res); !slices.Equal(got, f.notify) {
		t.Errorf("dry run would notify %v, want %v", got, f.notify)
	}

	after := snapshotDB(t, f.svc.DBPath)
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("a dry run changed the database:\n%s", diffExceptNewAudit(before, after)+"\naudit max "+
			func() string { b, _ := json.Marshal([]int64{before.auditMax, after.auditMax}); return string(b) }())
	}
	for id, secret := range f.bound {
		f.assertActive(t, secret, true, "bound token "+id+" after a dry run")
	}
	// The same dry run with an Idempotency-Key stores nothing either. (The introspections
	// above are audited, so the comparison starts again here, once they are written.)
	f.svc.Flush(t)
	before = snapshotDB(t, f.svc.DBPath)
	status, body, _ := rawDo(t, "POST", f.svc.URL+"/v1/deletion-requests", f.svc.AdminToken,
		`{"subject":"`+erasedSubject+`","dry_run":true}`, "Idempotency-Key", "dry-1")
	if status != http.StatusOK || !strings.Contains(string(body), `"dry_run":true`) {
		t.Fatalf("dry run with an Idempotency-Key = %d %s", status, body)
	}
	if after2 := snapshotDB(t, f.svc.DBPath); !reflect.DeepEqual(before, after2) {
		t.Fatal("a dry run with an Idempotency-Key changed the database")
	}
	erased, err := f.admin.ErasedSubjects(ctx)
	if err != nil || len(erased) != 0 {
		t.Fatalf("erased subjects after dry runs = %v, %v; want none", erased, err)
	}
}

func TestDeletionRequest_revokesExactlyTheBoundTokensReportsTheReachingOnesAndStoresEvidence(t *testing.T) {
	ctx := context.Background()
	f := newDeletionFixture(t)
	auditBefore := snapshotDB(t, f.svc.DBPath).auditMax
	f.clock.Advance(time.Minute)
	now := t0.Add(time.Minute)

	res, err := f.admin.CreateDeletionRequest(ctx, wire.DeletionRequest{Subject: erasedSubject, Categories: requestCategories, Reference: "DSR-2026-0042"}, "")
	if err != nil {
		t.Fatal(err)
	}
	wantRetain := now.Add(730 * 24 * time.Hour)
	if !strings.HasPrefix(res.ID, "del_") || res.Status != wire.DeletionComplete || res.DryRun ||
		!res.RequestedAt.Equal(now) || res.RetainUntil == nil || !res.RetainUntil.Equal(wantRetain) ||
		res.Reference != "DSR-2026-0042" || !slices.Equal(res.Categories, requestCategories) {
		t.Fatalf("answer = %+v", res)
	}
	if got := revokedIDs(res); !slices.Equal(got, f.boundIDs()) {
		t.Fatalf("revoked %v, want exactly %v", got, f.boundIDs())
	}
	for _, r := range res.Revoked {
		if r.Name == "" || r.Fingerprint == "" {
			t.Errorf("revoked entry %+v lacks its name or fingerprint", r)
		}
	}
	if got := notifyIDs(res); !slices.Equal(got, f.notify) {
		t.Fatalf("notify %v, want exactly %v", got, f.notify)
	}
	for _, n := range res.Notify {
		if n.Owner != "team-billing@example.com" || !slices.Equal(n.Audiences, []string{"accounting"}) || len(n.DataCategories) == 0 {
			t.Errorf("notify entry %+v: want owner, audiences and data categories", n)
		}
	}

	// Revocation is instant: introspection is inactive on the very next call.
	for id, secret := range f.bound {
		f.assertActive(t, secret, false, "bound token "+id+" right after the deletion request")
		tok, err := f.admin.GetToken(ctx, id)
		if err != nil || tok.Status != "revoked" || tok.RevokedAt == nil || !tok.RevokedAt.Equal(now) {
			t.Errorf("bound token %s after erase = %+v, %v", id, tok, err)
		}
	}
	for _, id := range f.notify {
		if tok, err := f.admin.GetToken(ctx, id); err != nil || tok.Status != "active" {
			t.Errorf("token to notify %s was changed: %+v, %v", id, tok, err)
		}
	}
	for id, secret := range f.others {
		if secret != "" {
			f.assertActive(t, secret, true, "unrelated token "+id)
		}
	}

	// The evidence: token ids, counts, times, categories; never the subject.
	ev, err := f.admin.GetDeletionRequest(ctx, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID != res.ID || ev.Status != wire.DeletionComplete || !strings.HasPrefix(ev.RequestedBy, "cred_") ||
		!ev.RequestedAt.Equal(now) || ev.CompletedAt == nil || !ev.CompletedAt.Equal(now) || !ev.RetainUntil.Equal(wantRetain) ||
		!slices.Equal(ev.Categories, requestCategories) || ev.Reference != "DSR-2026-0042" ||
		!slices.Equal(ev.RevokedTokenIDs, f.boundIDs()) || !slices.Equal(ev.NotifiedTokenIDs, f.notify) ||
		ev.RevokedCount != 3 || ev.NotifiedCount != 2 {
		t.Fatalf("evidence = %+v", ev)
	}
	status, body, _ := rawDo(t, "GET", f.svc.URL+"/v1/deletion-requests/"+res.ID, f.svc.AdminToken, "")
	if status != http.StatusOK || strings.Contains(string(body), erasedSubject) || strings.Contains(string(body), "subject") {
		t.Fatalf("evidence answer = %d %s: must not hold the subject", status, body)
	}
	if _, err := f.admin.GetDeletionRequest(ctx, "del_000000000000000000000000"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("evidence of an unknown id: %v, want ErrNotFound", err)
	}

	// Audit: one token.revoke per revoked token naming the request, then deletion.request.
	page, err := f.admin.ListAudit(ctx, auditBefore, 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions, revokedInAudit []string
	for _, rec := range page.Records {
		if rec.Action == "token.introspect" {
			continue // the introspections above
		}
		actions = append(actions, rec.Action)
		if rec.Action == "token.revoke" {
			revokedInAudit = append(revokedInAudit, rec.TokenID)
			if rec.Details["reason"] != "deletion_request:"+res.ID || rec.Fingerprint == "" {
				t.Errorf("revoke record %+v: want reason deletion_request:%s and the fingerprint", rec, res.ID)
			}
		}
		if rec.Action == "deletion.request" {
			want := map[string]string{"deletion_request": res.ID, "categories": "commercial,identifiers", "revoked": "3",
				"notified": "2", "retain_until": wantRetain.Format(time.RFC3339Nano),
				// Issue 13: the subject left the 4 bound tokens (the one revoked earlier too)
				// and the 4 stored create answers that held it.
				"erased_from": "4", "erased_answers": "4"}
			if !reflect.DeepEqual(rec.Details, want) || rec.Actor != ev.RequestedBy {
				t.Errorf("deletion.request record = %+v, want details %v by %s", rec, want, ev.RequestedBy)
			}
		}
		if b, _ := json.Marshal(rec); bytes.Contains(b, []byte(erasedSubject)) {
			t.Errorf("audit record %d holds the subject in clear", rec.Seq)
		}
	}
	if !slices.Equal(actions, []string{"token.revoke", "token.revoke", "token.revoke", "deletion.request"}) {
		t.Fatalf("audit actions = %v", actions)
	}
	if !slices.Equal(revokedInAudit, f.boundIDs()) {
		t.Fatalf("revoke records for %v, want %v", revokedInAudit, f.boundIDs())
	}

	// The subject is nowhere in the database files or the logs in clear.
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(f.svc.DBPath + suffix) //nolint:gosec // G304: the test service's database in its temporary directory
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if n := bytes.Count(b, []byte(erasedSubject)); n != 0 {
			t.Errorf("the subject appears %d times in clear in tokenguard.db%s", n, suffix)
		}
	}
	if strings.Contains(f.svc.Logs.String(), erasedSubject) {
		t.Error("the subject appears in the service log")
	}

	// The gates learn about the subject.
	erased, err := f.admin.ErasedSubjects(ctx)
	if err != nil || !slices.Equal(erased, []string{erasedSubject}) {
		t.Fatalf("erased subjects = %v, %v; want [%s]", erased, err, erasedSubject)
	}
}

func TestDeletionRequest_reissuingATokenForAnErasedSubjectIsRefusedWithCPRADEL001(t *testing.T) {
	ctx := context.Background()
	f := newDeletionFixture(t)
	if _, err := f.admin.CreateDeletionRequest(ctx, wire.DeletionRequest{Subject: erasedSubject}, ""); err != nil {
		t.Fatal(err)
	}
	before := snapshotDB(t, f.svc.DBPath)
	_, err := f.admin.CreateToken(ctx, tokenRequest("reissued", []string{"commercial"}, []string{"customer:1", " " + erasedSubject}), "")
	wantAPIError(t, err, http.StatusUnprocessableEntity, server.RuleErasedSubject, "data_subjects")
	var re *client.ResponseError
	if errors.As(err, &re) && (!strings.Contains(re.Message, "data_subjects[1]") || strings.Contains(re.Message, erasedSubject)) {
		t.Errorf("message %q: want the entry by position, never the subject", re.Message)
	}
	after := snapshotDB(t, f.svc.DBPath)
	if d := diffExceptNewAudit(before, after); d != "" {
		t.Fatalf("the refused create changed the database: %s", d)
	}
	if got := auditActionsAfter(t, f.svc.DBPath, before.auditMax); !slices.Equal(got, []string{"token.refuse"}) {
		t.Fatalf("audit after the refusal = %v, want [token.refuse]", got)
	}
	// Other subjects are still fine.
	if _, err := f.admin.CreateToken(ctx, tokenRequest("other-subject", []string{"commercial"}, []string{"customer:1"}), ""); err != nil {
		t.Fatalf("a token for another subject: %v", err)
	}
}

func TestDeletionRequest_evidenceIsPurgedByTheFirstRequestPastItsRetention(t *testing.T) {
	ctx := context.Background()
	clock := servertest.NewClock(t0)
	svc := servertest.Start(t, servertest.Options{Now: clock.Now})
	admin := svc.Client(t)
	first, err := admin.CreateDeletionRequest(ctx, wire.DeletionRequest{Subject: erasedSubject}, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Categories) != len(token.PersonalCategories)+len(token.SensitiveCategories) {
		t.Fatalf("a request without categories covers %d categories, want all %d", len(first.Categories), len(token.PersonalCategories)+len(token.SensitiveCategories))
	}

	clock.Set(*first.RetainUntil) // at retain_until the record is still kept
	second, err := admin.CreateDeletionRequest(ctx, wire.DeletionRequest{Subject: "customer:5"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.GetDeletionRequest(ctx, first.ID); err != nil {
		t.Fatalf("evidence at exactly retain_until: %v, want it kept", err)
	}
	auditBefore := snapshotDB(t, svc.DBPath).auditMax

	clock.Advance(time.Microsecond)
	if _, err := admin.CreateDeletionRequest(ctx, wire.DeletionRequest{Subject: "customer:6"}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.GetDeletionRequest(ctx, first.ID); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("evidence past retention: %v, want ErrNotFound (purged)", err)
	}
	if _, err := admin.GetDeletionRequest(ctx, second.ID); err != nil {
		t.Fatalf("evidence within retention was purged: %v", err)
	}
	if got := auditActionsAfter(t, svc.DBPath, auditBefore); !slices.Equal(got, []string{"deletion.purge", "deletion.request"}) {
		t.Fatalf("audit actions = %v, want [deletion.purge deletion.request]", got)
	}
	erased, err := admin.ErasedSubjects(ctx)
	if err != nil || !slices.Equal(erased, []string{"customer:5", "customer:6"}) {
		t.Fatalf("erased subjects = %v, %v; want the two within retention", erased, err)
	}
}

func TestDeletionRequest_retentionIsConfigurable(t *testing.T) {
	ctx := context.Background()
	keys, err := keyring.New()
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tokenguard.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	now := func() time.Time { return t0 }
	if _, err := server.New(server.Config{Store: st, Keyring: keys, DeletionRetention: -time.Hour}); err == nil {
		t.Fatal("a negative DeletionRetention was accepted")
	}
	srv, err := server.New(server.Config{Store: st, Keyring: keys, Now: now, DeletionRetention: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Bootstrap(ctx, servertest.DefaultAdminToken); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/v1/deletion-requests", strings.NewReader(`{"subject":"customer:8"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+servertest.DefaultAdminToken)
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST = %d %s", rec.Code, rec.Body)
	}
	var res wire.DeletionResult
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if res.RetainUntil == nil || !res.RetainUntil.Equal(t0.Add(48*time.Hour)) {
		t.Fatalf("retain_until = %v, want now + 48h", res.RetainUntil)
	}
}

func TestDeletionRequest_idempotencyKeyReplaysTheFirstResult(t *testing.T) {
	ctx := context.Background()
	f := newDeletionFixture(t)
	req := wire.DeletionRequest{Subject: erasedSubject, Categories: requestCategories}
	first, err := f.admin.CreateDeletionRequest(ctx, req, "erase-1")
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.admin.CreateDeletionRequest(ctx, req, "erase-1")
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != first.ID || !slices.Equal(revokedIDs(again), f.boundIDs()) {
		t.Fatalf("retry = %+v, want the first result %s", again, first.ID)
	}
	_, err = f.admin.CreateDeletionRequest(ctx, wire.DeletionRequest{Subject: "customer:2"}, "erase-1")
	wantAPIError(t, err, http.StatusConflict, "idempotency_key_reused", "Idempotency-Key")
}

func TestDeletionRequest_refusesBadInputNamingTheField(t *testing.T) {
	svc := servertest.Start(t, servertest.Options{})
	for _, c := range []struct {
		body, field string
	}{
		{`{}`, "subject"},
		{`{"subject":"  "}`, "subject"},
		{`{"subject":"customer:1\u0000"}`, "subject"},
		{`{"subject":"` + strings.Repeat("x", 257) + `"}`, "subject"},
		{`{"subject":"customer:1","categories":["everything"]}`, "categories"},
		{`{"subject":"customer:1","categories":["commercial","commercial"]}`, "categories"},
		{`{"subject":"customer:1","reference":"` + strings.Repeat("r", 201) + `"}`, "reference"},
		{`{"subject":"customer:1","subjects":["x"]}`, "subjects"},
		{`{"subject":"customer:1","dry_run":"yes"}`, "dry_run"},
	} {
		before := snapshotDB(t, svc.DBPath)
		status, body, _ := rawDo(t, "POST", svc.URL+"/v1/deletion-requests", svc.AdminToken, c.body)
		var eb wire.ErrorBody
		if err := json.Unmarshal(body, &eb); err != nil || status != http.StatusBadRequest || eb.Error.Code != "invalid_request" || eb.Error.Field != c.field {
			t.Errorf("%s: %d %s, want 400 invalid_request naming %s", c.body, status, body, c.field)
		}
		if !reflect.DeepEqual(before, snapshotDB(t, svc.DBPath)) {
			t.Errorf("%s: a refused request changed the database", c.body)
		}
	}
}
