// Package storetest is the conformance suite every store.Store implementation must pass.
//
// An implementation's test calls Run with a Factory that opens fresh, empty databases. The
// suite pins down the parts of the contract the interface alone cannot say:
//
//   - every Token, Credential and Idempotency field round-trips; instants come back in UTC
//     and equal to what was written, at least to the microsecond (the suite writes
//     microsecond values in a non-UTC zone); nil and empty string slices and maps stay
//     distinct (an empty DataCategories means "reaches no personal information");
//   - getters return errors satisfying errors.Is(err, store.ErrNotFound), and duplicate ids,
//     owner+name pairs, credential secret hashes and idempotency keys store.ErrConflict;
//   - ListTokens orders by id in byte order (COLLATE "C" in PostgreSQL), treats a Limit of
//     zero as 100 and caps it at 1000;
//   - TouchLastUsed only moves LastUsedAt forward;
//   - Update rolls back everything when fn returns an error (returned so that errors.Is
//     finds it) or panics (Update returns an error, it does not re-panic);
//   - View sees committed data only and is not blocked by a write in progress;
//   - concurrent Updates never fork the audit chain, and one transaction's records are
//     contiguous in it;
//   - committed data survives closing and reopening the database;
//   - deletion-request evidence records round-trip, list in id byte order, are found by
//     subject blind index, are purged only once past RetainUntil, and roll back with their
//     transaction (deletion.go);
//   - RevokeCredential revokes once and keeps the first instant; idempotency records list in
//     key byte order with the usual limits; SetIdempotencyResponse and
//     SetDeletionSubjectCipher replace only what they name (rekey.go);
//   - ReadForIntrospection finds what GetCredentialByHash and FindTokenByHash find (the fields
//     it documents), sees every committed revocation and answers concurrent calls each their
//     own; AppendAudits chains as AppendAudit one by one; TouchLastUsedAll moves LastUsedAt
//     forward and skips unknown tokens (hotpath.go);
//   - PurgeTokens deletes exactly the tokens expired or revoked before the cutoff, with their
//     subject indexes, and leaves the audit chain and deletion evidence as they were
//     (retention.go).
//
// Each subtest opens its own store, so an implementation may run them in any order.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// Factory opens the databases the suite runs against.
type Factory interface {
	// Open returns a new, empty store with its schema in place. The factory closes it (for
	// example with t.Cleanup) when the test ends; closing an already closed store must be
	// harmless.
	Open(t *testing.T) store.Store
	// Reopen closes s and opens the same database again, to prove that committed data is
	// durable.
	Reopen(t *testing.T, s store.Store) store.Store
}

// Run runs the conformance suite against stores from f, one subtest per behaviour.
func Run(t *testing.T, f Factory) {
	tests := []struct {
		name string
		fn   func(*testing.T, Factory)
	}{
		{"TokenRoundTripsEveryField", testTokenRoundTrip},
		{"TokenRoundTripKeepsNilAndEmptyDistinct", testTokenNilAndEmpty},
		{"GettersReturnErrNotFound", testNotFound},
		{"InsertAndUpdateReportErrConflict", testTokenConflicts},
		{"UpdateTokenReplacesEveryFieldAndSubjectIndex", testUpdateToken},
		{"FindTokenByHashMatchesCurrentAndPreviousSecret", testFindByHash},
		{"FindTokenByNameNeedsOwnerAndName", testFindByName},
		{"NameReusableAfterRevoke", testNameReusableAfterRevoke},
		{"ListTokensHonoursEveryFilter", testListFilters},
		{"ListTokensLimitDefaultsTo100AndCapsAt1000", testListLimits},
		{"ListTokensPagesWithAfterIDWithoutGapsOrDuplicates", testListPaging},
		{"CredentialsInsertGetCount", testCredentials},
		{"IdempotencyPutGetConflict", testIdempotency},
		{"TouchLastUsedOnlyMovesForward", testTouchLastUsed},
		{"AuditAppendListAndVerify", testAudit},
		{"UpdateRollsBackWhenFnReturnsError", testRollbackOnError},
		{"UpdateRollsBackWhenFnPanics", testRollbackOnPanic},
		{"ViewSeesCommittedDataOnlyDuringAWrite", testViewIsolation},
		{"ConcurrentUpdatesKeepOneAuditChain", testConcurrentAudit},
		{"DataSurvivesReopen", testReopen},
		{"PingAnswers", testPing},
	}
	tests = append(tests, deletionTests...)
	tests = append(tests, accessTests...)
	tests = append(tests, maintenanceTests...)
	tests = append(tests, credentialTests...)
	tests = append(tests, idempotencyTests...)
	tests = append(tests, hotPathTests...)
	tests = append(tests, auditKeyTests...)
	tests = append(tests, retentionTests...)
	tests = append(tests, revisionTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, f) })
	}
}

// base is the suite's reference instant; microsecond precision, which every store keeps.
var base = time.Date(2026, 11, 27, 10, 0, 0, 123456000, time.UTC)

// zone is a non-UTC zone the suite writes instants in, to prove they come back in UTC.
var zone = time.FixedZone("UTC+05:30", 5*3600+1800)

func at(d time.Duration) time.Time { return base.Add(d).In(zone) }

func ptr[T any](v T) *T { return &v }

