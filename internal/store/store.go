// Package store defines how tokenguard persists tokens, credentials, idempotency records and
// the audit chain. Implementations live in sub-packages (sqlite, postgres) and must pass the
// shared conformance suite in storetest.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
)

// Sentinel errors every implementation returns (wrapped or bare); callers use errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict") // unique constraint, e.g. the same owner and name twice
	// ErrAuditKeyNeeded: an unkeyed audit record would follow a keyed one (Store.SetAuditKey).
	ErrAuditKeyNeeded = errors.New("the audit chain is keyed: this store was given no audit key (start it with the key file)")
)

// Token statuses as stored. An active token past its expiry is reported as expired by the
// service, computed at read time; the store never rewrites status on its own.
const (
	StatusActive  = "active"
	StatusRevoked = "revoked"
)

// Token is one token as stored. It never holds a secret: only keyed HMACs of secrets.
// Personal fields are held encrypted; the store treats them as opaque bytes.
type Token struct {
	ID             string
	Name           string
	OwnerIndex     string // keyed blind index of the owner, for filtering and uniqueness
	OwnerCipher    []byte // owner, encrypted (AES-256-GCM, key id inside the envelope)
	Purpose        string
	Scopes         []string
	DataCategories []string
	Audiences      []string
	Labels         map[string]string
	SubjectIndexes []string // keyed blind index of each data subject
	SubjectsCipher []byte   // the data subjects, encrypted
	Env            string   // environment label in the secret

	RotationInterval time.Duration // zero: no scheduled rotation
	RotationOverlap  time.Duration

	Status     string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	ExpiresAt  time.Time
	RotatedAt  *time.Time
	RevokedAt  *time.Time
	LastUsedAt *time.Time

	SecretVersion int
	SecretHash    []byte // HMAC-SHA256(server key, current secret)
	HashKeyID     string // id of the HMAC key SecretHash was made with
	Fingerprint   string // keyed, non-reversible reference to the current secret, safe in logs

	PrevSecretHash  []byte     // previous secret after a rotation, nil when none
	PrevHashKeyID   string     //
	PrevFingerprint string     //
	PrevValidUntil  *time.Time // rotated_at + overlap: the previous secret works until then
}

// TokenFilter selects tokens for ListTokens. Zero fields do not filter.
type TokenFilter struct {
	OwnerIndex   string
	Status       string // StatusActive or StatusRevoked (expired is computed by the caller)
	DataCategory string
	SubjectIndex string
	UnusedSince  *time.Time // tokens last used before this instant, or never used and created before it
	Limit        int        // at most this many (implementations cap at 1000; 0 means 100)
	AfterID      string     // page cursor: ids strictly greater than this, in id order
}

// Credential authenticates a caller of the API. Only the hash of its secret is stored.
type Credential struct {
	ID         string
	Name       string
	SecretHash []byte   // HMAC-SHA256(server key, credential secret)
	Rights     []string // the credential's role, as a one-element set
	// OwnerIndex is the keyed blind index of the owner whose tokens alone the credential may
	// reach, "" when it is not restricted; OwnerCipher is that owner, encrypted.
	OwnerIndex  string
	OwnerCipher []byte
	CreatedAt   time.Time
	RevokedAt   *time.Time
	// After a rotation the previous secret works until PrevValidUntil; nil when none.
	RotatedAt      *time.Time
	PrevSecretHash []byte
	PrevValidUntil *time.Time
	// GrantMAC is the service's keyed MAC over ID, Rights, OwnerIndex and the secret hashes
	// (see the server's grant check); "" for a credential written before it existed. The
	// store keeps it as opaque text.
	GrantMAC string
}

// Idempotency is the stored first result of a request sent with an Idempotency-Key.
type Idempotency struct {
	Key         string // scoped by the caller: credential id + method + path + client key
	RequestHash []byte // hash of the request body; a different body with the same key is a conflict
	Status      int    // HTTP status of the first response
	Response    []byte // first response body; holds the secret minted then, so it is encrypted
	CreatedAt   time.Time
}

// DeletionRequest is the evidence record of a consumer's deletion request (Cal. Civ. Code
// 1798.105): who asked, when, for which categories, which tokens it revoked and which token
// holders must be told to delete. The subject is held only as its keyed blind index (for
// lookups) and encrypted; the store treats both as opaque. The record is kept until
// RetainUntil and then purged (PurgeDeletionRequests).
type DeletionRequest struct {
	ID               string // "del_..."
	SubjectIndex     string // keyed blind index of the data subject
	SubjectCipher    []byte // the data subject, encrypted
	Categories       []string
	RequestedBy      string // credential id of the caller
	RequestedAt      time.Time
	CompletedAt      *time.Time // nil while the request is pending
	RetainUntil      time.Time  // the evidence is purged after this instant
	RevokedTokenIDs  []string   // tokens bound to the subject that the request revoked
	NotifiedTokenIDs []string   // other tokens reaching the categories: their holders must delete
	Reference        string     // optional caller reference (a ticket number), never personal data
}

