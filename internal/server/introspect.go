package server

import (
	"crypto/hmac"
	"errors"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
)

// inactiveBody is the whole answer for any token that is not active (RFC 7662 section 2.2).
var inactiveBody = []byte(`{"active":false}`)

// TokenTypeBearer is the token_type of an active introspection answer.
const TokenTypeBearer = "bearer"

// introspect answers POST /v1/introspect. The body is JSON {"token": "..."} or, as in
// RFC 7662, a form with a token parameter.
//
// A malformed secret, a bad checksum or another environment's secret is answered inactive
// without touching the store (and without an audit record: such strings identify nothing).
// Otherwise a read-only transaction looks the secret up by its HMAC and decides, so the answer
// always reflects every committed revocation: there is no cache. The audit record (and the
// last_used_at update when active) is handed to the verification log, which group-commits
// it (see verifyLog for the durability bound) before the answer is written.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request, c *caller) error {
	presented, err := s.readIntrospectToken(w, r)
	if err != nil {
		return err
	}
	sec, err := token.ParseSecret(presented)
	if err != nil || sec.Env != s.env {
		// RFC 7662: a token that does not parse is answered inactive, not as an error.
		writeRaw(w, http.StatusOK, inactiveBody)
		return nil //nolint:nilerr // the parse error is the answer (inactive), given above
	}
	hashes := s.keys.SecretHashes(presented)
	ctx := r.Context()
	var answer *client.Introspection
	var ev audit.Event
	err = s.store.View(ctx, func(tx store.Reader) error {
		answer = nil
		now := s.clock()
		ev = audit.Event{Time: now, Actor: c.id, Action: audit.ActionIntrospect, Outcome: "inactive"}
		var t store.Token
		var matched []byte
		for _, h := range hashes {
			found, err := tx.FindTokenByHash(ctx, h)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			t, matched = found, h
			break
		}
		switch {
		case matched == nil:
			ev.Details = map[string]string{"reason": "unknown"}
		case t.ID != sec.TokenID():
			ev.Details = map[string]string{"reason": "id_mismatch"}
		default:
			ev.TokenID = t.ID
			ev.Fingerprint = s.keys.Fingerprint(presented)
			reason, validUntil := s.judge(t, matched, now)
			if reason != "" {
				ev.Details = map[string]string{"reason": reason}
				break
			}
			owner, err := s.keys.Open(t.OwnerCipher)
			if err != nil {
				return err
			}
			ev.Outcome = "active"
			answer = &client.Introspection{
				Active: true, TokenID: t.ID, Scope: strings.Join(t.Scopes, " "), Owner: string(owner),
				Audiences: t.Audiences, ExpiresAt: validUntil.Unix(), IssuedAt: t.CreatedAt.Unix(),
				TokenType: TokenTypeBearer,
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.verifications.add(ctx, verification{event: ev, active: answer != nil}); err != nil {
		return err
	}
	if answer == nil {
		writeRaw(w, http.StatusOK, inactiveBody)
		return nil
	}
	writeJSON(w, http.StatusOK, answer)
	return nil
}

// judge decides whether the secret whose hash is matched is active at now. It returns the
// reason it is not ("" when active) and the instant it stops being valid.
func (s *Server) judge(t store.Token, matched []byte, now time.Time) (reason string, validUntil time.Time) {
	switch statusAt(t, now) {
	case statusRevoked:
		return "revoked", time.Time{}
	case statusExpired:
		return "expired", time.Time{}
	}
	if hmac.Equal(matched, t.SecretHash) {
		return "", t.ExpiresAt
	}
	if t.PrevSecretHash != nil && hmac.Equal(matched, t.PrevSecretHash) && t.PrevValidUntil != nil {
		if now.Before(*t.PrevValidUntil) {
			if t.PrevValidUntil.Before(t.ExpiresAt) {
				return "", *t.PrevValidUntil
			}
			return "", t.ExpiresAt
		}
		return "previous_secret_expired", time.Time{}
	}
	return "superseded", time.Time{}
}

// readIntrospectToken reads the token parameter from a JSON or form body.
func (s *Server) readIntrospectToken(w http.ResponseWriter, r *http.Request) (string, error) {
	var tok string
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
		r.Body = http.MaxBytesReader(w, r.Body, s.maxBody)
		if err := r.ParseForm(); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return "", &apiError{status: http.StatusRequestEntityTooLarge, code: "body_too_large", message: "request body is too large"}
			}
			return "", invalid("", "request body is not a valid form")
		}
		tok = r.PostForm.Get("token")
	} else {
		body, err := s.readBody(w, r, false)
		if err != nil {
			return "", err
		}
		var req client.IntrospectRequest
		if err := decodeStrict(body, &req); err != nil {
			return "", err
		}
		tok = req.Token
	}
	if tok == "" {
		return "", invalid("token", "token is required: send the secret to introspect")
	}
	return tok, nil
}