func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// fullToken returns a token with every field set, all values derived from n.
func fullToken(n int) store.Token {
	return store.Token{
		ID:               fmt.Sprintf("tok_full%08d", n),
		Name:             fmt.Sprintf("billing-export-%d", n),
		OwnerIndex:       fmt.Sprintf("owner-index-%d", n),
		OwnerCipher:      []byte(fmt.Sprintf("owner-cipher-%d", n)),
		Purpose:          fmt.Sprintf("Nightly export %d of invoices to the billing warehouse", n),
		Scopes:           []string{fmt.Sprintf("invoices:read:%d", n), "customers:read"},
		DataCategories:   []string{"commercial", "identifiers"},
		Audiences:        []string{fmt.Sprintf("warehouse-%d", n)},
		Labels:           map[string]string{"team": fmt.Sprintf("billing-%d", n), "tier": "gold"},
		SubjectIndexes:   []string{fmt.Sprintf("subject-%d-a", n), fmt.Sprintf("subject-%d-b", n)},
		SubjectsCipher:   []byte(fmt.Sprintf("subjects-cipher-%d", n)),
		Env:              "live",
		RotationInterval: time.Duration(n) * 24 * time.Hour,
		RotationOverlap:  time.Duration(n) * time.Hour,
		Status:           store.StatusActive,
		CreatedAt:        at(time.Duration(n) * time.Minute),
		UpdatedAt:        at(time.Duration(n)*time.Minute + time.Second),
		ExpiresAt:        at(time.Duration(n)*time.Minute + 90*24*time.Hour),
		RotatedAt:        ptr(at(time.Duration(n)*time.Minute + 2*time.Second)),
		RevokedAt:        ptr(at(time.Duration(n)*time.Minute + 3*time.Second)),
		LastUsedAt:       ptr(at(time.Duration(n)*time.Minute + 4*time.Second)),
		SecretVersion:    n + 1,
		SecretHash:       hashOf(fmt.Sprintf("current-%d", n)),
		HashKeyID:        fmt.Sprintf("hk-%d", n),
		Fingerprint:      fmt.Sprintf("fp-current-%d", n),
		PrevSecretHash:   hashOf(fmt.Sprintf("previous-%d", n)),
		PrevHashKeyID:    fmt.Sprintf("hk-prev-%d", n),
		PrevFingerprint:  fmt.Sprintf("fp-previous-%d", n),
		PrevValidUntil:   ptr(at(time.Duration(n)*time.Minute + time.Hour)),
	}
}

// plainToken returns a token with the fields the service always sets, and no optional ones.
func plainToken(id, ownerIndex, name string) store.Token {
	return store.Token{
		ID:             id,
		Name:           name,
		OwnerIndex:     ownerIndex,
		Purpose:        "Reads order history for the support console",
		Scopes:         []string{"orders:read"},
		DataCategories: []string{"commercial"},
		Env:            "live",
		Status:         store.StatusActive,
		CreatedAt:      base,
		UpdatedAt:      base,
		ExpiresAt:      base.Add(30 * 24 * time.Hour),
		SecretVersion:  1,
		SecretHash:     hashOf("secret of " + id),
		HashKeyID:      "hk-1",
		Fingerprint:    "fp-" + id,
	}
}