// Reader is what a read or write transaction can read.
type Reader interface {
	GetToken(ctx context.Context, id string) (Token, error)
	// FindTokenByHash returns the token whose current or previous secret hash is hash. It does
	// not check PrevValidUntil: whether a previous secret still works is the caller's decision.
	FindTokenByHash(ctx context.Context, hash []byte) (Token, error)
	// FindTokenByName returns the token with this owner index and name: the one not revoked
	// if there is one, else the most recently created revoked one.
	FindTokenByName(ctx context.Context, ownerIndex, name string) (Token, error)
	// ListTokens returns tokens in byte order of id (PostgreSQL needs COLLATE "C").
	ListTokens(ctx context.Context, f TokenFilter) ([]Token, error)
	// GetCredentialByHash returns the credential whose current or previous secret hash is
	// hash (a current match first), revoked or not. It does not check PrevValidUntil: whether
	// a previous secret still works is the caller's decision.
	GetCredentialByHash(ctx context.Context, hash []byte) (Credential, error)
	// GetCredential returns the credential with this id, or ErrNotFound.
	GetCredential(ctx context.Context, id string) (Credential, error)
	// ListCredentials returns up to limit credentials with ids strictly greater than afterID,
	// in byte order of id (limit <= 0 means 100; capped at 1000), revoked ones included.
	ListCredentials(ctx context.Context, afterID string, limit int) ([]Credential, error)
	CountCredentials(ctx context.Context) (int, error)
	GetIdempotency(ctx context.Context, key string) (Idempotency, error)
	// ListIdempotency returns up to limit idempotency records with keys strictly greater than
	// afterKey, in byte order of key (limit <= 0 means 100; capped at 1000). Rekey walks them
	// to re-encrypt the stored responses.
	ListIdempotency(ctx context.Context, afterKey string, limit int) ([]Idempotency, error)
	// ListAudit returns up to limit records with Seq > afterSeq in sequence order
	// (limit <= 0 means 100; capped at 1000).
	ListAudit(ctx context.Context, afterSeq int64, limit int) ([]audit.Record, error)
	// AuditHead returns the last audit record (Seq 0 when the log is empty) and the sequence
	// number of the first keyed record (0 when no record is keyed): what a signed checkpoint
	// states.
	AuditHead(ctx context.Context) (head audit.Record, keyedFrom int64, err error)
	// GetDeletionRequest returns the deletion request with this id, or ErrNotFound.
	GetDeletionRequest(ctx context.Context, id string) (DeletionRequest, error)
	// ListDeletionRequests returns up to limit deletion requests with ids strictly greater than
	// afterID, in byte order of id (limit <= 0 means 100; capped at 1000).
	ListDeletionRequests(ctx context.Context, afterID string, limit int) ([]DeletionRequest, error)
	// IsSubjectErased reports whether a deletion request (pending or complete, not yet
	// purged) exists for the subject with this blind index.
	IsSubjectErased(ctx context.Context, subjectIndex string) (bool, error)
	// ListSubjectDeletionRequests returns every deletion request (not yet purged) for the
	// subject with this blind index, oldest first (by RequestedAt, then id).
	ListSubjectDeletionRequests(ctx context.Context, subjectIndex string) ([]DeletionRequest, error)
	// ListTokenHistory returns up to limit audit records with Seq > afterSeq, in sequence
	// order, whose TokenID is one of tokenIDs (at most MaxHistoryTokens) and whose action is
	// not audit.ActionIntrospect: the life of those tokens (limit <= 0 means 100; capped at
	// 1000). The log has no index on token_id (appends stay cheap), so one walk of all pages
	// reads the log once: pass every token of interest in one call.
	ListTokenHistory(ctx context.Context, tokenIDs []string, afterSeq int64, limit int) ([]audit.Record, error)
	// CountTokenVerifications counts the audit.ActionIntrospect records of the tokens
	// tokenIDs (at most MaxHistoryTokens) per token, UTC day and outcome, ordered by token
	// id (byte order), day and outcome. It reads the log once.
	CountTokenVerifications(ctx context.Context, tokenIDs []string) ([]VerificationCount, error)
}

