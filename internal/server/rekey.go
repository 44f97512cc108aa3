package server

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/keyring"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// actionRekey is the audit action of a re-encryption run.
const actionRekey = "keys.rekey"

// RekeyResult says what Rekey did.
type RekeyResult struct {
	KeyID             string // the key everything is now sealed under
	TokensSeen        int    // tokens read
	EnvelopesResealed int    // personal-field envelopes re-encrypted (owner, data subjects)
	ResponsesResealed int    // stored idempotent responses re-encrypted
	DeletionsSeen     int    // deletion-request evidence records read
	SubjectsResealed  int    // deletion-request subjects re-encrypted
	CredentialsSeen   int    // credentials read
	OwnersResealed    int    // owners of owner-restricted credentials re-encrypted
}

// Rekey re-encrypts, in one write transaction, every sealed value in st that is not sealed
// under keys' current key: each token's owner and data subjects, each stored idempotent
// response (it holds the secret minted then), the subject of each deletion-request evidence
// record and the owner of each owner-restricted credential. The transaction also appends a
// keys.rekey audit record, so either everything is re-encrypted and recorded or nothing is.
//
// Secret hashes are not touched: a secret cannot be rehashed without the secret, so every
// token keeps the hash and HashKeyID it was given and verifies under that key (which must
// stay in the key file) until its next rotation hashes the new secret under the current key;
// a credential likewise until its next rotation. Blind indexes are not touched either:
// keyring.AddKey carries the blind-index key over, and with it every credential's grant MAC
// (a MAC under that key of the id, role, owner index and secret hashes, not of the owner's
// ciphertext), so a credential whose owner is re-encrypted keeps its MAC.
func Rekey(ctx context.Context, st store.Store, keys *keyring.Keyring, now time.Time) (RekeyResult, error) {
	res := RekeyResult{KeyID: keys.KeyID()}
	// Its audit record is chained under the current key set's audit key, as the service's are.
	st.SetAuditKey(keys.CurrentAuditKey())
	reseal := func(envelope []byte) ([]byte, bool, error) {
		if len(envelope) == 0 {
			return envelope, false, nil
		}
		id, err := keys.EnvelopeKeyID(envelope)
		if err != nil {
			return nil, false, err
		}
		if id == keys.KeyID() {
			return envelope, false, nil
		}
		plain, err := keys.Open(envelope)
		if err != nil {
			return nil, false, err
		}
		out, err := keys.Seal(plain)
		return out, err == nil, err
	}
	err := st.Update(ctx, func(tx store.Tx) error {
		res.TokensSeen, res.EnvelopesResealed, res.ResponsesResealed, res.DeletionsSeen, res.SubjectsResealed = 0, 0, 0, 0, 0
		res.CredentialsSeen, res.OwnersResealed = 0, 0
		after := ""
		for {
			page, err := tx.ListTokens(ctx, store.TokenFilter{Limit: 1000, AfterID: after})
			if err != nil {
				return fmt.Errorf("listing tokens: %w", err)
			}
			for _, t := range page {
				res.TokensSeen++
				owner, o, err := reseal(t.OwnerCipher)
				if err != nil {
					return fmt.Errorf("token %s: owner: %w", t.ID, err)
				}
				subjects, sj, err := reseal(t.SubjectsCipher)
				if err != nil {
					return fmt.Errorf("token %s: data subjects: %w", t.ID, err)
				}
				if !o && !sj {
					continue
				}
				t.OwnerCipher, t.SubjectsCipher = owner, subjects
				if err := tx.UpdateToken(ctx, t); err != nil {
					return fmt.Errorf("token %s: %w", t.ID, err)
				}
				for _, changed := range []bool{o, sj} {
					if changed {
						res.EnvelopesResealed++
					}
				}
			}
			if len(page) < 1000 {
				break
			}
			after = page[len(page)-1].ID
		}
		after = ""
		for {
			page, err := tx.ListIdempotency(ctx, after, 1000)
			if err != nil {
				return fmt.Errorf("listing idempotent responses: %w", err)
			}
			for _, rec := range page {
				out, changed, err := reseal(rec.Response)
				if err != nil {
					return fmt.Errorf("idempotent response: %w", err)
				}
				if changed {
					if err := tx.SetIdempotencyResponse(ctx, rec.Key, out); err != nil {
						return fmt.Errorf("idempotent response: %w", err)
					}
					res.ResponsesResealed++
				}
			}
			if len(page) < 1000 {
				break
			}
			after = page[len(page)-1].Key
		}
		after = ""
		for {
			page, err := tx.ListDeletionRequests(ctx, after, 1000)
			if err != nil {
				return fmt.Errorf("listing deletion requests: %w", err)
			}
			for _, d := range page {
				res.DeletionsSeen++
				out, changed, err := reseal(d.SubjectCipher)
				if err != nil {
					return fmt.Errorf("deletion request %s: subject: %w", d.ID, err)
				}
				if changed {
					if err := tx.SetDeletionSubjectCipher(ctx, d.ID, out); err != nil {
						return fmt.Errorf("deletion request %s: %w", d.ID, err)
					}
					res.SubjectsResealed++
				}
			}
			if len(page) < 1000 {
				break
			}
			after = page[len(page)-1].ID
		}
		after = ""
		for {
			page, err := tx.ListCredentials(ctx, after, store.MaxListLimit)
			if err != nil {
				return fmt.Errorf("listing credentials: %w", err)
			}
			for _, c := range page {
				res.CredentialsSeen++
				out, changed, err := reseal(c.OwnerCipher)
				if err != nil {
					return fmt.Errorf("credential %s: owner: %w", c.ID, err)
				}
				if changed {
					if err := tx.SetCredentialOwnerCipher(ctx, c.ID, out); err != nil {
						return fmt.Errorf("credential %s: %w", c.ID, err)
					}
					res.OwnersResealed++
				}
			}
			if len(page) < store.MaxListLimit {
				break
			}
			after = page[len(page)-1].ID
		}
		_, err := tx.AppendAudit(ctx, audit.Event{Time: now.UTC().Truncate(time.Microsecond), Actor: "system",
			Action: actionRekey, Outcome: "ok", Details: map[string]string{
				"key_id":                     res.KeyID,
				"tokens":                     strconv.Itoa(res.TokensSeen),
				"envelopes_resealed":         strconv.Itoa(res.EnvelopesResealed),
				"responses_resealed":         strconv.Itoa(res.ResponsesResealed),
				"deletion_requests":          strconv.Itoa(res.DeletionsSeen),
				"subjects_resealed":          strconv.Itoa(res.SubjectsResealed),
				"credentials":                strconv.Itoa(res.CredentialsSeen),
				"credential_owners_resealed": strconv.Itoa(res.OwnersResealed),
			}})
		return err
	})
	if err != nil {
		return RekeyResult{}, fmt.Errorf("re-encrypting under key %s (nothing was changed): %w", res.KeyID, err)
	}
	return res, nil
}
