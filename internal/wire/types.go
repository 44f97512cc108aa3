package wire

import (
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
)

// Token is a token as the API returns it. Secret is set only in the response that minted it
// (create and rotate); every other response leaves it empty. When that request named a
// recipient, Secret is empty and SealedSecret holds the secret encrypted to the recipient.
type Token struct {
	ID               string            `json:"id"`
	Name             string            `json:"name"`
	Owner            string            `json:"owner"`
	Purpose          string            `json:"purpose"`
	Scopes           []string          `json:"scopes"`
	DataCategories   []string          `json:"data_categories"`
	DataSubjects     []string          `json:"data_subjects"`
	Audiences        []string          `json:"audiences"`
	Labels           map[string]string `json:"labels"`
	Rotation         *Rotation         `json:"rotation,omitempty"`
	Status           string            `json:"status"` // "active", "expired" or "revoked"
	CreatedAt        time.Time         `json:"created_at"`
	ExpiresAt        time.Time         `json:"expires_at"`
	RotatedAt        *time.Time        `json:"rotated_at,omitempty"`
	RevokedAt        *time.Time        `json:"revoked_at,omitempty"`
	LastUsedAt       *time.Time        `json:"last_used_at,omitempty"`
	SecretVersion    int               `json:"secret_version"`
	Fingerprint      string            `json:"fingerprint"`
	PreviousValidTil *time.Time        `json:"previous_valid_until,omitempty"`
	Secret           string            `json:"secret,omitempty"`
	// SealedSecret is the new secret as an ASCII-armored age file encrypted to the request's
	// recipient (`age -d -i key.txt` decrypts it); set instead of Secret, and only then.
	SealedSecret string `json:"sealed_secret,omitempty"`
	// Warnings are the policy findings that did not block this request: warning-severity and
	// waived findings, and under advisory enforcement every finding (see docs/policy-gates.md).
	Warnings []Finding `json:"warnings,omitempty"`
}

// Rotation is a token's rotation policy. Durations are strings: a Go duration or whole days ("7d").
type Rotation struct {
	Interval string `json:"interval,omitempty"`
	Overlap  string `json:"overlap,omitempty"`
}

// CreateTokenRequest is the body of POST /v1/tokens. TTL is a duration string; empty means
// the server's default TTL. Nil slices are sent as absent; DataCategories must be sent
// (an empty list means "reaches no personal information").
type CreateTokenRequest struct {
	Name           string            `json:"name"`
	Owner          string            `json:"owner"`
	Purpose        string            `json:"purpose"`
	Scopes         []string          `json:"scopes"`
	DataCategories []string          `json:"data_categories"`
	DataSubjects   []string          `json:"data_subjects,omitempty"`
	Audiences      []string          `json:"audiences,omitempty"`
	Labels         map[string]string `json:"labels,omitempty"`
	TTL            string            `json:"ttl,omitempty"`
	Rotation       *Rotation         `json:"rotation,omitempty"`
	// Recipient is an age X25519 public key (age1…): the service encrypts the new secret to
	// it and answers sealed_secret instead of secret. Empty: the secret is answered in clear.
	Recipient string `json:"recipient,omitempty"`
	// Waivers are the waivers the caller's own gate applied to this token (see Waiver).
	Waivers []Waiver `json:"waivers,omitempty"`
}

// Waiver is a waiver the caller's gate (the provider at plan) applied to the token of a
// request, sent so that the service's gate gives the same verdict (issue 21, one verdict
// across gates). The service checks it against its own waiver policy (non-waivable rules,
// maximum expiry, approver other than the owner, and whether it accepts waivers sent with
// requests at all) exactly as a waiver of its --waivers file, and records it in the audit
// log. Fields as in the waivers file; Expires is a date, YYYY-MM-DD.
type Waiver struct {
	Rule       string `json:"rule"`
	Address    string `json:"address"`
	Reason     string `json:"reason"`
	ApprovedBy string `json:"approved_by"`
	Expires    string `json:"expires"`
}

