package server

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// inactiveBody is the whole answer for any token that is not active (RFC 7662 section 2.2).
var inactiveBody = []byte(`{"active":false}`)

// TokenTypeBearer is the token_type of an active introspection answer.
const TokenTypeBearer = "bearer"

// introspect serves POST /v1/introspect. The body is JSON {"token": "..."} or, as in
// RFC 7662, a form with a token parameter.
//
// A malformed secret, a bad checksum or another environment's secret is answered inactive
// without a token lookup (and without an audit record: such strings identify nothing).
// Otherwise the caller's credential and the token of the secret's HMAC are read once (see
// authenticateIntrospection): from the store, or from the introspection cache when a revision
// read that started after the request arrived shows no token or credential changed since the
// kept read was made. So the answer always reflects every revocation committed before the
// request, by any instance or by hand; the verdict itself (expiry, overlap, grants) is judged
// on every request. The audit record (and the last_used_at update when active) is handed to the
// verification log, which group-commits it (see verifyLog for the durability bound) before
// the answer is written.
//
// The body is read before the credential is checked, but a request whose credential does not
// authenticate is still answered 401 (or 403) whatever its body.
func (s *Server) introspect() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		presented, bodyErr := s.readTokenParam(w, r, "introspect")
		if bodyErr != nil {
			s.serveAuthed(w, r, accessIntrospect, nil, func(http.ResponseWriter, *http.Request, *caller) error {
				return bodyErr
			})
			return
		}
		sec, err := token.ParseSecret(presented)
		if err != nil || sec.Env != s.env {
			// RFC 7662: a token that does not parse is answered inactive, not as an error.
			s.serveAuthed(w, r, accessIntrospect, nil, func(w http.ResponseWriter, _ *http.Request, _ *caller) error {
				writeRaw(w, http.StatusOK, inactiveBody)
				return nil
			})
			return
		}
		var decided introspection
		s.serveAuthedBy(w, r, func() (*caller, error) {
			return s.authenticateIntrospection(r, presented, sec, &decided)
		}, func(w http.ResponseWriter, r *http.Request, _ *caller) error {
			if err := s.verifications.add(r.Context(), verification{event: decided.event, active: decided.answer != nil}); err != nil {
				return err
			}
			if decided.answer == nil {
				writeRaw(w, http.StatusOK, inactiveBody)
				return nil
			}
			writeRaw(w, http.StatusOK, appendIntrospection(make([]byte, 0, 256), decided.answer))
			return nil
		})
	})
}

// appendIntrospection appends the JSON encoding of a, as json.Marshal encodes it (the same
// members in the same order, empty ones left out) but without reflection: it is the body of
// every active answer.
func appendIntrospection(b []byte, a *wire.Introspection) []byte {
	b = append(b, `{"active":`...)
	b = strconv.AppendBool(b, a.Active)
	str := func(name, v string) {
		if v != "" {
			b = append(b, `,"`+name+`":`...)
			// Invalid UTF-8 is replaced by U+FFFD, as json.Marshal does; the error only says so.
			b, _ = jsontext.AppendQuote(b, v)
		}
	}
	num := func(name string, v int64) {
		if v != 0 {
			b = append(b, `,"`+name+`":`...)
			b = strconv.AppendInt(b, v, 10)
		}
	}
	str("token_id", a.TokenID)
	str("scope", a.Scope)
	str("owner", a.Owner)
	if len(a.Audiences) > 0 {
		b = append(b, `,"aud":[`...)
		for i, aud := range a.Audiences {
			if i > 0 {
				b = append(b, ',')
			}
			b, _ = jsontext.AppendQuote(b, aud)
		}
		b = append(b, ']')
	}
	num("exp", a.ExpiresAt)
	num("iat", a.IssuedAt)
	str("token_type", a.TokenType)
	str("sub", a.Subject)
	str("client_id", a.ClientID)
	str("username", a.Username)
	str("jti", a.JWTID)
	return append(b, '}')
}

// introspection is what decide found: the answer (nil when inactive) and the audit record.
type introspection struct {
	answer *wire.Introspection
	event  audit.Event
}

// authenticateIntrospection authenticates r's credential for accessIntrospect and decides on
// presented (parsed as sec) into decided, with one ReadForIntrospection of the credential
// and the token under the current key set (through the introspection cache). When
// either is not found and the keyring holds older key sets, it falls back to authenticate
// and decide, which try the hashes of every key set in one read transaction.
//
// Reading the credential and the token in one statement that starts after the request
// arrived, or using a kept read of both only while a revision read that started after the
// request arrived is unchanged (introspectcache), keeps revocation instant: a revocation (of
// the token or of the credential) committed before the request is seen by it.
func (s *Server) authenticateIntrospection(r *http.Request, presented string, sec token.Secret, decided *introspection) (*caller, error) {
	p, err := credentialOf(r)
	if err != nil {
		return nil, err
	}
	credentialHash, _ := s.keys.HashSecret(p.secret)
	tokenHash, _ := s.keys.HashSecret(presented)
	got, err := s.introspections.ReadForIntrospection(r.Context(), credentialHash, tokenHash)
	if err != nil {
		return nil, fmt.Errorf("looking up credential: %w", err)
	}
	if (!got.CredentialFound || !got.TokenFound) && len(s.keys.KeyIDs()) > 1 {
		return s.authenticate(r, accessIntrospect, func(rd store.Reader, c *caller) error {
			var err error
			*decided, err = s.decide(r.Context(), rd, c, presented, sec)
			return err
		})
	}
	c, err := s.authorize(got.Credential, got.CredentialFound, credentialHash, s.clock(), p.claimedID, accessIntrospect)
	noteCaller(r, c)
	if err != nil {
		return nil, err
	}
	var matched []byte
	if got.TokenFound {
		matched = tokenHash
	}
	if *decided, err = s.decideOn(c, presented, sec, got.Token, matched); err != nil {
		return nil, err
	}
	return c, nil
}

