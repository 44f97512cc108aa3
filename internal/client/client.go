// Package client is the Go client of the tokenguard token API, built on go-retryablehttp.
// Every request that mints or changes a secret carries an Idempotency-Key, so a retry after
// a lost response returns the first result instead of issuing a second token.
//
// The API surface:
//
//	func New(cfg Config) (*Client, error)
//	func (c *Client) CreateToken(ctx, req wire.CreateTokenRequest, idempotencyKey string) (wire.Token, error)
//	func (c *Client) GetToken(ctx, id string) (wire.Token, error)               // ErrNotFound
//	func (c *Client) ListTokens(ctx, opts wire.ListTokensOptions) (wire.TokenList, error)
//	func (c *Client) UpdateToken(ctx, id string, req wire.UpdateTokenRequest) (wire.Token, error)
//	func (c *Client) RotateToken(ctx, id string, req wire.RotateRequest, idempotencyKey string) (wire.Token, error)
//	func (c *Client) RenewToken(ctx, id string, req wire.RenewRequest, idempotencyKey string) (wire.Token, error)
//	func (c *Client) RevokeToken(ctx, id string) (wire.Token, error)            // idempotent
//	func (c *Client) Introspect(ctx, secret string) (wire.Introspection, error)
//	func (c *Client) ListAudit(ctx, after int64, limit int) (wire.AuditPage, error)
//	func (c *Client) AuditCheckpoint(ctx) (audit.Checkpoint, error)
//	func (c *Client) IssueEvidence(ctx, req wire.EvidenceIssueRequest) (wire.EvidenceIssued, error)
//	func (c *Client) CreateCredential(ctx, req wire.CreateCredentialRequest, idempotencyKey string) (wire.Credential, error)
//	func (c *Client) RevokeCredential(ctx, id string) (wire.Credential, error)  // idempotent; ErrNotFound
//	func (c *Client) ListCredentials(ctx) ([]wire.Credential, error)
//	func (c *Client) RotateCredential(ctx, id string, req wire.RotateCredentialRequest, idempotencyKey string) (wire.Credential, error)
//	func (c *Client) Ready(ctx) error
//
// An empty idempotencyKey makes the client generate one per call (kept across its retries).
// Errors: ErrNotFound for 404, and *ResponseError{StatusCode, Code, Message, Field} for every
// other non-2xx answer; callers use errors.Is / errors.As, never the message text.
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	cleanhttp "github.com/hashicorp/go-cleanhttp"
	retryablehttp "github.com/hashicorp/go-retryablehttp"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// Defaults of Config fields left zero.
const (
	DefaultRetryMax     = 4
	DefaultRetryWaitMin = 250 * time.Millisecond //nolint:revive // time-naming: "Min" is minimum (retryablehttp's RetryWaitMin), not minutes
	DefaultRetryWaitMax = 5 * time.Second
	DefaultTimeout      = 30 * time.Second
)

// maxIdleConnsPerHost is how many idle keep-alive connections to the service the default
// HTTP client keeps: above Terraform's default parallelism (10), so concurrent resource
// operations reuse their connections instead of opening one per request.
const maxIdleConnsPerHost = 32

// maxResponseBytes bounds how much of a response body the client reads.
const maxResponseBytes = 16 << 20

// ErrNotFound is matched (errors.Is) by the error of any call answered 404.
var ErrNotFound = errors.New("not found")

// ResponseError is a non-2xx answer of the API, in the API's one error shape.
type ResponseError struct {
	StatusCode int
	Code       string // machine-readable, e.g. "invalid_request", "name_taken"
	Message    string // for people; never branch on it
	Field      string // the request field at fault, when there is one
	// Findings are the policy findings of a 422 policy_violation answer of the service's
	// policy gate; nil for every other error.
	Findings []wire.Finding
	// Attempts is how many times the request was sent, retries included.
	Attempts int
}

// Transient reports whether the answer may change when the request is sent again later: 429
// and 5xx other than 501, the answers the client retries.
func (e *ResponseError) Transient() bool {
	return e.StatusCode == http.StatusTooManyRequests || (e.StatusCode >= 500 && e.StatusCode != http.StatusNotImplemented)
}

// TransportError is a request that got no answer from the service on any attempt:
// connection refused or reset, TLS failure, or no answer within the request timeout.
type TransportError struct {
	// Attempts is how many times the request was sent, retries included.
	Attempts int
	// Timeout is true when the last attempt ended for want of an answer in time.
	Timeout bool
	Err     error
}