func update(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func view(t *testing.T, s store.Store, fn func(store.Reader) error) {
	t.Helper()
	if err := s.View(t.Context(), fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

func insertTokens(t *testing.T, s store.Store, tokens ...store.Token) {
	t.Helper()
	update(t, s, func(tx store.Tx) error {
		for _, tok := range tokens {
			if err := tx.InsertToken(t.Context(), tok); err != nil {
				return err
			}
		}
		return nil
	})
}

func getToken(t *testing.T, s store.Store, id string) (store.Token, error) {
	t.Helper()
	var (
		tok    store.Token
		getErr error
	)
	view(t, s, func(r store.Reader) error {
		tok, getErr = r.GetToken(t.Context(), id)
		return nil
	})
	return tok, getErr
}

func mustGetToken(t *testing.T, s store.Store, id string) store.Token {
	t.Helper()
	tok, err := getToken(t, s, id)
	if err != nil {
		t.Fatalf("GetToken(%q): %v", id, err)
	}
	return tok
}

func listIDs(t *testing.T, s store.Store, f store.TokenFilter) []string {
	t.Helper()
	var ids []string
	view(t, s, func(r store.Reader) error {
		toks, err := r.ListTokens(t.Context(), f)
		if err != nil {
			return err
		}
		for _, tok := range toks {
			ids = append(ids, tok.ID)
		}
		return nil
	})
	return ids
}

// expectSame fails the test with every field of got that differs from want.
func expectSame(t *testing.T, what string, want, got any) {
	t.Helper()
	for _, d := range diffFields(want, got) {
		t.Errorf("%s: %s", what, d)
	}
}

var timeType = reflect.TypeFor[time.Time]()

// diffFields compares two structs of the same type field by field: instants with
// time.Time.Equal and a UTC location required of got, byte slices by content (nil equals
// empty), everything else with reflect.DeepEqual (so nil and empty slices and maps differ).
// It walks the struct by reflection so that a field added to the type later is compared too.
func diffFields(want, got any) []string {
	wv, gv := reflect.ValueOf(want), reflect.ValueOf(got)
	var diffs []string
	for i := range wv.NumField() {
		name := wv.Type().Field(i).Name
		w, g := wv.Field(i), gv.Field(i)
		if w.Kind() == reflect.Pointer && w.Type().Elem() == timeType {
			if w.IsNil() != g.IsNil() {
				diffs = append(diffs, fmt.Sprintf("%s = %v, want %v", name, fmtOptTime(g), fmtOptTime(w)))
				continue
			}
			if w.IsNil() {
				continue
			}
			w, g = w.Elem(), g.Elem()
		}
		switch {
		case w.Type() == timeType:
			wt, gt := w.Interface().(time.Time), g.Interface().(time.Time)
			if !gt.Equal(wt) {
				diffs = append(diffs, fmt.Sprintf("%s = %s, want %s", name, gt.Format(time.RFC3339Nano), wt.UTC().Format(time.RFC3339Nano)))
			} else if gt.Location() != time.UTC {
				diffs = append(diffs, fmt.Sprintf("%s is in location %q, want UTC", name, gt.Location()))
			}
		case w.Kind() == reflect.Slice && w.Type().Elem().Kind() == reflect.Uint8:
			if !bytes.Equal(w.Bytes(), g.Bytes()) {
				diffs = append(diffs, fmt.Sprintf("%s = %x, want %x", name, g.Bytes(), w.Bytes()))
			}
		default:
			if !reflect.DeepEqual(w.Interface(), g.Interface()) {
				diffs = append(diffs, fmt.Sprintf("%s = %#v, want %#v", name, g.Interface(), w.Interface()))
			}
		}
	}
	return diffs
}

func fmtOptTime(v reflect.Value) string {
	if v.IsNil() {
		return "nil"
	}
	return v.Elem().Interface().(time.Time).UTC().Format(time.RFC3339Nano)
}

// readAudit reads the whole audit log in pages and verifies the chain.
func readAudit(t *testing.T, s store.Store) []audit.Record {
	t.Helper()
	var all []audit.Record
	view(t, s, func(r store.Reader) error {
		after := int64(0)
		for {
			page, err := r.ListAudit(t.Context(), after, 50)
			if err != nil {
				return err
			}
			if len(page) == 0 {
				return nil
			}
			all = append(all, page...)
			after = page[len(page)-1].Seq
		}
	})
	var v audit.Verifier
	for _, rec := range all {
		if err := v.Add(rec); err != nil {
			t.Fatalf("audit chain does not verify: %v", err)
		}
	}
	return all
}

func event(action, tokenID string, details map[string]string) audit.Event {
	return audit.Event{
		Time:        at(time.Duration(len(details)) * time.Second),
		Actor:       "cred_admin",
		Action:      action,
		TokenID:     tokenID,
		Fingerprint: "fp-" + tokenID,
		Outcome:     "ok",
		Details:     details,
	}
}

func appendAudit(t *testing.T, s store.Store, events ...audit.Event) []audit.Record {
	t.Helper()
	var recs []audit.Record
	update(t, s, func(tx store.Tx) error {
		for _, e := range events {
			rec, err := tx.AppendAudit(t.Context(), e)
			if err != nil {
				return err
			}
			recs = append(recs, rec)
		}
		return nil
	})
	return recs
}

// expectSameRecord compares two audit records; nil and empty Details are the same content
// (the hash covers the JSON, which omits both).
func expectSameRecord(t *testing.T, want, got audit.Record) {
	t.Helper()
	if len(want.Details) == 0 && len(got.Details) == 0 {
		want.Details, got.Details = nil, nil
	}
	expectSame(t, fmt.Sprintf("audit record %d", want.Seq), want.Event, got.Event)
	if got.Seq != want.Seq || got.PrevHash != want.PrevHash || got.Hash != want.Hash || got.KeyID != want.KeyID {
		t.Errorf("audit record = seq %d prev %s hash %s key %q, want seq %d prev %s hash %s key %q",
			got.Seq, got.PrevHash, got.Hash, got.KeyID, want.Seq, want.PrevHash, want.Hash, want.KeyID)
	}
}

func testTokenRoundTrip(t *testing.T, f Factory) {
	want := fullToken(1)
	v := reflect.ValueOf(want)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Fatalf("fullToken leaves field %s zero: set it so the round trip covers it", v.Type().Field(i).Name)
		}
	}
	s := f.Open(t)
	insertTokens(t, s, want)

	expectSame(t, "GetToken", want, mustGetToken(t, s, want.ID))
	view(t, s, func(r store.Reader) error {
		ctx := t.Context()
		byName, err := r.FindTokenByName(ctx, want.OwnerIndex, want.Name)
		if err != nil {
			return err
		}
		expectSame(t, "FindTokenByName", want, byName)
		byHash, err := r.FindTokenByHash(ctx, want.SecretHash)
		if err != nil {
			return err
		}
		expectSame(t, "FindTokenByHash", want, byHash)
		list, err := r.ListTokens(ctx, store.TokenFilter{})
		if err != nil {
			return err
		}
		if len(list) != 1 {
			t.Fatalf("ListTokens returned %d tokens, want 1", len(list))
		}
		expectSame(t, "ListTokens", want, list[0])
		return nil
	})
}

func testTokenNilAndEmpty(t *testing.T, f Factory) {
	s := f.Open(t)
	withNils := plainToken("tok_nil", "owner-a", "nils")
	withNils.DataCategories = nil
	withEmpty := plainToken("tok_empty", "owner-a", "empties")
	withEmpty.Scopes = []string{}
	withEmpty.DataCategories = []string{} // explicit: reaches no personal information
	withEmpty.Audiences = []string{}
	withEmpty.Labels = map[string]string{}
	withEmpty.SubjectIndexes = []string{}
	insertTokens(t, s, withNils, withEmpty)

	expectSame(t, "token with nil sets", withNils, mustGetToken(t, s, withNils.ID))
	expectSame(t, "token with empty sets", withEmpty, mustGetToken(t, s, withEmpty.ID))
}

func testNotFound(t *testing.T, f Factory) {
	s := f.Open(t)
	insertTokens(t, s, plainToken("tok_a", "owner-a", "alpha"))
	ctx := t.Context()
	checks := []struct {
		name string
		call func(store.Reader) error
	}{
		{"GetToken", func(r store.Reader) error { _, err := r.GetToken(ctx, "tok_missing"); return err }},
		{"FindTokenByHash", func(r store.Reader) error { _, err := r.FindTokenByHash(ctx, hashOf("unknown")); return err }},
		{"FindTokenByName/other name", func(r store.Reader) error { _, err := r.FindTokenByName(ctx, "owner-a", "beta"); return err }},
		{"FindTokenByName/other owner", func(r store.Reader) error { _, err := r.FindTokenByName(ctx, "owner-b", "alpha"); return err }},
		{"GetCredentialByHash", func(r store.Reader) error { _, err := r.GetCredentialByHash(ctx, hashOf("unknown")); return err }},
		{"GetIdempotency", func(r store.Reader) error { _, err := r.GetIdempotency(ctx, "missing-key"); return err }},
	}
	for _, c := range checks {
		var err error
		view(t, s, func(r store.Reader) error { err = c.call(r); return nil })
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: error = %v, want store.ErrNotFound", c.name, err)
		}
	}
	writes := []struct {
		name string
		call func(store.Tx) error
	}{
		{"UpdateToken", func(tx store.Tx) error { return tx.UpdateToken(ctx, plainToken("tok_missing", "owner-a", "gamma")) }},
		{"TouchLastUsed", func(tx store.Tx) error { return tx.TouchLastUsed(ctx, "tok_missing", base) }},
	}
	for _, w := range writes {
		if err := s.Update(ctx, w.call); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: error = %v, want store.ErrNotFound", w.name, err)
		}
	}
	if _, err := getToken(t, s, "tok_missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateToken of a missing token created it: GetToken error = %v", err)
	}
}

