package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// Audit actions of the credential routes.
const (
	actionCredentialCreate = "credential.create" //nolint:gosec // G101: an audit action name, not a credential
	actionCredentialRevoke = "credential.revoke" //nolint:gosec // G101: an audit action name, not a credential
	actionCredentialRotate = "credential.rotate" //nolint:gosec // G101: an audit action name, not a credential
	actionCredentialAdopt  = "credential.adopt"  //nolint:gosec // G101: an audit action name, not a credential
)

// Overlap of a credential rotation: the previous secret keeps working this long unless the
// request says otherwise, and never longer than the maximum.
const (
	DefaultCredentialOverlap = time.Hour
	MaxCredentialOverlap     = 30 * token.Day
)

// credentialAnswer is cred in its API shape, without a secret: the owner restriction
// decrypted, never a secret's hash.
func (s *Server) credentialAnswer(cred store.Credential) (wire.Credential, error) {
	out := wire.Credential{ID: cred.ID, Name: cred.Name, Role: roleOf(cred.Rights), Rights: nonNil(cred.Rights),
		CreatedAt: cred.CreatedAt.UTC(), RevokedAt: utcPtr(cred.RevokedAt), RotatedAt: utcPtr(cred.RotatedAt)}
	if cred.PrevSecretHash != nil {
		out.PreviousValidUntil = utcPtr(cred.PrevValidUntil)
	}
	if len(cred.OwnerCipher) > 0 {
		owner, err := s.keys.Open(cred.OwnerCipher)
		if err != nil {
			return wire.Credential{}, fmt.Errorf("credential %s: owner: %w", cred.ID, err)
		}
		out.Owner = string(owner)
	}
	return out, nil
}

// createCredential mints a credential of the requested role, optionally restricted to one
// owner (POST /v1/credentials, admin). The secret is in this answer only.
func (s *Server) createCredential(w http.ResponseWriter, r *http.Request, c *caller) error {
	body, req, err := decodeBody[wire.CreateCredentialRequest](s, w, r, false)
	if err != nil {
		return err
	}
	if req.Name, err = requiredText("name", req.Name, maxNameLength, "say which pipeline or resource server will use this credential"); err != nil {
		return err
	}
	if err := checkIdentifier("name", req.Name); err != nil {
		return err
	}
	role := strings.TrimSpace(req.Role)
	for _, right := range req.Rights {
		if right != RoleIntrospect || (role != "" && role != RoleIntrospect) {
			return invalid("rights", "rights other than %q cannot be granted here (rights is the first versions' way to ask for an introspect credential): set role to one of admin, issuer, reader, introspect instead", RoleIntrospect)
		}
	}
	if role == "" {
		role = RoleIntrospect
	}
	if roleOf([]string{role}) == "" {
		return invalid("role", "role %q is not one of admin, issuer, reader, introspect", req.Role)
	}
	var owner, ownerIdx string
	var ownerCipher []byte
	if strings.TrimSpace(req.Owner) != "" {
		if !ownerRestrictable(role) {
			return invalid("owner", "an owner restriction applies to issuer and reader credentials only, not to a %s credential: leave owner out or choose role issuer or reader", role)
		}
		if owner, err = requiredText("owner", req.Owner, maxOwnerLength, "name the owner whose tokens the credential may reach"); err != nil {
			return err
		}
		// The same checks as a token's owner: an owner no token can have would restrict the
		// credential to nothing.
		if err := checkIdentifier("owner", owner); err != nil {
			return err
		}
		ownerIdx = s.ownerIndex(owner)
		if ownerCipher, err = s.keys.Seal([]byte(owner)); err != nil {
			return err
		}
	}
	return s.mutate(w, r, c, body, func(tx store.Tx, now time.Time) (int, any, error) {
		secret, err := NewCredentialSecret()
		if err != nil {
			return 0, nil, err
		}
		id, err := newCredentialID()
		if err != nil {
			return 0, nil, err
		}
		hash, _ := s.keys.HashSecret(secret)
		cred := store.Credential{ID: id, Name: req.Name, SecretHash: hash, Rights: []string{role},
			OwnerIndex: ownerIdx, OwnerCipher: ownerCipher, CreatedAt: now}
		cred.GrantMAC = s.grantMAC(cred)
		if err := tx.InsertCredential(r.Context(), cred); err != nil {
			return 0, nil, err
		}
		details := map[string]string{"credential": id, "rights": role, "role": role}
		if ownerIdx != "" {
			details["owner_restricted"] = "true" // the owner is personal data: not in the log
		}
		if _, err := tx.AppendAudit(r.Context(), audit.Event{Time: now, Actor: c.id, Action: actionCredentialCreate,
			Outcome: "ok", Details: details}); err != nil {
			return 0, nil, err
		}
		out, err := s.credentialAnswer(cred)
		if err != nil {
			return 0, nil, err
		}
		out.Secret = secret
		return http.StatusCreated, out, nil
	})
}