// Tx is a write transaction. Everything done through it commits durably together, or not at all.
type Tx interface {
	Reader
	// InsertToken adds t. ErrConflict on a duplicate id, or on an owner+name pair already held
	// by a token that is not revoked (a revoked token's name may be reused by its replacement).
	InsertToken(ctx context.Context, t Token) error
	UpdateToken(ctx context.Context, t Token) error // replaces the row with t.ID; ErrNotFound
	// TouchLastUsed moves LastUsedAt forward to at; an earlier instant leaves it unchanged.
	TouchLastUsed(ctx context.Context, id string, at time.Time) error
	InsertCredential(ctx context.Context, c Credential) error // ErrConflict on duplicate id or secret hash
	// RevokeCredential sets RevokedAt of the credential id to at unless it is revoked already,
	// and returns the credential as stored afterwards and whether it was active before this
	// call (false: it was revoked already and nothing changed); ErrNotFound when no
	// credential has this id.
	RevokeCredential(ctx context.Context, id string, at time.Time) (cred Credential, wasActive bool, err error)
	// RotateCredential gives the credential id the secret hash newHash and the GrantMAC
	// grantMAC at instant at: its current hash becomes the previous one, valid until
	// prevValidUntil (a previous hash before it is dropped). It returns the credential as stored afterwards; ErrNotFound when
	// no credential has this id, ErrConflict when newHash is another credential's.
	RotateCredential(ctx context.Context, id string, newHash []byte, prevValidUntil, at time.Time, grantMAC string) (Credential, error)
	// SetCredentialGrantMAC replaces the GrantMAC of the credential id; ErrNotFound when none.
	SetCredentialGrantMAC(ctx context.Context, id, grantMAC string) error
	// SetCredentialOwnerCipher replaces the OwnerCipher of the credential id (the rest of the
	// row, its OwnerIndex and GrantMAC included, stays): rekey re-encrypts the owner of an
	// owner-restricted credential under the current key. ErrNotFound when none.
	SetCredentialOwnerCipher(ctx context.Context, id string, cipher []byte) error
	PutIdempotency(ctx context.Context, rec Idempotency) error // ErrConflict when the key exists
	// SetIdempotencyResponse replaces the stored response of the record with this key (the
	// rest of the record stays); ErrNotFound when there is none.
	SetIdempotencyResponse(ctx context.Context, key string, response []byte) error
	// ReplaceIdempotency replaces the status and the response of the record with this key
	// (its key, request hash and creation instant stay): a deletion request replaces the
	// answers that held an erased subject. ErrNotFound when there is none.
	ReplaceIdempotency(ctx context.Context, key string, status int, response []byte) error
	// PurgeIdempotency deletes every idempotency record created before before, and returns
	// how many it deleted: stored answers expire.
	PurgeIdempotency(ctx context.Context, before time.Time) (int, error)
	// AppendAudit chains event after the current head, under the store's audit key (see
	// Store.SetAuditKey). Appends are serialised by the database, so concurrent writers (also
	// in other processes) never fork the chain.
	AppendAudit(ctx context.Context, event audit.Event) (audit.Record, error)
	// AppendAudits chains events after the current head, in order: the same records as
	// AppendAudit called for each event in turn, in fewer statements (the verification log
	// appends its batches with it).
	AppendAudits(ctx context.Context, events []audit.Event) ([]audit.Record, error)
	// TouchLastUsedAll moves LastUsedAt of each token of uses forward to its instant, as
	// TouchLastUsed does, in fewer statements, but never past the token's RevokedAt: a use
	// decided on a state read before the revocation committed is recorded at the revocation
	// at the latest. It returns the RevokedAt of each used token revoked before the instant
	// of its use (nil when there is none), so the caller can stamp the use's audit record
	// the same way. Uses of tokens that do not exist are skipped: the verification log
	// records uses after the fact and must not fail on them.
	TouchLastUsedAll(ctx context.Context, uses []TokenUse) (revokedBefore map[string]time.Time, err error)
	// InsertDeletionRequest adds d; ErrConflict on a duplicate id. Several requests may name
	// the same subject.
	InsertDeletionRequest(ctx context.Context, d DeletionRequest) error
	// SetDeletionSubjectCipher replaces the encrypted subject of the deletion request id (for
	// re-encryption under a new key; nothing else changes); ErrNotFound when there is none.
	SetDeletionSubjectCipher(ctx context.Context, id string, cipher []byte) error
	// PurgeDeletionRequests deletes every deletion request whose RetainUntil is before before,
	// and returns how many it deleted.
	PurgeDeletionRequests(ctx context.Context, before time.Time) (int, error)
	// PurgeTokens deletes every token retired before before: expired (ExpiresAt before it)
	// or revoked (RevokedAt before it), with its data-subject blind indexes, and returns how
	// many it deleted. Audit records and deletion-request evidence naming the tokens stay.
	PurgeTokens(ctx context.Context, before time.Time) (int, error)
}

