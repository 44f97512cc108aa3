package storetest

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// hotPathTests are the conformance cases of the calls the introspection path and the
// verification log make on every request: ReadForIntrospection, AppendAudits and
// TouchLastUsedAll.
var hotPathTests = []struct {
	name string
	fn   func(*testing.T, Factory)
}{
	{"ReadForIntrospectionFindsCredentialAndTokenAsViewDoes", testReadForIntrospection},
	{"ReadForIntrospectionSeesEveryCommittedRevocation", testReadForIntrospectionSeesRevocation},
	{"ReadForIntrospectionAnswersConcurrentCallsEachTheirOwn", testReadForIntrospectionConcurrent},
	{"AppendAuditsChainsLikeAppendAuditOneByOne", testAppendAudits},
	{"TouchLastUsedAllMovesForwardAndSkipsUnknownTokens", testTouchLastUsedAll},
	{"TouchLastUsedAllStopsAtTheRevocation", testTouchLastUsedAllStopsAtRevocation},
}

// introspectionFields is t with only the fields ReadForIntrospection returns of a token.
func introspectionFields(t store.Token) store.Token {
	return store.Token{ID: t.ID, Status: t.Status, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt,
		OwnerCipher: t.OwnerCipher, Scopes: t.Scopes, Audiences: t.Audiences, SecretHash: t.SecretHash,
		PrevSecretHash: t.PrevSecretHash, PrevValidUntil: t.PrevValidUntil, RotatedAt: t.RotatedAt}
}

// credentialFields is c with only the fields ReadForIntrospection returns of a credential.
func credentialFields(c store.Credential) store.Credential {
	return store.Credential{ID: c.ID, Rights: c.Rights, OwnerIndex: c.OwnerIndex, RevokedAt: c.RevokedAt,
		SecretHash: c.SecretHash, PrevSecretHash: c.PrevSecretHash, PrevValidUntil: c.PrevValidUntil, GrantMAC: c.GrantMAC}
}

func readForIntrospection(t *testing.T, s store.Store, credentialHash, tokenHash []byte) store.IntrospectionRead {
	t.Helper()
	got, err := s.ReadForIntrospection(t.Context(), credentialHash, tokenHash)
	if err != nil {
		t.Fatalf("ReadForIntrospection: %v", err)
	}
	return got
}