// decide looks the presented secret (parsed as sec) up in rd under every key set and judges
// it for caller c.
func (s *Server) decide(ctx context.Context, rd store.Reader, c *caller, presented string, sec token.Secret) (introspection, error) {
	for _, h := range s.keys.SecretHashes(presented) {
		found, err := rd.FindTokenByHash(ctx, h)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return introspection{}, err
		}
		return s.decideOn(c, presented, sec, found, h)
	}
	return s.decideOn(c, presented, sec, store.Token{}, nil)
}

// decideOn judges the presented secret (parsed as sec) for caller c, given the token t whose
// current or previous secret hash is matched (matched nil: no token has the secret). It
// reads of t only the fields store.IntrospectionRead documents.
func (s *Server) decideOn(c *caller, presented string, sec token.Secret, t store.Token, matched []byte) (introspection, error) {
	now := s.clock()
	ev := audit.Event{Time: now, Actor: c.id, Action: audit.ActionIntrospect, Outcome: "inactive"}
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
			return introspection{}, err
		}
		ev.Outcome = "active"
		return introspection{event: ev, answer: &wire.Introspection{
			Active: true, TokenID: t.ID, Scope: strings.Join(t.Scopes, " "), Owner: string(owner),
			Audiences: t.Audiences, ExpiresAt: validUntil.Unix(), IssuedAt: issuedAt(t, matched),
			TokenType: TokenTypeBearer, Subject: string(owner), ClientID: t.ID, Username: string(owner), JWTID: t.ID,
		}}, nil
	}
	return introspection{event: ev}, nil
}

// issuedAt is the iat of the secret whose hash is matched: the last rotation for the current
// secret of a rotated token, the creation for one never rotated, and 0 (left out) for the
// previous secret inside an overlap, whose issue time the store does not keep.
func issuedAt(t store.Token, matched []byte) int64 {
	if !hmac.Equal(matched, t.SecretHash) {
		return 0
	}
	if t.RotatedAt != nil {
		return t.RotatedAt.Unix()
	}
	return t.CreatedAt.Unix()
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

// readTokenParam reads the token parameter of an OAuth request (introspection, RFC 7009
// revocation) from a form or a JSON body; verb names what the secret is sent for, in the
// message when it is missing.
func (s *Server) readTokenParam(w http.ResponseWriter, r *http.Request, verb string) (string, error) {
	form, err := s.readOAuthForm(w, r)
	if err != nil {
		return "", err
	}
	var tok string
	if form != nil {
		tok = form.Get("token")
	} else {
		body, err := s.readBody(w, r, false)
		if err != nil {
			return "", err
		}
		var req wire.IntrospectRequest // the same members as an RFC 7009 request
		if err := decodeStrict(body, &req); err != nil {
			return "", err
		}
		tok = req.Token
	}
	if tok == "" {
		return "", invalid("token", "token is required: send the secret to %s", verb)
	}
	return tok, nil
}

// readOAuthForm parses r's body when it is a form (application/x-www-form-urlencoded, as
// RFC 7662 and RFC 7009 send) and returns it; it returns nil for a JSON body, left unread.
// A parameter sent more than once is refused (RFC 6749 section 3.2), as is any other
// content type, with a message naming both accepted ones.
func (s *Server) readOAuthForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	ct := r.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	if mt != "application/x-www-form-urlencoded" {
		if mt == "application/json" {
			return nil, nil
		}
		// readBody answers an empty body 400 and any other 415; the 415 names both encodings.
		_, err := s.readBody(w, r, false)
		var ae *apiError
		if errors.As(err, &ae) && ae.status == http.StatusUnsupportedMediaType {
			return nil, &apiError{status: http.StatusUnsupportedMediaType, code: wire.CodeUnsupportedMediaType,
				message: fmt.Sprintf("Content-Type %q is not supported: send application/x-www-form-urlencoded (as RFC 7662 and RFC 7009 do) or application/json", ct)}
		}
		return nil, err
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.maxBody)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &apiError{status: http.StatusRequestEntityTooLarge, code: wire.CodeBodyTooLarge, message: "request body is too large"}
		}
		return nil, invalid("", "request body is not a valid form")
	}
	for name, values := range r.PostForm {
		if len(values) > 1 {
			return nil, invalid(name, "the form has more than one %s parameter: send exactly one", name)
		}
	}
	return r.PostForm, nil
}