func (e *TransportError) Error() string { return e.Err.Error() }
func (e *TransportError) Unwrap() error { return e.Err }

func (e *ResponseError) Error() string {
	msg := fmt.Sprintf("tokenguard API: %d", e.StatusCode)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Field != "" {
		msg += " (" + e.Field + ")"
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	for _, f := range e.Findings {
		if f.Blocking {
			msg += fmt.Sprintf("; %s %s: %s (fix: %s)", f.RuleID, f.Title, f.Message, f.Remediation)
		}
	}
	return msg
}

// Is makes errors.Is(err, ErrNotFound) true for a 404.
func (e *ResponseError) Is(target error) bool {
	return target == ErrNotFound && e.StatusCode == http.StatusNotFound
}

// Config configures a Client.
type Config struct {
	// Endpoint is the service's base URL, e.g. "https://tokens.example.com". Plain http:// is
	// accepted only for a loopback host (localhost, 127.0.0.0/8, ::1) unless InsecureHTTP.
	Endpoint string
	// Token is the credential sent as "Authorization: Bearer <Token>". Never logged.
	Token string
	// HTTPClient is the underlying client; nil means a pooled client with Timeout.
	// It cannot be combined with CACertPEM (configure its TLS yourself then).
	HTTPClient *http.Client
	// CACertPEM is PEM of extra CA certificates to trust for the endpoint.
	CACertPEM string
	// InsecureHTTP allows a plain http:// endpoint that is not on loopback.
	InsecureHTTP bool
	// Timeout bounds each attempt of a request, from connecting to reading the whole answer
	// (default DefaultTimeout). It applies to the default HTTP client only.
	Timeout time.Duration
	// RetryMax is the number of retries after the first attempt on connection errors, 429
	// and 5xx answers (default DefaultRetryMax; negative disables retries).
	RetryMax int
	// RetryWaitMin and RetryWaitMax bound the exponential backoff between retries
	// (defaults DefaultRetryWaitMin and DefaultRetryWaitMax); a Retry-After header is honoured.
	RetryWaitMin, RetryWaitMax time.Duration
	// Logger receives debug lines about requests and retries (method and attempt only: no
	// URL, header, body or secret); nil logs nothing.
	Logger *slog.Logger
	// UserAgent is sent as the User-Agent header (default "tokenguard-client").
	UserAgent string
}

// Client calls the tokenguard API. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	token     string
	userAgent string
	http      *retryablehttp.Client
}

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if strings.TrimSpace(cfg.Endpoint) == "" {
		return nil, errors.New("tokenguard client: endpoint is required (e.g. https://tokens.example.com)")
	}
	base, err := url.Parse(strings.TrimRight(cfg.Endpoint, "/"))
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("tokenguard client: endpoint %q is not an absolute URL such as https://tokens.example.com", cfg.Endpoint)
	}
	if base.User != nil || base.RawQuery != "" || base.Fragment != "" {
		return nil, errors.New("tokenguard client: endpoint must not hold credentials, a query or a fragment: pass the credential as the token")
	}
	switch base.Scheme {
	case "https":
	case "http":
		if !cfg.InsecureHTTP && !IsLoopbackHost(base.Hostname()) {
			return nil, fmt.Errorf("tokenguard client: endpoint %s uses plain http on a non-loopback host: use https, or allow insecure http explicitly", base.Redacted())
		}
	default:
		return nil, fmt.Errorf("tokenguard client: endpoint scheme %q is not supported: use https (or http on loopback)", base.Scheme)
	}
	if strings.ContainsAny(cfg.Token, "\r\n") {
		return nil, errors.New("tokenguard client: token contains a line break")
	}

	hc := cfg.HTTPClient
	switch {
	case hc != nil && cfg.CACertPEM != "":
		return nil, errors.New("tokenguard client: CACertPEM cannot be combined with a custom HTTPClient: configure its TLS instead")
	case hc == nil:
		// cleanhttp keeps GOMAXPROCS+1 idle connections per host (3 on two cores), fewer than
		// Terraform's 10 parallel operations: every answer beyond them closed its connection
		// and the next request opened (and, with TLS, negotiated) a new one.
		tr := cleanhttp.DefaultPooledTransport()
		tr.MaxIdleConnsPerHost = maxIdleConnsPerHost
		timeout := DefaultTimeout
		if cfg.Timeout > 0 {
			timeout = cfg.Timeout
		}
		hc = &http.Client{Transport: tr, Timeout: timeout}
		if cfg.CACertPEM != "" {
			pool, err := x509.SystemCertPool()
			if err != nil || pool == nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM([]byte(cfg.CACertPEM)) {
				return nil, errors.New("tokenguard client: CA certificate PEM holds no certificate")
			}
			tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
	}
	// Never follow a redirect: it could carry the Authorization header somewhere else.
	hcCopy := *hc
	hcCopy.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	rc := retryablehttp.NewClient()
	rc.HTTPClient = &hcCopy
	rc.Logger = nil
	if cfg.Logger != nil {
		rc.Logger = leveledLogger{cfg.Logger}
	}
	rc.RetryMax = DefaultRetryMax
	if cfg.RetryMax > 0 {
		rc.RetryMax = cfg.RetryMax
	} else if cfg.RetryMax < 0 {
		rc.RetryMax = 0
	}
	rc.RetryWaitMin, rc.RetryWaitMax = DefaultRetryWaitMin, DefaultRetryWaitMax
	if cfg.RetryWaitMin > 0 {
		rc.RetryWaitMin = cfg.RetryWaitMin
	}
	if cfg.RetryWaitMax > 0 {
		rc.RetryWaitMax = cfg.RetryWaitMax
	}
	if rc.RetryWaitMax < rc.RetryWaitMin {
		rc.RetryWaitMax = rc.RetryWaitMin
	}
	rc.CheckRetry = retryPolicy
	// Count the attempts of each request, for errors that say how often it was tried.
	rc.RequestLogHook = func(_ retryablehttp.Logger, req *http.Request, attempt int) {
		if n, ok := req.Context().Value(attemptsKey{}).(*int); ok {
			*n = attempt + 1
		}
	}
	// After the last retry, hand back the last answer so its error body can be read.
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	ua := cfg.UserAgent
	if ua == "" {
		ua = "tokenguard-client"
	}
	return &Client{base: base, token: cfg.Token, userAgent: ua, http: rc}, nil
}

