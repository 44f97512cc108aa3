package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// CredentialPrefix starts every credential secret the service mints, so secret scanners can
// find leaked ones.
const CredentialPrefix = "tgc_"

// MinAdminSecretLength is the shortest admin secret Bootstrap accepts.
const MinAdminSecretLength = 32

// caller is the authenticated credential of a request.
type caller struct {
	id         string
	role       string // one of Roles; "" for the callers that are no credential (a token holder, a report)
	ownerIndex string // the owner the credential is restricted to, "" when it is not
}

// handlerFunc is an API handler: it returns an error instead of writing one.
type handlerFunc func(w http.ResponseWriter, r *http.Request, c *caller) error

// authed wraps h so it runs only for a credential whose role allows need, and writes the
// error h returns in the API's shape.
func (s *Server) authed(need access, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serveAuthed(w, r, need, nil, h)
	})
}

// serveAuthed answers r with h if r carries a credential whose role allows need. A non-nil
// inView runs inside the read transaction that found the credential, once the role is
// checked, so a handler's reads and the authentication share one transaction; an error it
// returns is answered like an error of h.
func (s *Server) serveAuthed(w http.ResponseWriter, r *http.Request, need access, inView func(store.Reader, *caller) error, h handlerFunc) {
	s.serveAuthedBy(w, r, func() (*caller, error) { return s.authenticate(r, need, inView) }, h)
}

// serveAuthedBy answers r with h once authenticate (which reads r's credential) accepts the
// caller: a source over its limit of failed authentications is refused first, a 401 from
// authenticate counts as a failure, and a refusal of h is audited.
//
// A valid credential is never refused by the limiter (issue 13): behind a load balancer or a
// NAT many callers share one address, and anonymous failures from it must not lock out the
// valid ones. So the credential is looked up first (one keyed hash and one indexed read); a
// failure from a source over its limit is answered 429 instead of 401 and not counted again.
// Guessing stays hopeless: credentials carry 256 random bits (the bootstrap admin secret at
// least MinAdminSecretLength characters), and the limit still bounds the 401 answers and
// flags the source.
func (s *Server) serveAuthedBy(w http.ResponseWriter, r *http.Request, authenticate func() (*caller, error), h handlerFunc) {
	c, err := authenticate()
	var ae *apiError
	if errors.As(err, &ae) && ae.status == http.StatusUnauthorized {
		src := s.sourceOf(r)
		if wait, blocked := s.limiter.blocked(src); blocked {
			tooManyFailures(w, r, wait)
			return
		}
		s.limiter.fail(src)
	}
	if err == nil {
		r = withCaller(r, c)
		err = h(w, r, c)
		s.auditRefusal(r, c, err)
	}
	if err != nil {
		s.writeErr(w, r, err)
	}
}

// auditRefusal records a mutation refused by a rule (409 or 422) as a token.refuse record,
// in its own transaction since the refused one was rolled back. The record names the route,
// the error code and the field, never the request's values.
func (s *Server) auditRefusal(r *http.Request, c *caller, err error) {
	var ae *apiError
	if r.Method == http.MethodGet || !errors.As(err, &ae) ||
		(ae.status != http.StatusConflict && ae.status != http.StatusUnprocessableEntity) {
		return
	}
	ev := audit.Event{Time: s.clock(), Actor: c.id, Action: audit.ActionRefuse, Outcome: "denied",
		Details: map[string]string{"route": r.Pattern, "code": ae.code}}
	if ae.field != "" {
		ev.Details["field"] = ae.field
	}
	if id := r.PathValue("id"); strings.HasPrefix(id, "tok_") && len(id) <= 64 {
		ev.TokenID = id
	}
	// The refusal is answered even if recording it fails: the caller's request changed nothing.
	ctx := context.WithoutCancel(r.Context())
	if aerr := s.store.Update(ctx, func(tx store.Tx) error {
		_, err := tx.AppendAudit(ctx, ev)
		return err
	}); aerr != nil {
		s.log.Error("recording a refusal in the audit log failed", "route", r.Pattern, "error", aerr.Error())
	}
}

