package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"maps"
	"net/http"
	"strings"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
)

// actorTokenHolder is the audit actor of a revocation by the token's own holder.
const actorTokenHolder = "token-holder"

// revokeByValue serves POST /v1/revoke, RFC 7009 token revocation by the secret's value: a
// form (or JSON object) with token and an optional token_type_hint (ignored: every tg_
// secret is an access token).
//
// Two callers may revoke: a credential of a role allowed to (admin, issuer or introspect;
// Bearer, client_secret_basic or client_secret_post), and the token's holder, who authenticates
// with Authorization: Bearer <the very secret being revoked>; any other tg_ secret as
// credential is refused 401. As RFC 7009 section 2.2 says, a secret that identifies no live
// token is answered 200 as well, so the answer tells nothing about the secret. A live
// secret (the current one, or the previous one inside its overlap) revokes its token, in
// one transaction with the audit record, like DELETE /v1/tokens/{id}: the next
// introspection, on any instance, answers inactive.
func (s *Server) revokeByValue() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		presented, bodyErr := s.readTokenParam(w, r, "revoke")
		s.serveAuthedBy(w, r, func() (*caller, error) {
			p, err := credentialOf(r)
			if err == nil && p.claimedID == "" && strings.HasPrefix(p.secret, token.Prefix) {
				// The holder of a token may always revoke its own secret, and nothing else.
				if bodyErr != nil {
					return nil, bodyErr
				}
				if subtle.ConstantTimeCompare([]byte(p.secret), []byte(presented)) != 1 {
					return nil, unauthenticated("a token secret as credential may revoke only itself: send it as the token parameter too, or use an admin, issuer or introspect credential")
				}
				return &caller{id: actorTokenHolder}, nil
			}
			return s.authenticate(r, accessRevokeByValue, nil)
		}, func(w http.ResponseWriter, r *http.Request, c *caller) error {
			if bodyErr != nil {
				return bodyErr
			}
			if _, err := s.revokeSecret(r.Context(), c, presented, map[string]string{"via": "rfc7009"}); err != nil {
				return err
			}
			writeRaw(w, http.StatusOK, []byte("{}"))
			return nil
		})
	})
}

// revokeSecret revokes the token whose live secret is presented, for caller c, with details
// (which never hold the secret) in the audit record, and returns its id. A secret that does
// not parse, is of another environment, matches no token, or is no longer live (revoked,
// expired, superseded, or a previous secret after its overlap) changes nothing and returns
// "": a dead secret is no authority over the token's live one.
func (s *Server) revokeSecret(ctx context.Context, c *caller, presented string, details map[string]string) (string, error) {
	revoked, _, err := s.revokeSecretKnown(ctx, c, presented, details)
	return revoked, err
}

// revokeSecretKnown is revokeSecret that also reports whether presented is a secret, live
// or dead, of one of the service's tokens.
func (s *Server) revokeSecretKnown(ctx context.Context, c *caller, presented string, details map[string]string) (revoked string, known bool, err error) {
	sec, parseErr := token.ParseSecret(presented)
	if parseErr != nil || sec.Env != s.env {
		return "", false, nil //nolint:nilerr // not a secret of this service: nothing to revoke, as RFC 7009 answers 200
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		revoked, known = "", false
		now := s.clock()
		for _, h := range s.keys.SecretHashes(presented) {
			t, err := tx.FindTokenByHash(ctx, h)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if t.ID != sec.TokenID() {
				return nil
			}
			known = true
			if reason, _ := s.judge(t, h, now); reason != "" {
				return nil
			}
			revokedAt := revocationInstant(now, t)
			t.Status = store.StatusRevoked
			t.RevokedAt = &revokedAt
			t.UpdatedAt = now
			ev := tokenEvent(c, audit.ActionRevoke, t, revokedAt, maps.Clone(details))
			ev.Fingerprint = s.keys.Fingerprint(presented)
			if err := saveChange(ctx, tx, t, ev); err != nil {
				return err
			}
			revoked = t.ID
			return nil
		}
		return nil
	})
	return revoked, known, err
}