func testTokenConflicts(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	orig := plainToken("tok_a", "owner-a", "alpha")
	insertTokens(t, s, orig, plainToken("tok_b", "owner-a", "beta"))

	conflicts := []struct {
		name string
		call func(store.Tx) error
	}{
		{"duplicate id", func(tx store.Tx) error { return tx.InsertToken(ctx, plainToken("tok_a", "owner-z", "other")) }},
		{"duplicate owner and name", func(tx store.Tx) error { return tx.InsertToken(ctx, plainToken("tok_c", "owner-a", "alpha")) }},
		{"update to another token's owner and name", func(tx store.Tx) error {
			return tx.UpdateToken(ctx, plainToken("tok_b", "owner-a", "alpha"))
		}},
	}
	for _, c := range conflicts {
		if err := s.Update(ctx, c.call); !errors.Is(err, store.ErrConflict) {
			t.Errorf("%s: error = %v, want store.ErrConflict", c.name, err)
		}
	}
	expectSame(t, "token after conflicting writes", orig, mustGetToken(t, s, "tok_a"))
	if _, err := getToken(t, s, "tok_c"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("conflicting insert left tok_c behind: GetToken error = %v", err)
	}
	// The same name under another owner is a different token.
	insertTokens(t, s, plainToken("tok_d", "owner-b", "alpha"))
	if got := listIDs(t, s, store.TokenFilter{}); !slices.Equal(got, []string{"tok_a", "tok_b", "tok_d"}) {
		t.Errorf("tokens = %v, want [tok_a tok_b tok_d]", got)
	}
}

func testNameReusableAfterRevoke(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	old := plainToken("tok_a", "owner-a", "alpha")
	insertTokens(t, s, old)
	revoked := old
	revoked.Status = store.StatusRevoked
	at := old.CreatedAt.Add(time.Hour)
	revoked.RevokedAt = &at
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.UpdateToken(ctx, revoked) }); err != nil {
		t.Fatalf("revoking tok_a: %v", err)
	}
	replacement := plainToken("tok_b", "owner-a", "alpha")
	replacement.CreatedAt = at
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.InsertToken(ctx, replacement) }); err != nil {
		t.Fatalf("replacement with the revoked token's name: %v, want success", err)
	}
	view(t, s, func(r store.Reader) error {
		got, err := r.FindTokenByName(ctx, "owner-a", "alpha")
		if err != nil {
			t.Errorf("FindTokenByName: %v", err)
		} else if got.ID != "tok_b" {
			t.Errorf("FindTokenByName found %s, want the live replacement tok_b", got.ID)
		}
		return nil
	})
	// A second live token under that name is still a conflict.
	if err := s.Update(ctx, func(tx store.Tx) error {
		return tx.InsertToken(ctx, plainToken("tok_c", "owner-a", "alpha"))
	}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second live token with the same owner and name: error = %v, want store.ErrConflict", err)
	}
}

func testUpdateToken(t *testing.T, f Factory) {
	s := f.Open(t)
	first := fullToken(1)
	first.SubjectIndexes = []string{"subject-a", "subject-b"}
	insertTokens(t, s, first)

	// Every field but the id changes.
	second := fullToken(2)
	second.ID = first.ID
	second.Status = store.StatusRevoked
	second.DataCategories = []string{"health"}
	second.SubjectIndexes = []string{"subject-b", "subject-c"}
	update(t, s, func(tx store.Tx) error { return tx.UpdateToken(t.Context(), second) })
	expectSame(t, "token after UpdateToken", second, mustGetToken(t, s, first.ID))

	subjects := map[string][]string{"subject-a": nil, "subject-b": {first.ID}, "subject-c": {first.ID}}
	for subject, want := range subjects {
		if got := listIDs(t, s, store.TokenFilter{SubjectIndex: subject}); !slices.Equal(got, want) {
			t.Errorf("ListTokens(SubjectIndex %s) = %v, want %v", subject, got, want)
		}
	}
	view(t, s, func(r store.Reader) error {
		if _, err := r.FindTokenByHash(t.Context(), first.SecretHash); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("FindTokenByHash(replaced secret hash) error = %v, want store.ErrNotFound", err)
		}
		if _, err := r.FindTokenByName(t.Context(), first.OwnerIndex, first.Name); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("FindTokenByName(old owner and name) error = %v, want store.ErrNotFound", err)
		}
		return nil
	})

	// Optional fields can be cleared.
	third := plainToken(first.ID, "owner-3", "third")
	update(t, s, func(tx store.Tx) error { return tx.UpdateToken(t.Context(), third) })
	expectSame(t, "token after clearing optional fields", third, mustGetToken(t, s, first.ID))
	if got := listIDs(t, s, store.TokenFilter{SubjectIndex: "subject-b"}); len(got) != 0 {
		t.Errorf("ListTokens(SubjectIndex subject-b) after clearing subjects = %v, want none", got)
	}
}

