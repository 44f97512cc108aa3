package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/keyring"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/sqlite"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
)

// seedBatch is how many tokens (or verification records) one seeding transaction writes.
const seedBatch = 5000

// seedRotateEvery: every seedRotateEvery-th seeded token was rotated once, so the rotation
// report and the pack's citations have work proportional to the tokens.
const seedRotateEvery = 10

// seedDirect fills the database at db, which the service has already created and keyed (its
// chain ends under the key file's audit key), with tokens more tokens and verification
// records until the audit chain holds records records. It writes through the store API in
// transactions of seedBatch, with the key file's keys exactly as the service derives them
// (secret HMACs, fingerprints, owner and subject blind indexes, sealed owner and subjects),
// and chains every record under the audit key: the result verifies with tokenguard audit
// verify. verifier is the credential id the verification records name.
func seedDirect(ctx context.Context, db, keyFile, verifier string, tokens, records int, progress io.Writer) error {
	keys, err := keyring.Load(keyFile)
	if err != nil {
		return err
	}
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		return err
	}
	defer st.Close()
	st.SetAuditKey(keys.CurrentAuditKey())
	var head audit.Record
	if err := st.View(ctx, func(r store.Reader) error {
		head, _, err = r.AuditHead(ctx)
		return err
	}); err != nil {
		return err
	}
	left := int64(records) - head.Seq
	if left < int64(tokens) {
		return fmt.Errorf("the chain already holds %d records: %d more cannot hold %d tokens", head.Seq, left, tokens)
	}
	const owner = "team-billing"
	ownerIndex := keys.BlindIndex("owner:" + owner)
	ownerCipher, err := keys.Seal([]byte(owner))
	if err != nil {
		return err
	}
	// The seeded history starts 20 days ago, a minute a token, a second a verification: every
	// token is still valid (ttl 30d) when the benchmark runs.
	t0 := time.Now().UTC().Add(-20 * 24 * time.Hour).Truncate(time.Second)
	fmt.Fprintf(progress, "access: seeding %d tokens directly through the store...\n", tokens)
	ids := make([]string, 0, tokens)
	fingerprints := make([]string, 0, tokens)
	for done := 0; done < tokens; {
		n := min(seedBatch, tokens-done)
		err := st.Update(ctx, func(tx store.Tx) error {
			events := make([]audit.Event, 0, n+n/seedRotateEvery+1)
			for i := done; i < done+n; i++ {
				t, evs, err := seedToken(keys, i, t0.Add(time.Duration(i)*time.Second), ownerIndex, ownerCipher)
				if err != nil {
					return err
				}
				if err := tx.InsertToken(ctx, t); err != nil {
					return err
				}
				events = append(events, evs...)
				ids = append(ids, t.ID)
				fingerprints = append(fingerprints, t.Fingerprint)
			}
			_, err := tx.AppendAudits(ctx, events)
			return err
		})
		if err != nil {
			return fmt.Errorf("seeding tokens %d to %d: %w", done, done+n, err)
		}
		done += n
		left -= int64(n + (n+seedRotateEvery-1)/seedRotateEvery)
	}
	fmt.Fprintf(progress, "access: seeding %d verification records...\n", left)
	at := t0.Add(time.Duration(tokens) * time.Second)
	for k := int64(0); left > 0; {
		n := min(int64(seedBatch*4), left)
		events := make([]audit.Event, 0, n)
		for range n {
			i := int(k % int64(len(ids)))
			events = append(events, audit.Event{Time: at.Add(time.Duration(k) * time.Millisecond), Actor: verifier, Action: audit.ActionIntrospect,
				TokenID: ids[i], Fingerprint: fingerprints[i], Outcome: "active"})
			k++
		}
		if err := st.Update(ctx, func(tx store.Tx) error {
			_, err := tx.AppendAudits(ctx, events)
			return err
		}); err != nil {
			return fmt.Errorf("seeding verification records: %w", err)
		}
		left -= n
	}
	return nil
}

// seedToken is the i-th seeded token as the service would store it when created at now (and,
// for every seedRotateEvery-th, rotated an hour later), with the audit events of its life.
func seedToken(keys *keyring.Keyring, i int, now time.Time, ownerIndex string, ownerCipher []byte) (store.Token, []audit.Event, error) {
	id, err := token.NewID()
	if err != nil {
		return store.Token{}, nil, err
	}
	secret, err := token.NewSecret("live", id)
	if err != nil {
		return store.Token{}, nil, err
	}
	subject := fmt.Sprintf("customer:%d", i)
	subjects, _ := json.Marshal([]string{subject})
	sealed, err := keys.Seal(subjects)
	if err != nil {
		return store.Token{}, nil, err
	}
	const ttl = 30 * 24 * time.Hour
	t := store.Token{
		ID: id, Name: fmt.Sprintf("bench-%d", i), OwnerIndex: ownerIndex, OwnerCipher: ownerCipher,
		Purpose: "Reads invoice totals for the monthly revenue report", Scopes: []string{"invoices:read"},
		DataCategories: []string{"commercial"}, Audiences: []string{"billing-api"}, Env: "live",
		RotationInterval: 7 * 24 * time.Hour, RotationOverlap: time.Hour, Status: store.StatusActive,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(ttl), SecretVersion: 1, Fingerprint: keys.Fingerprint(secret),
		SubjectIndexes: []string{keys.BlindIndex("subject:" + subject)}, SubjectsCipher: sealed,
	}
	t.SecretHash, t.HashKeyID = keys.HashSecret(secret)
	events := []audit.Event{{Time: now, Actor: "bench-seed", Action: audit.ActionCreate, TokenID: id, Fingerprint: t.Fingerprint, Outcome: "ok",
		Details: map[string]string{"name": t.Name, "ttl": token.FormatDuration(ttl), "expires_at": t.ExpiresAt.Format(time.RFC3339),
			"data_categories": strings.Join(t.DataCategories, ","), "secret_version": "1"}}}
	if i%seedRotateEvery == 0 {
		rotated := now.Add(time.Hour)
		next, err := token.NewSecret("live", id)
		if err != nil {
			return store.Token{}, nil, err
		}
		validUntil := rotated.Add(t.RotationOverlap)
		t.PrevSecretHash, t.PrevHashKeyID, t.PrevFingerprint, t.PrevValidUntil = t.SecretHash, t.HashKeyID, t.Fingerprint, &validUntil
		t.SecretHash, t.HashKeyID = keys.HashSecret(next)
		t.Fingerprint, t.SecretVersion, t.RotatedAt, t.UpdatedAt = keys.Fingerprint(next), 2, &rotated, rotated
		events = append(events, audit.Event{Time: rotated, Actor: "bench-seed", Action: audit.ActionRotate, TokenID: id,
			Fingerprint: t.Fingerprint, Outcome: "ok", Details: map[string]string{"secret_version": "2"}})
	}
	return t, events, nil
}