// writeErr answers err: an *apiError as it is, a database fault or a passed deadline as
// writeFault says, anything else as a 500; the details of all but an *apiError are logged.
func (s *Server) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		setChallenge(w, r, ae)
		writeErrorFor(w, r, ae)
		return
	}
	if errors.Is(err, context.Canceled) {
		s.log.Info("request cancelled by the client", "route", r.Pattern)
	} else {
		s.log.Error("request failed", "route", r.Pattern, "error", err.Error())
	}
	writeFault(w, r, err)
}

// setChallenge sets the WWW-Authenticate header of a 401 or 403 answer as RFC 6750 section 3
// says: error="invalid_token" when a credential was presented and not recognised (none when
// the request presented none), error="insufficient_scope" when it lacks the right. On the
// OAuth endpoints a 401 also offers HTTP Basic (RFC 6749 section 5.2).
func setChallenge(w http.ResponseWriter, r *http.Request, ae *apiError) {
	switch ae.status {
	case http.StatusUnauthorized:
		if r.Header.Get("Authorization") == "" && (r.PostForm == nil || !r.PostForm.Has("client_secret")) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tokenguard"`)
		} else {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tokenguard", error="invalid_token", error_description=`+strconv.Quote(ae.message))
		}
		if clientAuthPatterns[r.Pattern] {
			w.Header().Add("WWW-Authenticate", `Basic realm="tokenguard"`)
		}
	case http.StatusForbidden:
		w.Header().Set("WWW-Authenticate", `Bearer realm="tokenguard", error="insufficient_scope", error_description=`+strconv.Quote(ae.message))
	}
}

// unauthenticated is the 401 answer, with msg saying what is wrong.
func unauthenticated(msg string) error {
	return &apiError{status: http.StatusUnauthorized, code: wire.CodeUnauthenticated, message: msg}
}

// presented is the credential a request presents: its secret, and the credential id it
// claims (client_secret_basic and client_secret_post name one; Bearer does not).
type presented struct {
	secret    string
	claimedID string
	basic     bool // presented with HTTP Basic: a 401 also offers Basic
}

// clientAuthPatterns are the OAuth endpoints, where a client may authenticate as RFC 6749
// section 2.3.1 lets it (client_secret_basic, client_secret_post) besides Bearer.
var clientAuthPatterns = map[string]bool{
	"POST /v1/introspect": true,
	"POST /v1/revoke":     true,
}

// credentialOf returns the credential r presents: Authorization: Bearer on every route and,
// on the OAuth endpoints, Authorization: Basic (credential id and secret, each form-encoded
// as RFC 6749 section 2.3.1 says) or the client_id and client_secret form parameters (of a
// form the handler has parsed). Presenting more than one is refused.
func credentialOf(r *http.Request) (presented, error) {
	if len(r.Header.Values("Authorization")) > 1 {
		// Components disagree on which one counts (Go's Header.Get takes the first, others
		// the last or a join): the request does not say who it is from.
		return presented{}, invalid("Authorization", "more than one Authorization header: send exactly one, Authorization: Bearer <credential>")
	}
	oauth := clientAuthPatterns[r.Pattern]
	var post presented
	if oauth && r.PostForm != nil && (r.PostForm.Has("client_secret") || r.PostForm.Has("client_id")) {
		if r.URL.Query().Has("client_secret") {
			return presented{}, invalid("client_secret", "client_secret must not be sent in the URL: send it in the form body or with HTTP Basic")
		}
		post = presented{secret: r.PostForm.Get("client_secret"), claimedID: r.PostForm.Get("client_id")}
		if post.secret == "" || post.claimedID == "" {
			return presented{}, unauthenticated("client_secret_post needs both client_id and client_secret")
		}
	}
	authz := r.Header.Get("Authorization")
	if authz == "" {
		if post.secret != "" {
			return post, nil
		}
		if oauth {
			return presented{}, unauthenticated("missing credential: send Authorization: Bearer <credential>, HTTP Basic with the credential id and secret, or client_id and client_secret form parameters")
		}
		return presented{}, unauthenticated("missing credential: send Authorization: Bearer <credential>")
	}
	if post.secret != "" {
		return presented{}, invalid("Authorization", "the request authenticates twice (Authorization header and client_secret): use exactly one method")
	}
	scheme, value, ok := strings.Cut(authz, " ")
	value = strings.TrimSpace(value)
	if ok && oauth && strings.EqualFold(scheme, "Basic") {
		raw, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			return presented{}, unauthenticated("malformed Authorization: Basic header: send base64(client_id:client_secret)")
		}
		id, secret, found := strings.Cut(string(raw), ":")
		id, idErr := url.QueryUnescape(id)
		secret, secretErr := url.QueryUnescape(secret)
		if !found || idErr != nil || secretErr != nil || id == "" || secret == "" {
			return presented{}, unauthenticated("malformed Authorization: Basic header: send base64(client_id:client_secret)")
		}
		return presented{secret: secret, claimedID: id, basic: true}, nil
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || value == "" {
		return presented{}, unauthenticated("malformed Authorization header: use Authorization: Bearer <credential>")
	}
	return presented{secret: value}, nil
}