// UpdateTokenRequest is the body of PATCH /v1/tokens/{id}: metadata that may change in place.
// A nil field is left unchanged; a non-nil empty slice or map clears it.
type UpdateTokenRequest struct {
	Purpose        *string            `json:"purpose,omitempty"`
	Scopes         *[]string          `json:"scopes,omitempty"`
	DataCategories *[]string          `json:"data_categories,omitempty"`
	Audiences      *[]string          `json:"audiences,omitempty"`
	Labels         *map[string]string `json:"labels,omitempty"`
	Rotation       *Rotation          `json:"rotation,omitempty"` // Interval "" with Overlap "" clears the policy
	Waivers        []Waiver           `json:"waivers,omitempty"`  // as in CreateTokenRequest
}

// RotateRequest is the body of POST /v1/tokens/{id}/rotate. Overlap overrides the token's
// rotation overlap for this rotation; empty uses the token's policy (zero when none).
type RotateRequest struct {
	Overlap string `json:"overlap,omitempty"`
	// Recipient seals the new secret as in CreateTokenRequest.Recipient. A token keeps no
	// recipient: each rotation that should be sealed names it.
	Recipient string `json:"recipient,omitempty"`
	// Waivers as in CreateTokenRequest.
	Waivers []Waiver `json:"waivers,omitempty"`
}

// RenewRequest is the body of POST /v1/tokens/{id}/renew: the new TTL counted from now, and
// the review that justifies moving expiry later. ReviewedBy must differ from the owner.
type RenewRequest struct {
	TTL        string `json:"ttl"`
	Reason     string `json:"reason"`
	ReviewedBy string `json:"reviewed_by"`
	// Waivers as in CreateTokenRequest.
	Waivers []Waiver `json:"waivers,omitempty"`
}

// ListTokensOptions filters GET /v1/tokens. Zero fields do not filter.
type ListTokensOptions struct {
	Owner        string
	Status       string // active, expired or revoked
	DataCategory string
	Subject      string
	UnusedFor    string // duration string: tokens not used for at least this long
	Limit        int
	PageToken    string
}

// TokenList is the answer of GET /v1/tokens.
type TokenList struct {
	Tokens        []Token `json:"tokens"`
	NextPageToken string  `json:"next_page_token,omitempty"`
}

