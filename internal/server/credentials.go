package server

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// actionCredentialRevoke is the audit action of POST /v1/credentials/{id}/revoke.
const actionCredentialRevoke = "credential.revoke" //nolint:gosec // G101: an audit action name, not a credential

// credentialView is the API shape of a credential without its secret.
type credentialView struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Rights    []string   `json:"rights"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// revokeCredential revokes a credential at once (POST /v1/credentials/{id}/revoke, admin):
// the very next request with it gets 401, since every request reads the credential from the
// store. It is idempotent: revoking a revoked credential answers 200 and records nothing new.
// A caller cannot revoke its own credential (409), so the last admin cannot lock everyone out.
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
	var out credentialView
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
		out = credentialView{ID: cred.ID, Name: cred.Name, Rights: cred.Rights, CreatedAt: cred.CreatedAt.UTC(), RevokedAt: utcPtr(cred.RevokedAt)}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