// TokenUse is one use of a token, for TouchLastUsedAll.
type TokenUse struct {
	TokenID string
	At      time.Time
}

// IntrospectionRead is what ReadForIntrospection found.
type IntrospectionRead struct {
	// Credential is the credential whose current or previous secret hash matched (a current
	// match first), revoked or not, with only the fields authentication decides on: ID,
	// Rights, OwnerIndex, RevokedAt, SecretHash, PrevSecretHash, PrevValidUntil and GrantMAC.
	// CredentialFound is false
	// when none matched.
	Credential      Credential
	CredentialFound bool
	// Token is the token whose current or previous secret hash matched, a current match
	// first, with only the fields an introspection decides on: ID, Status, CreatedAt,
	// ExpiresAt, OwnerCipher, Scopes, Audiences, SecretHash, PrevSecretHash,
	// PrevValidUntil and RotatedAt; the others are zero. TokenFound is false when no token matched.
	Token      Token
	TokenFound bool
	// Revision is the introspection revision read in the same statement, so in the same
	// snapshot, as Credential and Token (see Revision).
	Revision Revision
}

// Revision identifies a state of the tokens and credentials introspection reads: the
// database gives it a new random value in the transaction of every change of a token or a
// credential (insert, delete, or update of any column but a token's LastUsedAt), by triggers
// that also fire for changes made outside tokenguard. Two reads under an equal Revision read
// the same tokens and credentials, so a read kept under a revision may be used for as long as
// a fresh ReadRevision returns the same value.
type Revision [16]byte

// Store is a tokenguard database.
type Store interface {
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Reader) error) error
	// ReadForIntrospection reads what one introspection needs in one statement, without an
	// explicit transaction: the credential whose secret hash is credentialHash and the token
	// whose current or previous secret hash is tokenHash (the current one first). The
	// statement reads one snapshot taken after the call began, so it sees every write
	// committed before the call, on any instance. It is GetCredentialByHash and
	// FindTokenByHash in one View, at a fraction of the cost.
	ReadForIntrospection(ctx context.Context, credentialHash, tokenHash []byte) (IntrospectionRead, error)
	// ReadRevision reads the current Revision in one statement that starts after the call
	// began, so it reflects every change committed before the call, on any instance. It fails
	// when that statement finds a trigger that changes the Revision missing (see
	// CheckRevisionTriggers), so that no read kept under a Revision is trusted then.
	ReadRevision(ctx context.Context) (Revision, error)
	// CheckRevisionTriggers returns an error naming what is missing when a trigger that
	// changes the Revision is not in place (dropped or disabled by someone with write access
	// to the database): kept introspection reads would then outlive changes. The service
	// refuses to start on it.
	CheckRevisionTriggers(ctx context.Context) error
	// Update runs fn in a write transaction and commits it durably before returning;
	// if fn returns an error or panics, nothing it wrote is kept and the error (or the panic,
	// as an error) is returned.
	Update(ctx context.Context, fn func(Tx) error) error
	// Ping reports whether the database answers (for /readyz).
	Ping(ctx context.Context) error
	// ProbeWrite reports whether the database accepts a write now (for /readyz): it takes
	// the write lock and makes a small write of no meaning to the data (each implementation
	// says which), so that a full disk, a read-only database or a lock nobody releases fail
	// it, classified like the errors of Update.
	ProbeWrite(ctx context.Context) error
	// SetAuditKey chains every audit record appended from now on under key (see
	// audit.ChainKeyed). Without a key records are unkeyed; once the chain holds a keyed
	// record, appending an unkeyed one is refused, so a process that lacks the key cannot
	// extend the chain with records no verifier would accept.
	SetAuditKey(key *audit.Key)
	Close() error
}

// Limits of the List methods of every implementation.
const (
	DefaultListLimit = 100  // a limit of zero (or less) means this many
	MaxListLimit     = 1000 // larger limits are lowered to this
)

// ClampLimit applies DefaultListLimit and MaxListLimit to a requested page size.
func ClampLimit(n int) int {
	if n <= 0 {
		return DefaultListLimit
	}
	return min(n, MaxListLimit)
}