// Introspection is the answer of POST /v1/introspect (RFC 7662). An inactive token answers
// exactly {"active": false}.
type Introspection struct {
	Active    bool     `json:"active"`
	TokenID   string   `json:"token_id,omitempty"`
	Scope     string   `json:"scope,omitempty"` // space-separated scopes, as RFC 7662
	Owner     string   `json:"owner,omitempty"`
	Audiences []string `json:"aud,omitempty"`
	ExpiresAt int64    `json:"exp,omitempty"` // Unix seconds
	IssuedAt  int64    `json:"iat,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
	// The registered RFC 7662 members typed clients read: sub and username are the owner,
	// client_id and jti the token id (the token is the client that presents it).
	Subject  string `json:"sub,omitempty"`
	ClientID string `json:"client_id,omitempty"`
	Username string `json:"username,omitempty"`
	JWTID    string `json:"jti,omitempty"`
}

// AuditRecord is one record of GET /v1/audit.
type AuditRecord struct {
	Seq         int64             `json:"seq"`
	PrevHash    string            `json:"prev_hash"`
	Hash        string            `json:"hash"`
	Time        time.Time         `json:"time"`
	Actor       string            `json:"actor"`
	Action      string            `json:"action"`
	TokenID     string            `json:"token_id,omitempty"`
	Fingerprint string            `json:"fingerprint,omitempty"`
	Outcome     string            `json:"outcome"`
	Details     map[string]string `json:"details,omitempty"`
	KeyID       string            `json:"key_id,omitempty"` // audit key of the hash; empty: unkeyed (plain SHA-256)
}

// Record returns r as the audit log's own record, the shape audit.Verifier checks: the API
// carries every field the hash covers, so a chain read page by page through GET /v1/audit
// verifies exactly as one read from the database.
func (r AuditRecord) Record() audit.Record {
	return audit.Record{Seq: r.Seq, PrevHash: r.PrevHash, Hash: r.Hash, KeyID: r.KeyID, Event: audit.Event{
		Time: r.Time, Actor: r.Actor, Action: r.Action, TokenID: r.TokenID, Fingerprint: r.Fingerprint,
		Outcome: r.Outcome, Details: r.Details,
	}}
}

// AuditPage is the answer of GET /v1/audit?after=SEQ&limit=N.
type AuditPage struct {
	Records       []AuditRecord `json:"records"`
	NextPageToken string        `json:"next_page_token,omitempty"`
}

// ErrorBody is the one error shape of the API: {"error": {"code": "...", "message": "...", "field": "..."}}.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
	} `json:"error"`
	// Findings are the policy findings of a request the service's policy gate refused (422
	// policy_violation).
	Findings []Finding `json:"findings,omitempty"`
}

// Finding is one policy finding of the service's policy gate, with the fields of
// `tokenguard check --format json`. File and Line are always null at the service gate.
type Finding struct {
	RuleID   string `json:"rule_id"`
	Severity string `json:"severity"`
	Title    string `json:"title"`
	Address  string `json:"address"`
	Message  string `json:"message"`
	Citation string `json:"citation"`
	// Basis says where the numbers of Message come from, e.g. "tokenguard default
	// ttl_max_days, configurable in data.tokenguard.thresholds; supports Cal. Civ. Code
	// 1798.100(e), 1798.81.5(b)"; omitted when the rule compares against no threshold.
	Basis            string  `json:"basis,omitempty"`
	Remediation      string  `json:"remediation"`
	Field            string  `json:"field"`
	File             *string `json:"file"`
	Line             *int    `json:"line"`
	Waived           bool    `json:"waived"`
	WaiverReason     string  `json:"waiver_reason,omitempty"`
	WaiverApprovedBy string  `json:"waiver_approved_by,omitempty"`
	Blocking         bool    `json:"blocking"`
}

// CreateCredentialRequest is the body of POST /v1/credentials (admin only). Role is admin,
// issuer, reader or introspect (empty means introspect, what the first versions made); Owner,
// for an issuer or reader, restricts the credential to the tokens of that owner. Rights is
// the first versions' way to ask for an introspect credential: it may only hold
// "introspect".
type CreateCredentialRequest struct {
	Name   string   `json:"name"`
	Role   string   `json:"role,omitempty"`
	Owner  string   `json:"owner,omitempty"`
	Rights []string `json:"rights,omitempty"`
}

// RotateCredentialRequest is the optional body of POST /v1/credentials/{id}/rotate: how long
// the previous secret keeps working (a duration such as "1h"; empty means one hour, "0s"
// ends it at once).
type RotateCredentialRequest struct {
	Overlap string `json:"overlap,omitempty"`
}

// Credential is a credential as the API returns it. Secret is set only in the answer of its
// creation or rotation; the API never returns a secret's hash.
type Credential struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Role   string   `json:"role"`
	Rights []string `json:"rights"`
	// Owner is the owner whose tokens alone the credential reaches; empty when unrestricted.
	Owner     string     `json:"owner,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	RotatedAt *time.Time `json:"rotated_at,omitempty"`
	// PreviousValidUntil is when the secret before the last rotation stops working.
	PreviousValidUntil *time.Time `json:"previous_valid_until,omitempty"`
	Secret             string     `json:"secret,omitempty"`
}

// CredentialList is the answer of GET /v1/credentials: every credential, revoked ones
// included, in id order.
type CredentialList struct {
	Credentials []Credential `json:"credentials"`
}

// IntrospectRequest is the body of POST /v1/introspect.
type IntrospectRequest struct {
	Token         string `json:"token"`
	TokenTypeHint string `json:"token_type_hint,omitempty"`
}
