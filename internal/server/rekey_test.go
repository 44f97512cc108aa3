package server_test

import (
	"context"
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