func testFindByHash(t *testing.T, f Factory) {
	s := f.Open(t)
	a, b := fullToken(1), fullToken(2)
	insertTokens(t, s, a, b)
	cases := []struct {
		name   string
		hash   []byte
		wantID string
	}{
		{"current secret of a", a.SecretHash, a.ID},
		{"previous secret of a", a.PrevSecretHash, a.ID},
		{"current secret of b", b.SecretHash, b.ID},
		{"previous secret of b", b.PrevSecretHash, b.ID},
	}
	for _, c := range cases {
		view(t, s, func(r store.Reader) error {
			got, err := r.FindTokenByHash(t.Context(), c.hash)
			if err != nil {
				t.Errorf("%s: FindTokenByHash: %v", c.name, err)
			} else if got.ID != c.wantID {
				t.Errorf("%s: FindTokenByHash found %s, want %s", c.name, got.ID, c.wantID)
			}
			return nil
		})
	}
}

func testFindByName(t *testing.T, f Factory) {
	s := f.Open(t)
	insertTokens(t, s,
		plainToken("tok_a", "owner-a", "shared-name"),
		plainToken("tok_b", "owner-b", "shared-name"))
	for owner, wantID := range map[string]string{"owner-a": "tok_a", "owner-b": "tok_b"} {
		view(t, s, func(r store.Reader) error {
			got, err := r.FindTokenByName(t.Context(), owner, "shared-name")
			if err != nil {
				t.Errorf("FindTokenByName(%s): %v", owner, err)
			} else if got.ID != wantID {
				t.Errorf("FindTokenByName(%s) found %s, want %s", owner, got.ID, wantID)
			}
			return nil
		})
	}
}

func testListFilters(t *testing.T, f Factory) {
	s := f.Open(t)
	t1 := plainToken("tok_1", "owner-a", "one")
	t1.DataCategories = []string{"identifiers", "health"}
	t1.SubjectIndexes = []string{"s1"}
	t2 := plainToken("tok_2", "owner-a", "two")
	t2.Status = store.StatusRevoked
	t2.DataCategories = []string{"commercial"}
	t2.SubjectIndexes = []string{"s1", "s2"}
	t2.LastUsedAt = ptr(base.Add(time.Hour))
	t3 := plainToken("tok_3", "owner-b", "three")
	t3.Purpose = "Mentions commercial and health and s1 in its purpose only"
	t3.DataCategories = []string{}
	t3.Labels = map[string]string{"category": "health", "subject": "s2"}
	t3.LastUsedAt = ptr(base.Add(-time.Hour))
	t4 := plainToken("tok_4", "owner-b", "four")
	t4.DataCategories = []string{"health"}
	t4.SubjectIndexes = []string{"s2"}
	t4.LastUsedAt = ptr(base.Add(2 * time.Hour))
	insertTokens(t, s, t4, t2, t3, t1) // out of order: the result order is by id

	cases := []struct {
		name   string
		filter store.TokenFilter
		want   []string
	}{
		{"no filter", store.TokenFilter{}, []string{"tok_1", "tok_2", "tok_3", "tok_4"}},
		{"owner a", store.TokenFilter{OwnerIndex: "owner-a"}, []string{"tok_1", "tok_2"}},
		{"unknown owner", store.TokenFilter{OwnerIndex: "owner-z"}, nil},
		{"status active", store.TokenFilter{Status: store.StatusActive}, []string{"tok_1", "tok_3", "tok_4"}},
		{"status revoked", store.TokenFilter{Status: store.StatusRevoked}, []string{"tok_2"}},
		{"category health", store.TokenFilter{DataCategory: "health"}, []string{"tok_1", "tok_4"}},
		{"category commercial", store.TokenFilter{DataCategory: "commercial"}, []string{"tok_2"}},
		{"category nobody has", store.TokenFilter{DataCategory: "geolocation"}, nil},
		{"subject s1", store.TokenFilter{SubjectIndex: "s1"}, []string{"tok_1", "tok_2"}},
		{"subject s2", store.TokenFilter{SubjectIndex: "s2"}, []string{"tok_2", "tok_4"}},
		{"subject nobody has", store.TokenFilter{SubjectIndex: "s3"}, nil},
		// tok_1 was never used: it counts as unused from its creation (base), so not before base.
		{"unused since base", store.TokenFilter{UnusedSince: ptr(base)}, []string{"tok_3"}},
		{"unused since just after a never-used token's creation", store.TokenFilter{UnusedSince: ptr(base.Add(time.Microsecond))}, []string{"tok_1", "tok_3"}},
		{"unused since exactly a last use", store.TokenFilter{UnusedSince: ptr(base.Add(time.Hour))}, []string{"tok_1", "tok_3"}},
		{"unused since just after a last use", store.TokenFilter{UnusedSince: ptr(base.Add(time.Hour + time.Microsecond))}, []string{"tok_1", "tok_2", "tok_3"}},
		{"unused since, given in another zone", store.TokenFilter{UnusedSince: ptr(at(3 * time.Hour))}, []string{"tok_1", "tok_2", "tok_3", "tok_4"}},
		{"after id", store.TokenFilter{AfterID: "tok_2"}, []string{"tok_3", "tok_4"}},
		{"after the last id", store.TokenFilter{AfterID: "tok_4"}, nil},
		{"limit", store.TokenFilter{Limit: 2}, []string{"tok_1", "tok_2"}},
		{"every filter at once", store.TokenFilter{
			OwnerIndex: "owner-b", Status: store.StatusActive, DataCategory: "health",
			SubjectIndex: "s2", UnusedSince: ptr(base.Add(3 * time.Hour)), AfterID: "tok_3", Limit: 5,
		}, []string{"tok_4"}},
	}
	for _, c := range cases {
		if got := listIDs(t, s, c.filter); !slices.Equal(got, c.want) {
			t.Errorf("ListTokens(%s) = %v, want %v", c.name, got, c.want)
		}
	}
}

// insertMany inserts n plain tokens with ids tok_00000 ... in a scrambled order and returns
// the ids in id order.
func insertMany(t *testing.T, s store.Store, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("tok_%05d", i)
	}
	update(t, s, func(tx store.Tx) error {
		for k := range n {
			i := (k * 7919) % n // 7919 is prime, so this visits every index once when n is not a multiple of it
			if err := tx.InsertToken(t.Context(), plainToken(ids[i], "owner", ids[i])); err != nil {
				return err
			}
		}
		return nil
	})
	return ids
}

