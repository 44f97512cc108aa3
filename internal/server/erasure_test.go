package server_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// TestDeletionRequest_leavesTheSubjectInNoAnswerReplayOrLookup runs runErasure on SQLite.
func TestDeletionRequest_leavesTheSubjectInNoAnswerReplayOrLookup(t *testing.T) {
	runErasure(t, nil)
}

// TestDeletionRequest_leavesTheSubjectInNoAnswerReplayOrLookup_PostgreSQL runs it on PostgreSQL.
func TestDeletionRequest_leavesTheSubjectInNoAnswerReplayOrLookup_PostgreSQL(t *testing.T) {
	runErasure(t, postgresWrap(t))
}

// runErasure proves issue 13, point 3: after a deletion request for a subject, no API answer
// but the erased-subjects list (the evidence the gates need) holds it: not the bound tokens
// (live, revoked by it, or revoked before), not ?subject=, not the audit log or the evidence,
// and not a replay of any earlier create, rotate or renew answer that held it: those answer
// 410 answer_erased without the subject or a secret, and mint nothing. Other subjects of the
// same token and other tokens' stored answers are untouched.
func runErasure(t *testing.T, wrap func(store.Store) store.Store) {
	ctx := context.Background()
	clock := servertest.NewClock(t0)
	svc := servertest.Start(t, servertest.Options{Now: clock.Now, WrapStore: wrap})
	admin := svc.Client(t)
	ic, _ := introspector(t, svc)

	type sent struct{ key, path, body, tokenID string }
	var replays []sent
	post := func(key, path string, v any) wire.Token {
		t.Helper()
		b, _ := json.Marshal(v)
		status, answer, _ := rawDo(t, "POST", svc.URL+path, svc.AdminToken, string(b), "Idempotency-Key", key)
		if status != http.StatusCreated && status != http.StatusOK {
			t.Fatalf("POST %s = %d %s", path, status, answer)
		}
		var tok wire.Token
		if err := json.Unmarshal(answer, &tok); err != nil {
			t.Fatal(err)
		}
		replays = append(replays, sent{key, path, string(b), tok.ID})
		return tok
	}
	live := post("create-live", "/v1/tokens", tokenRequest("bound-live", []string{"commercial"}, []string{erasedSubject}))
	two := post("create-two", "/v1/tokens", tokenRequest("bound-two", []string{"identifiers"}, []string{"customer:9", erasedSubject}))
	earlier := post("create-earlier", "/v1/tokens", tokenRequest("bound-earlier", []string{"commercial"}, []string{erasedSubject}))
	clock.Advance(time.Minute)
	post("rotate-live", "/v1/tokens/"+live.ID+"/rotate", wire.RotateRequest{})
	post("renew-two", "/v1/tokens/"+two.ID+"/renew", wire.RenewRequest{TTL: "30d", Reason: "the export still runs", ReviewedBy: "privacy-office@example.com"})
	if _, err := admin.RevokeToken(ctx, earlier.ID); err != nil {
		t.Fatal(err)
	}
	otherBody, _ := json.Marshal(tokenRequest("other-subject", []string{"commercial"}, []string{"customer:77"}))
	status, otherFirst, _ := rawDo(t, "POST", svc.URL+"/v1/tokens", svc.AdminToken, string(otherBody), "Idempotency-Key", "create-other")
	if status != http.StatusCreated {
		t.Fatalf("create other = %d %s", status, otherFirst)
	}
	tokensBefore, err := admin.ListTokens(ctx, wire.ListTokensOptions{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}

	clock.Advance(time.Minute)
	res, err := admin.CreateDeletionRequest(ctx, wire.DeletionRequest{Subject: erasedSubject}, "erase-4411")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(revokedIDs(res), sortedIDs(live.ID, two.ID)) {
		t.Fatalf("revoked %v, want the two live bound tokens", revokedIDs(res))
	}

	// Replays: 410 answer_erased, no subject, no secret, no new token; other answers replay.
	attacks := 0
	for _, r := range replays {
		attacks++
		status, answer, hdr := rawDo(t, "POST", svc.URL+r.path, svc.AdminToken, r.body, "Idempotency-Key", r.key)
		var eb wire.ErrorBody
		_ = json.Unmarshal(answer, &eb)
		if status != http.StatusGone || eb.Error.Code != "answer_erased" || hdr.Get("Idempotent-Replayed") != "true" ||
			!strings.Contains(eb.Error.Message, res.ID) || !strings.Contains(eb.Error.Message, r.tokenID) {
			t.Errorf("replay of %s = %d %s, want 410 answer_erased naming %s and %s", r.key, status, answer, res.ID, r.tokenID)
		}
		if strings.Contains(string(answer), erasedSubject) || strings.Contains(string(answer), "tg_live_") {
			t.Errorf("replay of %s answers the subject or a secret: %s", r.key, answer)
		}
	}
	status, otherAgain, _ := rawDo(t, "POST", svc.URL+"/v1/tokens", svc.AdminToken, string(otherBody), "Idempotency-Key", "create-other")
	if status != http.StatusCreated || string(otherAgain) != string(otherFirst) {
		t.Fatalf("replay of an answer without the subject = %d %s, want the first answer", status, otherAgain)
	}
	tokensAfter, err := admin.ListTokens(ctx, wire.ListTokensOptions{Limit: 1000})
	if err != nil || len(tokensAfter.Tokens) != len(tokensBefore.Tokens) {
		t.Fatalf("replays minted tokens: %d before, %d after (%v)", len(tokensBefore.Tokens), len(tokensAfter.Tokens), err)
	}

	// Lookups and answers.
	attacks++
	bySubject, err := admin.ListTokens(ctx, wire.ListTokensOptions{Subject: erasedSubject})
	if err != nil || len(bySubject.Tokens) != 0 {
		t.Fatalf("?subject= after the deletion request = %+v, %v; want none", bySubject.Tokens, err)
	}
	attacks++
	if kept, err := admin.ListTokens(ctx, wire.ListTokensOptions{Subject: "customer:9"}); err != nil || len(kept.Tokens) != 1 || kept.Tokens[0].ID != two.ID {
		t.Fatalf("?subject=customer:9 = %+v, %v; want the token that also named it", kept.Tokens, err)
	}
	wantSubjects := map[string][]string{live.ID: {}, two.ID: {"customer:9"}, earlier.ID: {}}
	for id, want := range wantSubjects {
		tok, err := admin.GetToken(ctx, id)
		if err != nil || !slices.Equal(tok.DataSubjects, want) || tok.Status != "revoked" {
			t.Errorf("token %s after erasure = subjects %v status %s (%v); want %v, revoked", id, tok.DataSubjects, tok.Status, err, want)
		}
	}
	if in, err := ic.Introspect(ctx, live.Secret); err != nil || in.Active {
		t.Fatalf("bound token still active: %+v, %v", in, err)
	}
	paths := []string{"/v1/tokens?limit=1000", "/v1/tokens?status=revoked", "/v1/audit?limit=1000", "/v1/deletion-requests/" + res.ID}
	for _, id := range []string{live.ID, two.ID, earlier.ID} {
		paths = append(paths, "/v1/tokens/"+id)
	}
	for _, p := range paths {
		attacks++
		status, answer, _ := rawDo(t, "GET", svc.URL+p, svc.AdminToken, "")
		if status != http.StatusOK || strings.Contains(string(answer), erasedSubject) {
			t.Errorf("GET %s = %d, holds the subject: %v", p, status, strings.Contains(string(answer), erasedSubject))
		}
	}
	// The one answer that names it: the erased-subjects list the gates refuse new tokens with.
	if erased, err := admin.ErasedSubjects(ctx); err != nil || !slices.Equal(erased, []string{erasedSubject}) {
		t.Fatalf("erased subjects = %v, %v", erased, err)
	}
	// Re-issuing for the subject is still refused.
	attacks++
	_, err = admin.CreateToken(ctx, tokenRequest("bound-again", []string{"commercial"}, []string{erasedSubject}), "")
	wantAPIError(t, err, http.StatusUnprocessableEntity, "CPRA-DEL-001", "data_subjects")
	t.Logf("erasure: %d attempts to get the subject back, none answered it", attacks)
}

func sortedIDs(ids ...string) []string {
	slices.Sort(ids)
	return ids
}

// TestIdempotency_answersExpireAfterTheRetentionAndArePurged: a stored answer replays within
// the retention (24 hours by default, Config.IdempotencyRetention), and from the first instant
// after it the key is a new request; the expired answers (sealed secrets included) are
// deleted from the database by the next request that carries a key.
func TestIdempotency_answersExpireAfterTheRetentionAndArePurged(t *testing.T) {
	for _, tc := range []struct {
		name      string
		retention time.Duration
		want      time.Duration
	}{{"default 24h", 0, 24 * time.Hour}, {"configured 2h", 2 * time.Hour, 2 * time.Hour}} {
		t.Run(tc.name, func(t *testing.T) {
			clock := servertest.NewClock(t0)
			svc := servertest.Start(t, servertest.Options{Now: clock.Now, IdempotencyRetention: tc.retention})
			body, _ := json.Marshal(compliantRequest("invoice-export"))
			status, first, _ := rawDo(t, "POST", svc.URL+"/v1/tokens", svc.AdminToken, string(body), "Idempotency-Key", "k1")
			if status != http.StatusCreated {
				t.Fatalf("create = %d %s", status, first)
			}
			if n := countIdempotency(t, svc); n != 1 {
				t.Fatalf("%d stored answers after one keyed create, want 1", n)
			}
			clock.Set(t0.Add(tc.want))
			status, again, hdr := rawDo(t, "POST", svc.URL+"/v1/tokens", svc.AdminToken, string(body), "Idempotency-Key", "k1")
			if status != http.StatusCreated || string(again) != string(first) || hdr.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("replay at the end of the retention = %d %s", status, again)
			}
			clock.Advance(time.Microsecond)
			// Past it the key is a new request: the same create now finds its name taken.
			status, late, hdr := rawDo(t, "POST", svc.URL+"/v1/tokens", svc.AdminToken, string(body), "Idempotency-Key", "k1")
			if status != http.StatusConflict || hdr.Get("Idempotent-Replayed") != "" || strings.Contains(string(late), "tg_live_") {
				t.Fatalf("replay after the retention = %d %s, want a new request (409 name_taken)", status, late)
			}
			if n := countIdempotency(t, svc); n != 0 {
				t.Fatalf("%d stored answers after the retention, want 0 (purged)", n)
			}
			// Another key's request purges the expired answers too.
			other, _ := json.Marshal(compliantRequest("second-export"))
			if status, b, _ := rawDo(t, "POST", svc.URL+"/v1/tokens", svc.AdminToken, string(other), "Idempotency-Key", "k2"); status != http.StatusCreated {
				t.Fatalf("create = %d %s", status, b)
			}
			clock.Advance(tc.want + time.Minute)
			third, _ := json.Marshal(compliantRequest("third-export"))
			if status, b, _ := rawDo(t, "POST", svc.URL+"/v1/tokens", svc.AdminToken, string(third), "Idempotency-Key", "k3"); status != http.StatusCreated {
				t.Fatalf("create = %d %s", status, b)
			}
			if n := countIdempotency(t, svc); n != 1 {
				t.Fatalf("%d stored answers, want 1 (k2's expired answer purged, k3's kept)", n)
			}
		})
	}
}

// countIdempotency counts the stored idempotent answers in the service's SQLite database.
func countIdempotency(t *testing.T, svc *servertest.Service) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+svc.DBPath+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer closeOrFail(t, "the database", db)
	var n int
	if err := db.QueryRow("SELECT count(*) FROM idempotency").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