// authorize judges the credential whose current or previous secret hash is matched (found
// false: none matched) at instant now. It returns the caller when the credential is valid,
// even if its role does not allow need (then with a 403), and the error to answer when it
// does not authenticate or authorise. A previous secret authenticates until the
// PrevValidUntil its rotation announced, and not from that instant on.
//
// claimedID is the credential id the request names ("" when it names none): a secret
// presented under another credential's id does not authenticate.
func (s *Server) authorize(cred store.Credential, found bool, matched []byte, now time.Time, claimedID string, need access) (*caller, error) {
	if !found || cred.RevokedAt != nil || (claimedID != "" && subtle.ConstantTimeCompare([]byte(claimedID), []byte(cred.ID)) != 1) {
		return nil, unauthenticated("credential not recognised")
	}
	if subtle.ConstantTimeCompare([]byte(cred.GrantMAC), []byte(s.grantMAC(cred))) != 1 {
		// Someone changed the row without the key file: its role, restriction, secrets or
		// overlap are not what the service wrote.
		s.log.Error("credential refused: its stored grant does not match its MAC (edited outside the service?)", "credential", cred.ID)
		return nil, unauthenticated("credential not recognised")
	}
	if subtle.ConstantTimeCompare(matched, cred.SecretHash) != 1 && (cred.PrevValidUntil == nil || !now.Before(*cred.PrevValidUntil)) {
		return nil, unauthenticated("credential not recognised")
	}
	c := &caller{id: cred.ID, role: roleOf(cred.Rights), ownerIndex: cred.OwnerIndex}
	if err := c.allow(need); err != nil {
		return c, err
	}
	return c, nil
}

// noteCaller records c's credential id (c may be nil) for r's log line.
func noteCaller(r *http.Request, c *caller) {
	if c == nil {
		return
	}
	if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
		info.credentialID = c.id
	}
}

// authenticate finds the credential of r's bearer secret and checks that its role allows
// need. inView, if not nil, then runs in the same read transaction (see serveAuthed).
func (s *Server) authenticate(r *http.Request, need access, inView func(store.Reader, *caller) error) (*caller, error) {
	p, err := credentialOf(r)
	if err != nil {
		return nil, err
	}
	secret := p.secret
	var (
		c         *caller
		authErr   error // the answer when the credential does not authenticate or authorise
		inViewErr error // inView's error, returned as it is
	)
	err = s.store.View(r.Context(), func(rd store.Reader) error {
		c, authErr, inViewErr = nil, nil, nil
		var (
			cred    store.Credential
			matched []byte
		)
		found := false
		for _, h := range s.keys.SecretHashes(secret) {
			got, err := rd.GetCredentialByHash(r.Context(), h)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			cred, found, matched = got, true, h
			break
		}
		c, authErr = s.authorize(cred, found, matched, s.clock(), p.claimedID, need)
		if authErr == nil && inView != nil {
			inViewErr = inView(rd, c)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("looking up credential: %w", err)
	}
	noteCaller(r, c)
	if authErr != nil {
		return nil, authErr
	}
	if inViewErr != nil {
		return nil, inViewErr
	}
	return c, nil
}

// NewCredentialSecret returns a fresh credential secret: CredentialPrefix and 256 random bits.
func NewCredentialSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating credential secret: %w", err)
	}
	return CredentialPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

func newCredentialID() (string, error) {
	b := make([]byte, 9)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating credential id: %w", err)
	}
	return "cred_" + base64.RawURLEncoding.EncodeToString(b), nil
}