func testListLimits(t *testing.T, f Factory) {
	s := f.Open(t)
	ids := insertMany(t, s, 1005)
	cases := []struct {
		limit int
		want  []string
	}{
		{0, ids[:100]},
		{1, ids[:1]},
		{999, ids[:999]},
		{1000, ids[:1000]},
		{1001, ids[:1000]},
		{5000, ids[:1000]},
	}
	for _, c := range cases {
		if got := listIDs(t, s, store.TokenFilter{Limit: c.limit}); !slices.Equal(got, c.want) {
			t.Errorf("ListTokens(Limit %d) returned %d tokens, want %d (the first ones in id order)", c.limit, len(got), len(c.want))
		}
	}
}

func testListPaging(t *testing.T, f Factory) {
	s := f.Open(t)
	ids := insertMany(t, s, 257)
	for _, limit := range []int{0, 7, 100, 256, 257, 1000} {
		var got []string
		after := ""
		for pages := 0; ; pages++ {
			if pages > len(ids) {
				t.Fatalf("Limit %d: paging does not end", limit)
			}
			page := listIDs(t, s, store.TokenFilter{Limit: limit, AfterID: after})
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			after = page[len(page)-1]
		}
		if !slices.Equal(got, ids) {
			t.Errorf("Limit %d: paging returned %d ids, want all %d in order exactly once", limit, len(got), len(ids))
		}
	}
}

func testCredentials(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	count := func() int {
		var n int
		view(t, s, func(r store.Reader) (err error) { n, err = r.CountCredentials(ctx); return err })
		return n
	}
	if n := count(); n != 0 {
		t.Fatalf("CountCredentials on an empty store = %d, want 0", n)
	}
	admin := store.Credential{ID: "cred_admin", Name: "bootstrap admin", SecretHash: hashOf("admin"),
		Rights: []string{"admin", "tokens:write"}, CreatedAt: at(0)}
	verifier := store.Credential{ID: "cred_verifier", Name: "gateway", SecretHash: hashOf("verifier"),
		Rights: []string{"introspect"}, CreatedAt: at(time.Minute), RevokedAt: ptr(at(time.Hour))}
	update(t, s, func(tx store.Tx) error {
		if err := tx.InsertCredential(ctx, admin); err != nil {
			return err
		}
		return tx.InsertCredential(ctx, verifier)
	})
	for _, want := range []store.Credential{admin, verifier} {
		view(t, s, func(r store.Reader) error {
			got, err := r.GetCredentialByHash(ctx, want.SecretHash)
			if err != nil {
				return err
			}
			expectSame(t, "credential "+want.ID, want, got)
			return nil
		})
	}
	dupID := verifier
	dupID.SecretHash = hashOf("another")
	dupHash := verifier
	dupHash.ID = "cred_other"
	for name, c := range map[string]store.Credential{"duplicate id": dupID, "duplicate secret hash": dupHash} {
		if err := s.Update(ctx, func(tx store.Tx) error { return tx.InsertCredential(ctx, c) }); !errors.Is(err, store.ErrConflict) {
			t.Errorf("InsertCredential with %s: error = %v, want store.ErrConflict", name, err)
		}
	}
	if n := count(); n != 2 {
		t.Errorf("CountCredentials = %d, want 2", n)
	}
}

func testIdempotency(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	first := store.Idempotency{Key: "cred_admin POST /v1/tokens k-1", RequestHash: hashOf("body-1"),
		Status: 201, Response: []byte("encrypted first response"), CreatedAt: at(0)}
	update(t, s, func(tx store.Tx) error { return tx.PutIdempotency(ctx, first) })

	second := first
	second.RequestHash = hashOf("body-2")
	second.Status = 200
	second.Response = []byte("second")
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.PutIdempotency(ctx, second) }); !errors.Is(err, store.ErrConflict) {
		t.Errorf("PutIdempotency with a used key: error = %v, want store.ErrConflict", err)
	}
	view(t, s, func(r store.Reader) error {
		got, err := r.GetIdempotency(ctx, first.Key)
		if err != nil {
			return err
		}
		expectSame(t, "idempotency record", first, got)
		return nil
	})
}

func testTouchLastUsed(t *testing.T, f Factory) {
	s := f.Open(t)
	orig := plainToken("tok_a", "owner-a", "alpha")
	insertTokens(t, s, orig)
	steps := []struct {
		touch time.Time
		want  time.Time
	}{
		{at(time.Hour), at(time.Hour)},
		{at(30 * time.Minute), at(time.Hour)}, // an earlier use recorded late does not move it back
		{at(time.Hour), at(time.Hour)},
		{at(2*time.Hour + time.Microsecond), at(2*time.Hour + time.Microsecond)},
	}
	for i, step := range steps {
		update(t, s, func(tx store.Tx) error { return tx.TouchLastUsed(t.Context(), orig.ID, step.touch) })
		want := orig
		want.LastUsedAt = ptr(step.want)
		expectSame(t, fmt.Sprintf("token after touch %d", i+1), want, mustGetToken(t, s, orig.ID))
	}
}

