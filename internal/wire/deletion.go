package wire

import "time"

// DeletionRequest asks the service to act on a consumer's deletion request (Cal. Civ. Code
// 1798.105, POST /v1/deletion-requests).
type DeletionRequest struct {
	// Subject is the data subject, as given in the data_subjects of tokens (e.g.
	// "customer:4411"). It is stored encrypted and never returned by the evidence endpoint.
	Subject string `json:"subject"`
	// Categories are the CPRA data categories to delete; empty means every category.
	Categories []string `json:"categories,omitempty"`
	// DryRun computes the answer without changing anything.
	DryRun bool `json:"dry_run,omitempty"`
	// Reference is an optional caller reference such as a ticket number; never personal data.
	Reference string `json:"reference,omitempty"`
}

// DeletionRevoked is a token a deletion request revoked (or, in a dry run, would revoke).
type DeletionRevoked struct {
	TokenID     string `json:"token_id"`
	Name        string `json:"name"`
	Fingerprint string `json:"fingerprint"`
	// OtherSubjects counts the other data subjects the token is bound to: revoking it cuts
	// them off too (they are never named).
	OtherSubjects int `json:"other_subjects"`
}

// DeletionNotify is a token whose data categories reach the request's categories: its holder
// must be told to delete the subject's data.
type DeletionNotify struct {
	TokenID        string   `json:"token_id"`
	Name           string   `json:"name"`
	Owner          string   `json:"owner"`
	DataCategories []string `json:"data_categories"`
	Audiences      []string `json:"audiences"`
}

// Deletion statuses.
const (
	DeletionComplete = "complete"
	DeletionDryRun   = "dry_run"
)

// DeletionResult is the answer to a deletion request. A dry run has no ID and no
// RetainUntil: nothing was stored.
type DeletionResult struct {
	ID          string            `json:"id,omitempty"`
	Status      string            `json:"status"` // DeletionComplete or DeletionDryRun
	RequestedAt time.Time         `json:"requested_at"`
	RetainUntil *time.Time        `json:"retain_until,omitempty"`
	Categories  []string          `json:"categories"`
	Reference   string            `json:"reference,omitempty"`
	Revoked     []DeletionRevoked `json:"revoked"`
	Notify      []DeletionNotify  `json:"notify"`
	DryRun      bool              `json:"dry_run"`
}

// DeletionEvidence is the stored evidence of a deletion request (GET
// /v1/deletion-requests/{id}). It never holds the subject.
type DeletionEvidence struct {
	ID               string     `json:"id"`
	Status           string     `json:"status"`
	RequestedBy      string     `json:"requested_by"` // credential id
	RequestedAt      time.Time  `json:"requested_at"`
	CompletedAt      *time.Time `json:"completed_at,omitempty"`
	RetainUntil      time.Time  `json:"retain_until"`
	Categories       []string   `json:"categories"`
	Reference        string     `json:"reference,omitempty"`
	RevokedTokenIDs  []string   `json:"revoked_token_ids"`
	NotifiedTokenIDs []string   `json:"notified_token_ids"`
	RevokedCount     int        `json:"revoked_count"`
	NotifiedCount    int        `json:"notified_count"`
}

// ErasedSubjects is the answer of GET /v1/deletion-requests/erased-subjects.
type ErasedSubjects struct {
	ErasedSubjects []string `json:"erased_subjects"`
}
