package server_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/keyring"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// storedTokens reads every token as stored (ciphertexts, hash key ids) straight from the store.
func storedTokens(t *testing.T, st store.Store) map[string]store.Token {
	t.Helper()
	out := map[string]store.Token{}
	err := st.View(context.Background(), func(r store.Reader) error {
		list, err := r.ListTokens(context.Background(), store.TokenFilter{Limit: 1000})
		for _, tok := range list {
			out[tok.ID] = tok
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func envelopeKey(t *testing.T, keys *keyring.Keyring, env []byte) string {
	t.Helper()
	id, err := keys.EnvelopeKeyID(env)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestKeyRotation_newKeyServesOldDataAndRekeyReencryptsEverythingInOneTransaction(t *testing.T) {
	ctx := context.Background()
	clock := servertest.NewClock(t0)
	dir := t.TempDir()
	svc := servertest.Start(t, servertest.Options{Dir: dir, Now: clock.Now})
	admin := svc.Client(t)
	a, err := admin.CreateToken(ctx, compliantRequest("a"), "create-a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := admin.CreateToken(ctx, compliantRequest("b"), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RevokeToken(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	// A deletion request: its evidence record holds the subject sealed under the old key.
	if _, err := admin.CreateDeletionRequest(ctx, wire.DeletionRequest{Subject: "customer:9999", Reference: "TICKET-7"}, ""); err != nil {
		t.Fatal(err)
	}
	oldKeys, err := keyring.Load(svc.KeyPath)
	if err != nil {
		t.Fatal(err)
	}
	oldID := oldKeys.KeyID()
	svc.Close()

	// A new key: the service starts with it current and the old one kept.
	newID, err := keyring.AddKey(svc.KeyPath, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	svc = servertest.Start(t, servertest.Options{Dir: dir, Now: clock.Now})
	admin = svc.Client(t)

	// Old ciphertext stays readable under the old key id, old hashes verify, blind indexes match.
	got, err := admin.GetToken(ctx, a.ID)
	if err != nil || got.Owner != a.Owner || len(got.DataSubjects) != 1 || got.DataSubjects[0] != "customer:4411" {
		t.Fatalf("token sealed under the old key = %+v, %v", got, err)
	}
	if in, err := admin.Introspect(ctx, a.Secret); err != nil || !in.Active || in.Owner != a.Owner {
		t.Fatalf("secret hashed under the old key: active %v owner %q, %v; want active", in.Active, in.Owner, err)
	}
	if in, err := admin.Introspect(ctx, b.Secret); err != nil || in.Active {
		t.Fatalf("revoked token after key rotation: active %v, %v", in.Active, err)
	}
	for _, opts := range []wire.ListTokensOptions{{Owner: a.Owner}, {Subject: "customer:4411"}} {
		list, err := admin.ListTokens(ctx, opts)
		if err != nil || len(list.Tokens) != 2 {
			t.Fatalf("list %+v after key rotation = %d tokens, %v; want both (blind index kept)", opts, len(list.Tokens), err)
		}
	}
	// The owner+name uniqueness still sees the old token (same blind index).
	_, err = admin.CreateToken(ctx, compliantRequest("a"), "")
	wantAPIError(t, err, 409, "name_taken", "name")
	// An idempotent replay of a response sealed under the old key still works.
	if replay, err := admin.CreateToken(ctx, compliantRequest("a"), "create-a"); err != nil || replay.ID != a.ID || replay.Secret != a.Secret {
		t.Fatalf("replay of a response sealed under the old key = %s, %v", replay.ID, err)
	}

	// New data uses the new key; a rotation hashes the new secret under it while the
	// previous secret (old key) keeps working through the overlap.
	c, err := admin.CreateToken(ctx, compliantRequest("c"), "")
	if err != nil {
		t.Fatal(err)
	}
	rot, err := admin.RotateToken(ctx, a.ID, wire.RotateRequest{Overlap: "1h"}, "")
	if err != nil {
		t.Fatal(err)
	}
	newKeys, err := keyring.Load(svc.KeyPath)
	if err != nil {
		t.Fatal(err)
	}
	stored := storedTokens(t, svc.Store)
	if st := stored[c.ID]; st.HashKeyID != newID || envelopeKey(t, newKeys, st.OwnerCipher) != newID {
		t.Fatalf("new token: hash key %s, owner sealed under %s; want %s for both", st.HashKeyID, envelopeKey(t, newKeys, st.OwnerCipher), newID)
	}
	if st := stored[a.ID]; st.HashKeyID != newID || st.PrevHashKeyID != oldID || envelopeKey(t, newKeys, st.OwnerCipher) != oldID {
		t.Fatalf("rotated token: hash key %s, previous %s, owner under %s; want %s, %s, %s (not yet rekeyed)",
			st.HashKeyID, st.PrevHashKeyID, envelopeKey(t, newKeys, st.OwnerCipher), newID, oldID, oldID)
	}
	for secret, want := range map[string]bool{a.Secret: true, rot.Secret: true, c.Secret: true} {
		if in, err := admin.Introspect(ctx, secret); err != nil || in.Active != want {
			t.Fatalf("before rekey: introspect = %v, %v; want %v", in.Active, err, want)
		}
	}

	// A rekey that cannot open the old envelopes changes nothing (one transaction). The
	// introspections above are audited by the verification log: let it write them first.
	svc.Flush(t)
	before := snapshotDB(t, svc.DBPath)
	stranger, _ := keyring.New()
	if _, err := server.Rekey(ctx, svc.Store, stranger, clock.Now()); err == nil || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("rekey with a keyring lacking the old keys = %v, want an error saying nothing changed", err)
	}
	if d := diffExceptNewAudit(before, snapshotDB(t, svc.DBPath)); d != "" || len(auditActionsAfter(t, svc.DBPath, before.auditMax)) != 0 {
		t.Fatalf("failed rekey changed the database: %s", d)
	}

	if keys := sealedUnder(t, newKeys, svc.Store); keys[oldID] != 4 || keys[newID] != 2 {
		t.Fatalf("before rekey: stored responses and deletion subjects by key = %v, want 4 under %s (3 responses, 1 subject) and 2 under %s", keys, oldID, newID)
	}
	res, err := server.Rekey(ctx, svc.Store, newKeys, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	// a and b each had an owner and a subjects envelope under the old key; c was new. The
	// responses of the creates of a and b and of the deletion request were sealed under the
	// old key (those of c's create and a's rotation under the new one).
	want := server.RekeyResult{KeyID: newID, TokensSeen: 3, EnvelopesResealed: 4, ResponsesResealed: 3, DeletionsSeen: 1, SubjectsResealed: 1,
		CredentialsSeen: 1} // the bootstrap admin, restricted to no owner
	if res != want {
		t.Fatalf("rekey = %+v, want %+v", res, want)
	}
	if keys := sealedUnder(t, newKeys, svc.Store); keys[oldID] != 0 || keys[newID] != 6 {
		t.Fatalf("after rekey: stored responses and deletion subjects by key = %v, want all 6 under %s", keys, newID)
	}
	for id, st := range storedTokens(t, svc.Store) {
		if k := envelopeKey(t, newKeys, st.OwnerCipher); k != newID {
			t.Fatalf("token %s owner still under %s after rekey", id, k)
		}
		if k := envelopeKey(t, newKeys, st.SubjectsCipher); k != newID {
			t.Fatalf("token %s subjects still under %s after rekey", id, k)
		}
	}
	if got := auditActionsAfter(t, svc.DBPath, before.auditMax); len(got) != 1 || got[0] != "keys.rekey" {
		t.Fatalf("audit after rekey = %v, want one keys.rekey record", got)
	}
	if again, err := server.Rekey(ctx, svc.Store, newKeys, clock.Now()); err != nil || again.EnvelopesResealed != 0 || again.ResponsesResealed != 0 || again.SubjectsResealed != 0 {
		t.Fatalf("second rekey = %+v, %v; want nothing left to re-encrypt", again, err)
	}
	// Live tokens stay valid: hashes keep their key ids; personal fields read back.
	for secret, want := range map[string]bool{a.Secret: true, rot.Secret: true, c.Secret: true, b.Secret: false} {
		if in, err := admin.Introspect(ctx, secret); err != nil || in.Active != want {
			t.Fatalf("after rekey: introspect = %v, %v; want %v", in.Active, err, want)
		}
	}
	if got, err := admin.GetToken(ctx, b.ID); err != nil || got.Owner != b.Owner || got.Status != "revoked" {
		t.Fatalf("revoked token after rekey = %+v, %v", got, err)
	}
	// The re-encrypted response of a's create still replays, now opened under the new key only.
	if replay, err := admin.CreateToken(ctx, compliantRequest("a"), "create-a"); err != nil || replay.ID != a.ID || replay.Secret != a.Secret {
		t.Fatalf("replay after rekey = %s, %v", replay.ID, err)
	}
	// The overlap still ends exactly: the previous secret (old key) stops after it.
	clock.Advance(time.Hour)
	if in, err := admin.Introspect(ctx, a.Secret); err != nil || in.Active {
		t.Fatalf("previous secret after the overlap: active %v, %v", in.Active, err)
	}
}

// sealedUnder counts, by key id, the envelopes of the stored idempotent responses and
// deletion-request subjects in st.
func sealedUnder(t *testing.T, keys *keyring.Keyring, st store.Store) map[string]int {
	t.Helper()
	out := map[string]int{}
	err := st.View(context.Background(), func(r store.Reader) error {
		recs, err := r.ListIdempotency(context.Background(), "", 1000)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			out[envelopeKey(t, keys, rec.Response)]++
		}
		dels, err := r.ListDeletionRequests(context.Background(), "", 1000)
		for _, d := range dels {
			out[envelopeKey(t, keys, d.SubjectCipher)]++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRekey_reencryptsRestrictedCredentialOwnersAllOrNothing: rekey re-encrypts the owner of
// an owner-restricted credential with the tokens' envelopes, in the same transaction: a
// credential owner it cannot open (sealed under a key the key file lacks, as after a row was
// copied from another service) fails the whole rekey, naming the credential, with no token
// envelope re-encrypted either; once the row is restored, one rekey re-encrypts both and
// the credential keeps its grant MAC (the blind-index key is carried over).
func TestRekey_reencryptsRestrictedCredentialOwnersAllOrNothing(t *testing.T) {
	ctx := context.Background()
	clock := servertest.NewClock(t0)
	dir := t.TempDir()
	svc := servertest.Start(t, servertest.Options{Dir: dir, Now: clock.Now})
	admin := svc.Client(t)
	tok, err := admin.CreateToken(ctx, compliantRequest("owned"), "")
	if err != nil {
		t.Fatal(err)
	}
	cred, err := admin.CreateCredential(ctx, wire.CreateCredentialRequest{Name: "team-reader", Role: "reader", Owner: tok.Owner}, "")
	if err != nil {
		t.Fatal(err)
	}
	oldKeys, err := keyring.Load(svc.KeyPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keyring.AddKey(svc.KeyPath, clock.Now()); err != nil {
		t.Fatal(err)
	}
	newKeys, err := keyring.Load(svc.KeyPath)
	if err != nil {
		t.Fatal(err)
	}
	stored := func() store.Credential {
		t.Helper()
		var c store.Credential
		if err := svc.Store.View(ctx, func(r store.Reader) (err error) { c, err = r.GetCredential(ctx, cred.ID); return err }); err != nil {
			t.Fatal(err)
		}
		return c
	}
	genuine := stored()
	if k := envelopeKey(t, newKeys, genuine.OwnerCipher); k != oldKeys.KeyID() {
		t.Fatalf("credential owner sealed under %s, want the old key %s", k, oldKeys.KeyID())
	}
	stranger, _ := keyring.New()
	foreign, err := stranger.Seal([]byte(tok.Owner))
	if err != nil {
		t.Fatal(err)
	}
	setOwnerCipher := func(cipher []byte) {
		t.Helper()
		if err := svc.Store.Update(ctx, func(tx store.Tx) error { return tx.SetCredentialOwnerCipher(ctx, cred.ID, cipher) }); err != nil {
			t.Fatal(err)
		}
	}
	setOwnerCipher(foreign)
	if _, err := server.Rekey(ctx, svc.Store, newKeys, clock.Now()); err == nil || !strings.Contains(err.Error(), "credential "+cred.ID) ||
		!strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("rekey with a credential owner it cannot open = %v, want an error naming the credential and saying nothing changed", err)
	}
	if k := envelopeKey(t, newKeys, storedTokens(t, svc.Store)[tok.ID].OwnerCipher); k != oldKeys.KeyID() {
		t.Fatalf("a failed rekey re-encrypted a token's owner (now under %s)", k)
	}
	setOwnerCipher(genuine.OwnerCipher)
	res, err := server.Rekey(ctx, svc.Store, newKeys, clock.Now())
	if err != nil || res.CredentialsSeen != 2 || res.OwnersResealed != 1 {
		t.Fatalf("rekey = %+v, %v; want 2 credentials read (bootstrap admin, reader) and 1 owner re-encrypted", res, err)
	}
	after := stored()
	if k := envelopeKey(t, newKeys, after.OwnerCipher); k != newKeys.KeyID() {
		t.Fatalf("credential owner after rekey under %s, want %s", k, newKeys.KeyID())
	}
	if owner, err := newKeys.Open(after.OwnerCipher); err != nil || string(owner) != tok.Owner {
		t.Fatalf("credential owner after rekey opens to %q, %v", owner, err)
	}
	genuine.OwnerCipher = after.OwnerCipher
	if !reflect.DeepEqual(after, genuine) {
		t.Fatalf("rekey changed more of the credential than its owner envelope:\n%+v\n%+v", after, genuine)
	}
	if again, err := server.Rekey(ctx, svc.Store, newKeys, clock.Now()); err != nil || again.OwnersResealed != 0 {
		t.Fatalf("second rekey = %+v, %v; want nothing left to re-encrypt", again, err)
	}
	// Restarted with the new key file (as after admin rekey), the grant MAC still matches:
	// the credential authenticates and stays restricted.
	svc.Close()
	svc = servertest.Start(t, servertest.Options{Dir: dir, Now: clock.Now})
	admin = svc.Client(t)
	reader := svc.ClientWithToken(t, cred.Secret)
	if got, err := reader.GetToken(ctx, tok.ID); err != nil || got.ID != tok.ID {
		t.Fatalf("restricted reader after rekey: %+v, %v", got, err)
	}
	other := compliantRequest("someone-else")
	other.Owner = "team-elsewhere"
	theirs, err := admin.CreateToken(ctx, other, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = reader.GetToken(ctx, theirs.ID)
	wantAPIError(t, err, 404, "not_found", "")
}