// listCredentials answers GET /v1/credentials (admin): every credential, revoked ones
// included, in id order, with role and owner restriction and never a secret or its hash.
func (s *Server) listCredentials(w http.ResponseWriter, r *http.Request, _ *caller) error {
	if len(r.URL.Query()) > 0 {
		return invalid("query", "GET /v1/credentials takes no query parameters")
	}
	out := wire.CredentialList{Credentials: []wire.Credential{}}
	err := s.store.View(r.Context(), func(rd store.Reader) error {
		out.Credentials = out.Credentials[:0]
		after := ""
		for {
			page, err := rd.ListCredentials(r.Context(), after, store.MaxListLimit)
			if err != nil {
				return err
			}
			for _, cred := range page {
				a, err := s.credentialAnswer(cred)
				if err != nil {
					return err
				}
				out.Credentials = append(out.Credentials, a)
				after = cred.ID
			}
			if len(page) < store.MaxListLimit {
				return nil
			}
		}
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// rotateCredential gives a credential a new secret (POST /v1/credentials/{id}/rotate, admin),
// the bootstrap admin credential and the caller's own included: the answer holds the new
// secret, once, and the previous one keeps working until now + overlap (default
// DefaultCredentialOverlap), checked on every request, so clients switch over without a
// failed request. As for tokens, a rotation while the previous one's overlap runs is
// refused (409): the service keeps one previous secret, and a second rotation would end the
// first one's overlap earlier than it announced.
func (s *Server) rotateCredential(w http.ResponseWriter, r *http.Request, c *caller) error {
	body, req, err := decodeBody[wire.RotateCredentialRequest](s, w, r, true)
	if err != nil {
		return err
	}
	overlap := DefaultCredentialOverlap
	switch v := strings.TrimSpace(req.Overlap); v {
	case "":
	case "0", "0s", "0m", "0h", "0d":
		overlap = 0 // the previous secret ends at once
	default:
		if overlap, err = token.ParseDuration(v); err != nil {
			return invalid("overlap", "overlap: %v", err)
		}
		if overlap < 0 || overlap > MaxCredentialOverlap {
			return invalid("overlap", "overlap %s is outside 0s to %s", v, token.FormatDuration(MaxCredentialOverlap))
		}
	}
	id := r.PathValue("id")
	ctx := r.Context()
	return s.mutate(w, r, c, body, func(tx store.Tx, now time.Time) (int, any, error) {
		cred, err := tx.GetCredential(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return 0, nil, notFound("credential")
		}
		if err != nil {
			return 0, nil, err
		}
		if cred.RevokedAt != nil {
			return 0, nil, conflict(wire.CodeCredentialRevoked, "", "credential %s is revoked and cannot be rotated: create a new credential", id)
		}
		if cred.PrevSecretHash != nil && cred.PrevValidUntil != nil && now.Before(*cred.PrevValidUntil) {
			until := cred.PrevValidUntil.UTC().Format(time.RFC3339)
			return 0, nil, conflict(wire.CodeCredentialOverlapRunning, "", "credential %s was rotated and its previous secret stays valid until %s, as that rotation announced: "+
				"rotate at or after %s, or revoke the credential and create a new one to stop every secret at once", id, until, until)
		}
		secret, err := NewCredentialSecret()
		if err != nil {
			return 0, nil, err
		}
		hash, _ := s.keys.HashSecret(secret)
		until := now.Add(overlap)
		next := cred
		next.SecretHash, next.PrevSecretHash, next.PrevValidUntil = hash, cred.SecretHash, &until
		if cred, err = tx.RotateCredential(ctx, id, hash, until, now, s.grantMAC(next)); err != nil {
			return 0, nil, err
		}
		if _, err := tx.AppendAudit(ctx, audit.Event{Time: now, Actor: c.id, Action: actionCredentialRotate, Outcome: "ok",
			Details: map[string]string{"credential": id, "overlap": token.FormatDuration(overlap),
				"previous_valid_until": until.Format(time.RFC3339Nano)}}); err != nil {
			return 0, nil, err
		}
		out, err := s.credentialAnswer(cred)
		if err != nil {
			return 0, nil, err
		}
		out.Secret = secret
		return http.StatusOK, out, nil
	})
}

// revokeCredential revokes a credential at once (POST /v1/credentials/{id}/revoke, admin):
// the very next request with it (with its current or previous secret) gets 401, since every
// request reads the credential from the store. It is idempotent: revoking a revoked
// credential answers 200 and records nothing new. A caller cannot revoke its own credential
// (409), so the last admin cannot lock everyone out.
func (s *Server) revokeCredential(w http.ResponseWriter, r *http.Request, c *caller) error {
	body, err := s.readBody(w, r, true)
	if err != nil {
		return err
	}
	var req revokeRequest
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	if len(req.Reason) > maxPurposeLength {
		return invalid("reason", "reason is longer than %d characters", maxPurposeLength)
	}
	id := r.PathValue("id")
	if id == c.id {
		return conflict(wire.CodeCannotRevokeSelf, "", "a credential cannot revoke itself: revoke it with another admin credential")
	}
	ctx := r.Context()
	var out wire.Credential
	err = s.store.Update(ctx, func(tx store.Tx) error {
		now := s.clock()
		cred, revoked, err := tx.RevokeCredential(ctx, id, now)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("credential")
		}
		if err != nil {
			return err
		}
		if revoked {
			ev := audit.Event{Time: now, Actor: c.id, Action: actionCredentialRevoke, Outcome: "ok",
				Details: map[string]string{"credential": cred.ID}}
			if reason := strings.TrimSpace(req.Reason); reason != "" {
				ev.Details["reason"] = reason
			}
			if _, err := tx.AppendAudit(ctx, ev); err != nil {
				return err
			}
		}
		out, err = s.credentialAnswer(cred)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