func testAudit(t *testing.T, f Factory) {
	s := f.Open(t)
	e1 := event(audit.ActionCreate, "tok_a", map[string]string{"name": "alpha"})
	e1.Time = time.Date(2026, 11, 27, 15, 30, 0, 123456789, zone) // nanoseconds: Chain keeps microseconds
	e2 := event(audit.ActionIntrospect, "tok_a", nil)
	e3 := event(audit.ActionRotate, "tok_a", map[string]string{})
	e4 := event(audit.ActionBootstrap, "", map[string]string{"credential": "cred_admin", "rights": "admin"})
	e5 := event(audit.ActionRevoke, "tok_a", map[string]string{"reason": "left the company"})

	recs := appendAudit(t, s, e1, e2, e3)
	recs = append(recs, appendAudit(t, s, e4)...)
	recs = append(recs, appendAudit(t, s, e5)...)
	var prev *audit.Record
	for i, rec := range recs {
		want := audit.Chain(prev, int64(i+1), []audit.Event{e1, e2, e3, e4, e5}[i])
		expectSameRecord(t, want, rec)
		prev = &recs[i]
	}
	if recs[0].PrevHash != audit.GenesisHash {
		t.Errorf("first record prev_hash = %s, want the genesis hash", recs[0].PrevHash)
	}

	all := readAudit(t, s)
	if len(all) != len(recs) {
		t.Fatalf("ListAudit returned %d records, want %d", len(all), len(recs))
	}
	for i := range recs {
		expectSameRecord(t, recs[i], all[i])
	}
	pages := []struct {
		after    int64
		limit    int
		wantSeqs []int64
	}{
		{0, 2, []int64{1, 2}},
		{2, 2, []int64{3, 4}},
		{4, 10, []int64{5}},
		{5, 10, nil},
	}
	for _, p := range pages {
		var seqs []int64
		view(t, s, func(r store.Reader) error {
			page, err := r.ListAudit(t.Context(), p.after, p.limit)
			for _, rec := range page {
				seqs = append(seqs, rec.Seq)
			}
			return err
		})
		if !slices.Equal(seqs, p.wantSeqs) {
			t.Errorf("ListAudit(after %d, limit %d) = %v, want %v", p.after, p.limit, seqs, p.wantSeqs)
		}
	}
}

var errBoom = errors.New("boom: the caller's own error")

func testRollbackOnError(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	orig := plainToken("tok_a", "owner-a", "alpha")
	insertTokens(t, s, orig)
	head := appendAudit(t, s, event(audit.ActionCreate, "tok_a", nil))[0]

	err := s.Update(ctx, func(tx store.Tx) error {
		changed := orig
		changed.Name = "renamed"
		changed.SubjectIndexes = []string{"s1"}
		steps := []error{
			tx.InsertToken(ctx, plainToken("tok_b", "owner-a", "beta")),
			tx.UpdateToken(ctx, changed),
			tx.TouchLastUsed(ctx, orig.ID, at(time.Hour)),
			tx.InsertCredential(ctx, store.Credential{ID: "cred_x", Name: "x", SecretHash: hashOf("x"), Rights: []string{"admin"}, CreatedAt: base}),
			tx.PutIdempotency(ctx, store.Idempotency{Key: "k", RequestHash: hashOf("b"), Status: 201, Response: []byte("r"), CreatedAt: base}),
		}
		for i, err := range steps {
			if err != nil {
				t.Errorf("write %d inside the failing transaction: %v", i+1, err)
			}
		}
		if _, err := tx.AppendAudit(ctx, event(audit.ActionUpdate, "tok_a", nil)); err != nil {
			t.Errorf("AppendAudit inside the failing transaction: %v", err)
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update error = %v, want the error fn returned", err)
	}
	expectNothingWritten(t, s, orig, head)
}

func testRollbackOnPanic(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	orig := plainToken("tok_a", "owner-a", "alpha")
	insertTokens(t, s, orig)
	head := appendAudit(t, s, event(audit.ActionCreate, "tok_a", nil))[0]

	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.InsertToken(ctx, plainToken("tok_b", "owner-a", "beta")); err != nil {
			t.Errorf("InsertToken inside the panicking transaction: %v", err)
		}
		if _, err := tx.AppendAudit(ctx, event(audit.ActionUpdate, "tok_a", nil)); err != nil {
			t.Errorf("AppendAudit inside the panicking transaction: %v", err)
		}
		panic("fn panicked on purpose")
	})
	if err == nil {
		t.Fatal("Update returned nil after fn panicked, want an error")
	}
	expectNothingWritten(t, s, orig, head)
}

// expectNothingWritten checks that a failed transaction left the store as it was: orig
// unchanged, no tok_b, no credential or idempotency record, the audit head still head, and
// the next append chaining to it.
func expectNothingWritten(t *testing.T, s store.Store, orig store.Token, head audit.Record) {
	t.Helper()
	ctx := t.Context()
	expectSame(t, "token after rollback", orig, mustGetToken(t, s, orig.ID))
	if _, err := getToken(t, s, "tok_b"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("token inserted in the rolled back transaction: GetToken error = %v, want store.ErrNotFound", err)
	}
	if got := listIDs(t, s, store.TokenFilter{SubjectIndex: "s1"}); len(got) != 0 {
		t.Errorf("subject index written in the rolled back transaction: %v", got)
	}
	view(t, s, func(r store.Reader) error {
		if n, err := r.CountCredentials(ctx); err != nil || n != 0 {
			t.Errorf("CountCredentials after rollback = %d, %v; want 0", n, err)
		}
		if _, err := r.GetIdempotency(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("idempotency record after rollback: error = %v, want store.ErrNotFound", err)
		}
		return nil
	})
	if all := readAudit(t, s); len(all) != 1 {
		t.Fatalf("audit log has %d records after rollback, want 1", len(all))
	}
	next := appendAudit(t, s, event(audit.ActionRevoke, "tok_a", nil))[0]
	if next.Seq != 2 || next.PrevHash != head.Hash {
		t.Errorf("next record = seq %d prev %s, want seq 2 chained to %s", next.Seq, next.PrevHash, head.Hash)
	}
	if n := len(readAudit(t, s)); n != 2 {
		t.Errorf("audit log has %d records, want 2", n)
	}
}