func testReadForIntrospection(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	verifier := store.Credential{ID: "cred_verifier", Name: "gateway", SecretHash: hashOf("verifier"),
		Rights: []string{"introspect"}, CreatedAt: at(0)}
	retired := store.Credential{ID: "cred_retired", Name: "old gateway", SecretHash: hashOf("retired"),
		Rights: []string{"introspect", "admin"}, CreatedAt: at(0), RevokedAt: ptr(at(time.Hour))}
	full := fullToken(1)
	plain := plainToken("tok_plain", "owner-p", "plain") // nil scopes' neighbours: no audiences, no previous secret
	plain.Audiences = nil
	// A token whose previous secret is full's current one: the current match must win.
	shadow := fullToken(2)
	shadow.PrevSecretHash = full.SecretHash
	update(t, s, func(tx store.Tx) error {
		for _, c := range []store.Credential{verifier, retired} {
			if err := tx.InsertCredential(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	insertTokens(t, s, full, plain, shadow)

	cases := []struct {
		name           string
		credentialHash []byte
		tokenHash      []byte
		wantCredential *store.Credential
		wantToken      *store.Token
	}{
		{"current secret", verifier.SecretHash, full.SecretHash, &verifier, &full},
		{"previous secret", verifier.SecretHash, full.PrevSecretHash, &verifier, &full},
		{"token without optional fields", verifier.SecretHash, plain.SecretHash, &verifier, &plain},
		{"revoked credential", retired.SecretHash, plain.SecretHash, &retired, &plain},
		{"unknown credential", hashOf("nobody"), full.SecretHash, nil, &full},
		{"unknown token", verifier.SecretHash, hashOf("no such secret"), &verifier, nil},
		{"neither known", hashOf("nobody"), hashOf("no such secret"), nil, nil},
	}
	for _, c := range cases {
		got := readForIntrospection(t, s, c.credentialHash, c.tokenHash)
		if got.CredentialFound != (c.wantCredential != nil) || got.TokenFound != (c.wantToken != nil) {
			t.Errorf("%s: found credential %v and token %v, want %v and %v", c.name,
				got.CredentialFound, got.TokenFound, c.wantCredential != nil, c.wantToken != nil)
			continue
		}
		want := store.IntrospectionRead{CredentialFound: got.CredentialFound, TokenFound: got.TokenFound}
		if c.wantCredential != nil {
			want.Credential = credentialFields(*c.wantCredential)
		}
		if c.wantToken != nil {
			want.Token = introspectionFields(*c.wantToken)
		}
		expectSame(t, c.name+": credential", want.Credential, got.Credential)
		expectSame(t, c.name+": token", want.Token, got.Token)
	}
	// The same answer as the View the introspection path used before.
	view(t, s, func(r store.Reader) error {
		tok, err := r.FindTokenByHash(ctx, full.SecretHash)
		if err != nil {
			return err
		}
		expectSame(t, "ReadForIntrospection against FindTokenByHash", introspectionFields(tok),
			readForIntrospection(t, s, verifier.SecretHash, full.SecretHash).Token)
		return nil
	})
	for name, hashes := range map[string][2][]byte{"empty credential hash": {nil, full.SecretHash}, "empty token hash": {verifier.SecretHash, nil}} {
		if _, err := s.ReadForIntrospection(ctx, hashes[0], hashes[1]); err == nil {
			t.Errorf("ReadForIntrospection with an %s: no error", name)
		}
	}
}

func testReadForIntrospectionSeesRevocation(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	cred := store.Credential{ID: "cred_verifier", Name: "gateway", SecretHash: hashOf("verifier"),
		Rights: []string{"introspect"}, CreatedAt: at(0)}
	update(t, s, func(tx store.Tx) error { return tx.InsertCredential(ctx, cred) })
	tok := plainToken("tok_a", "owner-a", "alpha")
	insertTokens(t, s, tok)
	if got := readForIntrospection(t, s, cred.SecretHash, tok.SecretHash); got.Token.Status != store.StatusActive {
		t.Fatalf("before the revocation: status %q, want %q", got.Token.Status, store.StatusActive)
	}
	revoked := tok
	revoked.Status, revoked.RevokedAt = store.StatusRevoked, ptr(at(time.Minute))
	update(t, s, func(tx store.Tx) error { return tx.UpdateToken(ctx, revoked) })
	if got := readForIntrospection(t, s, cred.SecretHash, tok.SecretHash); got.Token.Status != store.StatusRevoked {
		t.Errorf("first read after the revocation committed: status %q, want %q", got.Token.Status, store.StatusRevoked)
	}
	update(t, s, func(tx store.Tx) error {
		_, _, err := tx.RevokeCredential(ctx, cred.ID, at(2*time.Minute))
		return err
	})
	if got := readForIntrospection(t, s, cred.SecretHash, tok.SecretHash); got.Credential.RevokedAt == nil {
		t.Error("first read after the credential's revocation committed: credential not revoked")
	}
}

func testReadForIntrospectionConcurrent(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	const tokens, callers, rounds = 20, 16, 25
	creds := make([]store.Credential, 3)
	toks := make([]store.Token, tokens)
	update(t, s, func(tx store.Tx) error {
		for i := range creds {
			creds[i] = store.Credential{ID: fmt.Sprintf("cred_%d", i), Name: "gateway", SecretHash: hashOf(fmt.Sprint("cred", i)),
				Rights: []string{fmt.Sprint("right-", i)}, CreatedAt: at(0)}
			if err := tx.InsertCredential(ctx, creds[i]); err != nil {
				return err
			}
		}
		for i := range toks {
			toks[i] = plainToken(fmt.Sprintf("tok_%02d", i), "owner", fmt.Sprint("token-", i))
			toks[i].Scopes = []string{fmt.Sprint("scope-", i)}
			if err := tx.InsertToken(ctx, toks[i]); err != nil {
				return err
			}
		}
		return nil
	})
	var wg sync.WaitGroup
	errs := make(chan error, callers*rounds)
	for c := range callers {
		wg.Go(func() {
			for r := range rounds {
				cred, tok := creds[(c+r)%len(creds)], toks[(c*rounds+r)%tokens]
				tokenHash := tok.SecretHash
				if r%5 == 4 {
					tokenHash = hashOf(fmt.Sprint("unknown ", c, r))
				}
				got, err := s.ReadForIntrospection(ctx, cred.SecretHash, tokenHash)
				switch {
				case err != nil:
					errs <- err
				case !got.CredentialFound || got.Credential.ID != cred.ID || got.Credential.Rights[0] != cred.Rights[0]:
					errs <- fmt.Errorf("caller %d round %d: credential %+v, want %s", c, r, got.Credential, cred.ID)
				case r%5 == 4 && got.TokenFound:
					errs <- fmt.Errorf("caller %d round %d: found token %s for an unknown secret", c, r, got.Token.ID)
				case r%5 != 4 && (!got.TokenFound || got.Token.ID != tok.ID || got.Token.Scopes[0] != tok.Scopes[0]):
					errs <- fmt.Errorf("caller %d round %d: token %s %v, want %s", c, r, got.Token.ID, got.Token.Scopes, tok.ID)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func testAppendAudits(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	first := event(audit.ActionCreate, "tok_a", map[string]string{"name": "alpha"})
	batch := []audit.Event{
		event(audit.ActionIntrospect, "tok_a", nil),
		event(audit.ActionIntrospect, "", map[string]string{}),
		event(audit.ActionIntrospect, "tok_b", map[string]string{"reason": "revoked"}),
	}
	batch[0].Time = time.Date(2026, 11, 27, 15, 30, 0, 123456789, zone) // Chain keeps microseconds
	last := event(audit.ActionRevoke, "tok_b", map[string]string{"reason": "left"})
	var got []audit.Record
	update(t, s, func(tx store.Tx) error {
		if recs, err := tx.AppendAudits(ctx, nil); err != nil || len(recs) != 0 {
			t.Errorf("AppendAudits of no event = %v, %v; want nothing", recs, err)
		}
		rec, err := tx.AppendAudit(ctx, first)
		if err != nil {
			return err
		}
		recs, err := tx.AppendAudits(ctx, batch)
		if err != nil {
			return err
		}
		got = append(append(got, rec), recs...)
		return nil
	})
	update(t, s, func(tx store.Tx) error {
		recs, err := tx.AppendAudits(ctx, []audit.Event{last})
		got = append(got, recs...)
		return err
	})
	// A batch as large as the verification log's: stores may insert it in chunks.
	var large []audit.Event
	for i := range 75 {
		large = append(large, event(audit.ActionIntrospect, fmt.Sprintf("tok_%d", i%7), map[string]string{"n": fmt.Sprint(i)}))
	}
	update(t, s, func(tx store.Tx) error {
		recs, err := tx.AppendAudits(ctx, large)
		got = append(got, recs...)
		return err
	})
	events := append(append(append([]audit.Event{first}, batch...), last), large...)
	if len(got) != len(events) {
		t.Fatalf("appended %d records, want %d", len(got), len(events))
	}
	stored := readAudit(t, s)
	if len(stored) != len(events) {
		t.Fatalf("audit log holds %d records, want %d", len(stored), len(events))
	}
	var prev *audit.Record
	for i, e := range events {
		want := audit.Chain(prev, int64(i+1), e)
		expectSameRecord(t, want, got[i])
		expectSameRecord(t, want, stored[i])
		prev = &want
	}
}

func testTouchLastUsedAll(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	a, b, c := plainToken("tok_a", "owner", "a"), plainToken("tok_b", "owner", "b"), plainToken("tok_c", "owner", "c")
	c.LastUsedAt = ptr(at(2 * time.Hour))
	insertTokens(t, s, a, b, c)
	update(t, s, func(tx store.Tx) error {
		if revoked, err := tx.TouchLastUsedAll(ctx, nil); err != nil || revoked != nil {
			return fmt.Errorf("TouchLastUsedAll of no use: %v, %w", revoked, err)
		}
		revoked, err := tx.TouchLastUsedAll(ctx, []store.TokenUse{
			{TokenID: "tok_a", At: at(time.Hour)},
			{TokenID: "tok_missing", At: at(time.Hour)},
			{TokenID: "tok_b", At: at(30 * time.Minute)},
			{TokenID: "tok_b", At: at(45 * time.Minute)}, // named twice: the later instant wins
			{TokenID: "tok_c", At: at(time.Hour)},        // earlier than stored: unchanged
		})
		if err == nil && len(revoked) != 0 {
			err = fmt.Errorf("TouchLastUsedAll of tokens not revoked reported revocations %v", revoked)
		}
		return err
	})
	for _, want := range []struct {
		tok  store.Token
		used time.Time
	}{{a, at(time.Hour)}, {b, at(45 * time.Minute)}, {c, at(2 * time.Hour)}} {
		w := want.tok
		w.LastUsedAt = ptr(want.used)
		expectSame(t, "token "+w.ID, w, mustGetToken(t, s, w.ID))
	}
	if _, err := getToken(t, s, "tok_missing"); err == nil {
		t.Error("TouchLastUsedAll created the token it did not find")
	}
}

// testTouchLastUsedAllStopsAtRevocation: a use later than the token's revocation (decided on
// a state read before the revocation committed) moves last_used_at to revoked_at, not past
// it, and is reported with the revocation instant; a use before it is recorded as it is.
func testTouchLastUsedAllStopsAtRevocation(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	a, b, c := plainToken("tok_a", "owner", "a"), plainToken("tok_b", "owner", "b"), plainToken("tok_c", "owner", "c")
	for _, tok := range []*store.Token{&a, &b, &c} {
		tok.Status = store.StatusRevoked
		tok.RevokedAt = ptr(at(time.Hour))
	}
	c.LastUsedAt = ptr(at(2 * time.Hour)) // written before the rule: past its revocation
	insertTokens(t, s, a, b, c)
	var revoked map[string]time.Time
	update(t, s, func(tx store.Tx) error {
		var err error
		revoked, err = tx.TouchLastUsedAll(ctx, []store.TokenUse{
			{TokenID: "tok_a", At: at(time.Hour + time.Millisecond)}, // after the revocation
			{TokenID: "tok_b", At: at(59 * time.Minute)},             // before it
			{TokenID: "tok_c", At: at(90 * time.Minute)},             // after it, before the stored use
		})
		return err
	})
	want := map[string]time.Time{"tok_a": at(time.Hour).UTC(), "tok_c": at(time.Hour).UTC()}
	if !reflect.DeepEqual(revoked, want) {
		t.Errorf("TouchLastUsedAll reported %v, want %v", revoked, want)
	}
	for _, w := range []struct {
		tok  store.Token
		used time.Time
	}{{a, at(time.Hour)}, {b, at(59 * time.Minute)}, {c, at(time.Hour)}} {
		tok := w.tok
		tok.LastUsedAt = ptr(w.used)
		expectSame(t, "token "+tok.ID, tok, mustGetToken(t, s, tok.ID))
	}
}
