package wire

import "time"

// AccessRequest asks what the service holds about one data subject (Cal. Civ. Code 1798.110
// and 1798.115, POST /v1/access-requests).
type AccessRequest struct {
	// Subject is the data subject as given in the data_subjects of tokens (e.g.
	// "customer:4411"). The request is audited with the subject's keyed blind index only.
	Subject string `json:"subject"`
}

// Events of a token's history in an access answer.
const (
	AccessCreated = "created"
	AccessUpdated = "updated"
	AccessRotated = "rotated"
	AccessRenewed = "renewed"
	AccessRevoked = "revoked"
)

// AccessAnswer is the answer to an access request. After a completed deletion request for the
// subject, Erased is set and Tokens is empty: the service holds nothing else about it.
type AccessAnswer struct {
	Subject    string         `json:"subject"`
	AnsweredAt time.Time      `json:"answered_at"`
	Erased     *AccessErasure `json:"erased,omitempty"`
	// Tokens are every token ever bound to the subject, revoked and expired ones included,
	// in id order.
	Tokens []AccessToken `json:"tokens"`
	// AuditSeq is the sequence number of the audit record of this access request.
	AuditSeq int64 `json:"audit_seq"`
}

// AccessErasure says when the subject's data was erased by a deletion request.
type AccessErasure struct {
	ErasedAt          time.Time `json:"erased_at"`
	DeletionRequestID string    `json:"deletion_request_id"`
}

// AccessToken is one token bound to the subject, without any secret or fingerprint, and
// without the other subjects it is bound to (only their number).
type AccessToken struct {
	ID             string     `json:"id"`
	Name           string     `json:"name"`
	Purpose        string     `json:"purpose"`
	Owner          string     `json:"owner"`
	Status         string     `json:"status"`
	DataCategories []string   `json:"data_categories"`
	Audiences      []string   `json:"audiences"`
	Scopes         []string   `json:"scopes"`
	OtherSubjects  int        `json:"other_subjects"`
	CreatedAt      time.Time  `json:"created_at"`
	ExpiresAt      time.Time  `json:"expires_at"`
	RotatedAt      *time.Time `json:"rotated_at,omitempty"`
	RevokedAt      *time.Time `json:"revoked_at,omitempty"`
	LastUsedAt     *time.Time `json:"last_used_at,omitempty"`
	// History is the token's life as the audit log records it, oldest first.
	History []AccessEvent `json:"history"`
	// Usage counts the token's verifications per UTC day, oldest first.
	Usage []AccessUsageDay `json:"usage"`
}

// AccessEvent is one change in a token's life, with the audit record that proves it.
type AccessEvent struct {
	At    time.Time `json:"at"`
	Event string    `json:"event"` // AccessCreated, AccessUpdated, AccessRotated, AccessRenewed or AccessRevoked
	// Reason is the renewal's or revocation's reason; Reviewer who reviewed a renewal
	// (empty for renewals recorded before reviewers were kept, which hold only a keyed index).
	Reason   string `json:"reason,omitempty"`
	Reviewer string `json:"reviewer,omitempty"`
	// ExpiresAt is the expiry a renewal set.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// SecretVersion is the version a rotation made.
	SecretVersion int `json:"secret_version,omitempty"`
	// Changed names the fields an update changed.
	Changed   []string `json:"changed,omitempty"`
	AuditSeq  int64    `json:"audit_seq"`
	AuditHash string   `json:"audit_hash"`
}

// AccessUsageDay counts a token's verifications on one UTC day: Active answered active,
// Inactive were refused (expired, revoked, a previous secret past its overlap).
type AccessUsageDay struct {
	Day      string `json:"day"` // YYYY-MM-DD
	Active   int64  `json:"active"`
	Inactive int64  `json:"inactive"`
}