func testViewIsolation(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	orig := plainToken("tok_a", "owner-a", "alpha")
	insertTokens(t, s, orig)

	inserted := make(chan struct{})
	release := make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	defer releaseOnce() // never leave the writer waiting, even when the test fails early
	writeDone := make(chan error, 1)
	go func() {
		writeDone <- s.Update(ctx, func(tx store.Tx) error {
			changed := orig
			changed.Name = "renamed"
			if err := tx.UpdateToken(ctx, changed); err != nil {
				return err
			}
			if err := tx.InsertToken(ctx, plainToken("tok_b", "owner-a", "beta")); err != nil {
				return err
			}
			if _, err := tx.AppendAudit(ctx, event(audit.ActionCreate, "tok_b", nil)); err != nil {
				return err
			}
			close(inserted)
			<-release
			return nil
		})
	}()
	select {
	case <-inserted:
	case err := <-writeDone:
		t.Fatalf("write transaction ended before it was released: %v", err)
	}

	// The write is in progress and holds its locks. A View must neither wait for it nor see
	// its changes. The deadline only keeps a blocking implementation from hanging the suite.
	viewCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err := s.View(viewCtx, func(r store.Reader) error {
		if _, err := r.GetToken(viewCtx, "tok_b"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("View saw an uncommitted insert: GetToken error = %v", err)
		}
		got, err := r.GetToken(viewCtx, "tok_a")
		if err != nil {
			return err
		}
		expectSame(t, "token during an uncommitted update", orig, got)
		recs, err := r.ListAudit(viewCtx, 0, 10)
		if err != nil {
			return err
		}
		if len(recs) != 0 {
			t.Errorf("View saw %d uncommitted audit records", len(recs))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View during a write in progress: %v (a View must not wait for a write)", err)
	}
	releaseOnce()
	if err := <-writeDone; err != nil {
		t.Fatalf("write transaction: %v", err)
	}
	if got := mustGetToken(t, s, "tok_a"); got.Name != "renamed" {
		t.Errorf("after commit, token name = %q, want %q", got.Name, "renamed")
	}
	mustGetToken(t, s, "tok_b")
	if n := len(readAudit(t, s)); n != 1 {
		t.Errorf("after commit, audit log has %d records, want 1", n)
	}
}

func testConcurrentAudit(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	const writers, updatesEach, recordsPerUpdate = 8, 10, 2
	errs := make(chan error, writers*updatesEach)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for u := range updatesEach {
				id := fmt.Sprintf("tok_w%d_u%02d", w, u)
				errs <- s.Update(ctx, func(tx store.Tx) error {
					if err := tx.InsertToken(ctx, plainToken(id, "owner", id)); err != nil {
						return err
					}
					for r := range recordsPerUpdate {
						details := map[string]string{"update": id, "part": fmt.Sprint(r)}
						if _, err := tx.AppendAudit(ctx, event(audit.ActionCreate, id, details)); err != nil {
							return err
						}
					}
					return nil
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Update: %v", err)
		}
	}
	all := readAudit(t, s) // verifies the chain
	if want := writers * updatesEach * recordsPerUpdate; len(all) != want {
		t.Fatalf("audit log has %d records, want %d", len(all), want)
	}
	// One transaction's records are contiguous: writes are serialised, not interleaved.
	for i := 0; i < len(all); i += recordsPerUpdate {
		for r := range recordsPerUpdate {
			rec := all[i+r]
			if rec.Details["update"] != all[i].Details["update"] || rec.Details["part"] != fmt.Sprint(r) {
				t.Fatalf("record %d is part %s of %s, want part %d of %s: transactions interleaved",
					rec.Seq, rec.Details["part"], rec.Details["update"], r, all[i].Details["update"])
			}
		}
	}
	if n := len(listIDs(t, s, store.TokenFilter{Limit: 1000})); n != writers*updatesEach {
		t.Errorf("%d tokens stored, want %d", n, writers*updatesEach)
	}
}

func testReopen(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	tok := fullToken(7)
	cred := store.Credential{ID: "cred_admin", Name: "admin", SecretHash: hashOf("admin"), Rights: []string{"admin"}, CreatedAt: at(0)}
	idem := store.Idempotency{Key: "k-1", RequestHash: hashOf("body"), Status: 201, Response: []byte("first"), CreatedAt: at(0)}
	update(t, s, func(tx store.Tx) error {
		if err := tx.InsertToken(ctx, tok); err != nil {
			return err
		}
		if err := tx.InsertCredential(ctx, cred); err != nil {
			return err
		}
		return tx.PutIdempotency(ctx, idem)
	})
	recs := appendAudit(t, s,
		event(audit.ActionBootstrap, "", map[string]string{"credential": "cred_admin"}),
		event(audit.ActionCreate, tok.ID, nil),
		event(audit.ActionRotate, tok.ID, map[string]string{"secret_version": "8"}))

	s = f.Reopen(t, s)

	expectSame(t, "token after reopen", tok, mustGetToken(t, s, tok.ID))
	if got := listIDs(t, s, store.TokenFilter{SubjectIndex: tok.SubjectIndexes[1]}); !slices.Equal(got, []string{tok.ID}) {
		t.Errorf("subject index after reopen: ListTokens = %v, want [%s]", got, tok.ID)
	}
	view(t, s, func(r store.Reader) error {
		gotCred, err := r.GetCredentialByHash(ctx, cred.SecretHash)
		if err != nil {
			return err
		}
		expectSame(t, "credential after reopen", cred, gotCred)
		gotIdem, err := r.GetIdempotency(ctx, idem.Key)
		if err != nil {
			return err
		}
		expectSame(t, "idempotency record after reopen", idem, gotIdem)
		return nil
	})
	all := readAudit(t, s)
	if len(all) != len(recs) {
		t.Fatalf("audit log after reopen has %d records, want %d", len(all), len(recs))
	}
	for i := range recs {
		expectSameRecord(t, recs[i], all[i])
	}
	next := appendAudit(t, s, event(audit.ActionRevoke, tok.ID, nil))[0]
	if next.Seq != 4 || next.PrevHash != recs[2].Hash {
		t.Errorf("first record after reopen = seq %d prev %s, want seq 4 chained to %s", next.Seq, next.PrevHash, recs[2].Hash)
	}
}

func testPing(t *testing.T, f Factory) {
	s := f.Open(t)
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}