// attemptsKey is the context key of a request's attempt counter.
type attemptsKey struct{}

// retryPolicy is retryablehttp.DefaultRetryPolicy (connection errors, 429, 5xx except 501;
// never after the context ends) with its error dropped when it decides not to retry, so the
// caller sees the API's own error body. Every request is safe to repeat: minting requests
// carry an Idempotency-Key and the others are idempotent.
//
// One 429 is not retried: too_many_failed_attempts. Retrying a request that fails
// authentication only spends the source's allowance and pushes its Retry-After further out;
// the caller gets the error at once, its message saying when to try again.
func retryPolicy(ctx context.Context, resp *http.Response, err error) (bool, error) {
	retry, perr := retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if retry && resp != nil && resp.StatusCode == http.StatusTooManyRequests && errorCode(resp) == wire.CodeTooManyFailedAttempts {
		return false, nil
	}
	return retry, perr
}

// errorCode returns the code of the API error body of resp ("" when it has none) and leaves
// the body readable again from its start.
func errorCode(resp *http.Response) string {
	if resp.Body == nil {
		return ""
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	if err != nil {
		return ""
	}
	var eb wire.ErrorBody
	if json.Unmarshal(raw, &eb) == nil {
		return eb.Error.Code
	}
	var oauth oauthErrorBody
	if json.Unmarshal(raw, &oauth) == nil {
		return oauth.TokenguardCode
	}
	return ""
}

// IsLoopbackHost reports whether host (without port) is "localhost" or a loopback IP.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// NewIdempotencyKey returns a random idempotency key.
func NewIdempotencyKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return "idem_" + hex.EncodeToString(b)
}