// grantMAC is the keyed MAC of what cred may do: its id, role, owner restriction and secret
// hashes (with the previous one's end), under the key file's blind-index key. The service
// writes it with every credential and checks it on every request.
func (s *Server) grantMAC(cred store.Credential) string {
	until := ""
	if cred.PrevValidUntil != nil {
		until = cred.PrevValidUntil.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)
	}
	return s.keys.BlindIndex(strings.Join([]string{"credential-grant", cred.ID, strings.Join(cred.Rights, ","), cred.OwnerIndex,
		hex.EncodeToString(cred.SecretHash), hex.EncodeToString(cred.PrevSecretHash), until}, "\x00"))
}

// adoptCredentials gives every credential without a grant MAC (written before it existed)
// its MAC, each with a credential.adopt audit record naming its role, so that from this start
// on an edit of the row outside the service is refused.
func (s *Server) adoptCredentials(ctx context.Context) error {
	err := s.store.Update(ctx, func(tx store.Tx) error {
		after := ""
		for {
			page, err := tx.ListCredentials(ctx, after, store.MaxListLimit)
			if err != nil {
				return err
			}
			for _, cred := range page {
				after = cred.ID
				if cred.GrantMAC != "" {
					continue
				}
				if err := tx.SetCredentialGrantMAC(ctx, cred.ID, s.grantMAC(cred)); err != nil {
					return err
				}
				if _, err := tx.AppendAudit(ctx, audit.Event{Time: s.clock(), Actor: "system", Action: actionCredentialAdopt,
					Outcome: "ok", Details: map[string]string{"credential": cred.ID, "role": roleOf(cred.Rights),
						"owner_restricted": strconv.FormatBool(cred.OwnerIndex != "")}}); err != nil {
					return err
				}
			}
			if len(page) < store.MaxListLimit {
				return nil
			}
		}
	})
	if err != nil {
		return fmt.Errorf("sealing the grants of credentials written before grant MACs: %w", err)
	}
	return nil
}

// Bootstrap installs adminSecret as the admin credential when the store holds no credential
// yet, and reports whether it did. It never installs a second credential: once any credential
// exists it returns false and changes nothing.
func (s *Server) Bootstrap(ctx context.Context, adminSecret string) (created bool, err error) {
	if len(adminSecret) < MinAdminSecretLength || strings.ContainsAny(adminSecret, " \t\r\n") {
		return false, fmt.Errorf("admin secret must be at least %d characters without spaces", MinAdminSecretLength)
	}
	id, err := newCredentialID()
	if err != nil {
		return false, err
	}
	hash, _ := s.keys.HashSecret(adminSecret)
	err = s.store.Update(ctx, func(tx store.Tx) error {
		n, err := tx.CountCredentials(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		now := s.clock()
		cred := store.Credential{ID: id, Name: "bootstrap admin", SecretHash: hash, Rights: []string{RoleAdmin}, CreatedAt: now}
		cred.GrantMAC = s.grantMAC(cred)
		if err := tx.InsertCredential(ctx, cred); err != nil {
			return err
		}
		if _, err := tx.AppendAudit(ctx, audit.Event{Time: now, Actor: "system", Action: audit.ActionBootstrap,
			Outcome: "ok", Details: map[string]string{"credential": id, "rights": RoleAdmin, "role": RoleAdmin}}); err != nil {
			return err
		}
		created = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("installing the admin credential: %w", err)
	}
	if err := s.adoptCredentials(ctx); err != nil {
		return created, err
	}
	return created, nil
}