// do sends one API request (with retries) and decodes a 2xx JSON answer into out.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any, idempotencyKey string) error {
	u := *c.base
	u.Path = c.base.Path + path
	u.RawQuery = query.Encode()
	var body any
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("tokenguard client: encoding request: %w", err)
		}
		body = b
	}
	attempts := new(int)
	req, err := retryablehttp.NewRequestWithContext(context.WithValue(ctx, attemptsKey{}, attempts), method, u.String(), body)
	if err != nil {
		return fmt.Errorf("tokenguard client: building %s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", idempotencyKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// retryablehttp's error names the method and URL (never headers); drop the query,
		// which may hold a data subject.
		var ne net.Error
		return &TransportError{
			Attempts: max(*attempts, 1),
			Timeout:  errors.As(err, &ne) && ne.Timeout(),
			Err:      fmt.Errorf("tokenguard client: %s %s: %w", method, path, scrubURLError(err, u.String(), c.base.String()+path)),
		}
	}
	// The body is read below before anything is decided; closing it only frees the connection.
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("tokenguard client: %s %s: reading response: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		re := &ResponseError{StatusCode: resp.StatusCode, Attempts: max(*attempts, 1)}
		var eb wire.ErrorBody
		var oauth oauthErrorBody
		if json.Unmarshal(raw, &eb) == nil && eb.Error.Code != "" {
			re.Code, re.Message, re.Field = eb.Error.Code, eb.Error.Message, eb.Error.Field
			re.Findings = eb.Findings
		} else if json.Unmarshal(raw, &oauth) == nil && oauth.Error != "" {
			// The OAuth endpoints answer RFC 6749's shape; the service's own code rides along.
			re.Code, re.Message, re.Field = oauth.Error, oauth.Description, oauth.TokenguardField
			if oauth.TokenguardCode != "" {
				re.Code = oauth.TokenguardCode
			}
		} else {
			re.Message = http.StatusText(resp.StatusCode)
		}
		return re
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("tokenguard client: %s %s: answer is not the expected JSON: %w", method, path, err)
	}
	return nil
}

// oauthErrorBody is the error shape of the OAuth endpoints (/v1/introspect, /v1/revoke).
type oauthErrorBody struct {
	Error           string `json:"error"`
	Description     string `json:"error_description"`
	TokenguardCode  string `json:"tokenguard_code"`
	TokenguardField string `json:"tokenguard_field"`
}

type scrubbedError struct {
	msg   string
	cause error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.cause }

func scrubURLError(err error, full, safe string) error {
	if full == safe {
		return err
	}
	return &scrubbedError{msg: strings.ReplaceAll(err.Error(), full, safe), cause: err}
}

func keyOrNew(k string) string {
	if k == "" {
		return NewIdempotencyKey()
	}
	return k
}

func tokenPath(id string) string { return "/v1/tokens/" + url.PathEscape(id) }

// CreateToken creates a token (POST /v1/tokens). The answer holds the secret, once.
func (c *Client) CreateToken(ctx context.Context, req wire.CreateTokenRequest, idempotencyKey string) (wire.Token, error) {
	var out wire.Token
	err := c.do(ctx, http.MethodPost, "/v1/tokens", nil, req, &out, keyOrNew(idempotencyKey))
	return out, err
}

// GetToken reads one token; ErrNotFound when it does not exist.
func (c *Client) GetToken(ctx context.Context, id string) (wire.Token, error) {
	var out wire.Token
	err := c.do(ctx, http.MethodGet, tokenPath(id), nil, nil, &out, "")
	return out, err
}

// ListTokens lists one page of tokens matching opts.
func (c *Client) ListTokens(ctx context.Context, opts wire.ListTokensOptions) (wire.TokenList, error) {
	q := url.Values{}
	for k, v := range map[string]string{"owner": opts.Owner, "status": opts.Status, "data_category": opts.DataCategory,
		"subject": opts.Subject, "unused_for": opts.UnusedFor, "page_token": opts.PageToken} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	var out wire.TokenList
	err := c.do(ctx, http.MethodGet, "/v1/tokens", q, nil, &out, "")
	return out, err
}

// UpdateToken changes a token's metadata in place (PATCH /v1/tokens/{id}).
func (c *Client) UpdateToken(ctx context.Context, id string, req wire.UpdateTokenRequest) (wire.Token, error) {
	var out wire.Token
	err := c.do(ctx, http.MethodPatch, tokenPath(id), nil, req, &out, "")
	return out, err
}

// RotateToken mints a new secret for the token; the answer holds it, once.
func (c *Client) RotateToken(ctx context.Context, id string, req wire.RotateRequest, idempotencyKey string) (wire.Token, error) {
	var out wire.Token
	err := c.do(ctx, http.MethodPost, tokenPath(id)+"/rotate", nil, req, &out, keyOrNew(idempotencyKey))
	return out, err
}

// RenewToken moves the token's expiry to now + req.TTL, with the review that justifies it.
func (c *Client) RenewToken(ctx context.Context, id string, req wire.RenewRequest, idempotencyKey string) (wire.Token, error) {
	var out wire.Token
	err := c.do(ctx, http.MethodPost, tokenPath(id)+"/renew", nil, req, &out, keyOrNew(idempotencyKey))
	return out, err
}

// RevokeToken revokes the token at once. Revoking a revoked token succeeds and returns it.
func (c *Client) RevokeToken(ctx context.Context, id string) (wire.Token, error) {
	var out wire.Token
	err := c.do(ctx, http.MethodPost, tokenPath(id)+"/revoke", nil, struct{}{}, &out, "")
	return out, err
}

// Introspect asks whether secret is an active token (needs the introspect right).
func (c *Client) Introspect(ctx context.Context, secret string) (wire.Introspection, error) {
	var out wire.Introspection
	err := c.do(ctx, http.MethodPost, "/v1/introspect", nil, wire.IntrospectRequest{Token: secret}, &out, "")
	return out, err
}

// ListAudit returns up to limit audit records with a sequence number above after.
func (c *Client) ListAudit(ctx context.Context, after int64, limit int) (wire.AuditPage, error) {
	q := url.Values{"after": {strconv.FormatInt(after, 10)}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out wire.AuditPage
	err := c.do(ctx, http.MethodGet, "/v1/audit", q, nil, &out, "")
	return out, err
}

// AuditCheckpoint asks the service to sign a checkpoint of its audit chain's head now
// (GET /v1/audit/checkpoint).
func (c *Client) AuditCheckpoint(ctx context.Context) (audit.Checkpoint, error) {
	var out struct {
		Checkpoint audit.Checkpoint `json:"audit_checkpoint"`
	}
	err := c.do(ctx, http.MethodGet, "/v1/audit/checkpoint", nil, nil, &out, "")
	return out.Checkpoint, err
}

// CreateCredential creates a credential of req.Role (introspect when empty); the answer
// holds its secret, once.
func (c *Client) CreateCredential(ctx context.Context, req wire.CreateCredentialRequest, idempotencyKey string) (wire.Credential, error) {
	var out wire.Credential
	err := c.do(ctx, http.MethodPost, "/v1/credentials", nil, req, &out, keyOrNew(idempotencyKey))
	return out, err
}

// RevokeCredential revokes a credential at once (POST /v1/credentials/{id}/revoke, admin):
// its next request is refused. Revoking a revoked credential succeeds and changes nothing;
// ErrNotFound when no credential has this id. The answer never holds the secret.
func (c *Client) RevokeCredential(ctx context.Context, id string) (wire.Credential, error) {
	var out wire.Credential
	err := c.do(ctx, http.MethodPost, "/v1/credentials/"+url.PathEscape(id)+"/revoke", nil, struct{}{}, &out, "")
	return out, err
}

// ListCredentials lists every credential, revoked ones included, without secrets
// (GET /v1/credentials, admin).
func (c *Client) ListCredentials(ctx context.Context) ([]wire.Credential, error) {
	var out wire.CredentialList
	err := c.do(ctx, http.MethodGet, "/v1/credentials", nil, nil, &out, "")
	return out.Credentials, err
}

// RotateCredential gives credential id a new secret (POST /v1/credentials/{id}/rotate,
// admin); the answer holds it, once. The previous secret keeps working for req.Overlap.
func (c *Client) RotateCredential(ctx context.Context, id string, req wire.RotateCredentialRequest, idempotencyKey string) (wire.Credential, error) {
	var out wire.Credential
	err := c.do(ctx, http.MethodPost, "/v1/credentials/"+url.PathEscape(id)+"/rotate", nil, req, &out, keyOrNew(idempotencyKey))
	return out, err
}

// Ready reports whether the service and its database answer (GET /readyz).
func (c *Client) Ready(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/readyz", nil, nil, nil, "")
}

// leveledLogger adapts slog to retryablehttp, keeping only the message and method: its other
// key-values hold URLs (with queries that may name a data subject) and error texts.
type leveledLogger struct{ l *slog.Logger }

func (l leveledLogger) log(level slog.Level, msg string, kv []any) {
	attrs := []any{}
	for i := 0; i+1 < len(kv); i += 2 {
		if k, ok := kv[i].(string); ok && (k == "method" || k == "remaining" || k == "timeout") {
			attrs = append(attrs, k, kv[i+1])
		}
	}
	l.l.Log(context.Background(), level, "tokenguard client: "+msg, attrs...)
}

func (l leveledLogger) Error(msg string, kv ...any) { l.log(slog.LevelError, msg, kv) }
func (l leveledLogger) Info(msg string, kv ...any)  { l.log(slog.LevelInfo, msg, kv) }
func (l leveledLogger) Debug(msg string, kv ...any) { l.log(slog.LevelDebug, msg, kv) }
func (l leveledLogger) Warn(msg string, kv ...any)  { l.log(slog.LevelWarn, msg, kv) }

var _ retryablehttp.LeveledLogger = leveledLogger{}
