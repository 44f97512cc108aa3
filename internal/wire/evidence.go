package wire

import "time"

// DeletionEvidenceList is a page of GET /v1/deletion-requests: the evidence records still
// within retention, in id order.
type DeletionEvidenceList struct {
	DeletionRequests []DeletionEvidence `json:"deletion_requests"`
	NextPageToken    string             `json:"next_page_token,omitempty"`
}

// Renewal is one renewal the audit log records, with its review (GET /v1/renewals).
type Renewal struct {
	TokenID           string     `json:"token_id"`
	At                time.Time  `json:"at"`
	Actor             string     `json:"actor"` // credential id
	Reason            string     `json:"reason"`
	Reviewer          string     `json:"reviewer,omitempty"` // empty for renewals recorded before reviewers were kept
	TTL               string     `json:"ttl,omitempty"`
	ExpiresAt         *time.Time `json:"expires_at,omitempty"`
	PreviousExpiresAt *time.Time `json:"previous_expires_at,omitempty"`
	AuditSeq          int64      `json:"audit_seq"`
	AuditHash         string     `json:"audit_hash"`
}

// RenewalPage is a page of GET /v1/renewals. NextAfter is the sequence number to pass as
// after for the next page; 0 when the log is read to its end.
type RenewalPage struct {
	Renewals  []Renewal `json:"renewals"`
	NextAfter int64     `json:"next_after,omitempty"`
}

// PolicyInForce is GET /v1/policy: the policy gate of the service as it runs now.
type PolicyInForce struct {
	// Enforcement is mandatory, advisory or off.
	Enforcement string          `json:"enforcement"`
	Bundle      *PolicyBundle   `json:"bundle,omitempty"` // absent when the gate is off
	Rules       []PolicyRule    `json:"rules"`
	Waivers     []WaiverInForce `json:"waivers"`
	WaiversFile string          `json:"waivers_file,omitempty"`
}

// PolicyBundle identifies the policy sources: Digest covers every file and the merged data.
type PolicyBundle struct {
	Digest     string             `json:"digest"`
	Files      []PolicyBundleFile `json:"files"`
	Thresholds map[string]any     `json:"thresholds"`
}

// PolicyBundleFile is one source file of the bundle.
type PolicyBundleFile struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// PolicyRule is one rule the service gate evaluates.
type PolicyRule struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Severity string `json:"severity"`
	Citation string `json:"citation"`
}

// WaiverInForce is one waiver of the service gate; Expired says whether its last day is past.
type WaiverInForce struct {
	Rule       string `json:"rule"`
	Address    string `json:"address"`
	Reason     string `json:"reason"`
	ApprovedBy string `json:"approved_by"`
	Expires    string `json:"expires"` // YYYY-MM-DD, the last day it applies
	Expired    bool   `json:"expired"`
}

// EvidenceIssueRequest is the body of POST /v1/evidence-packs: tokenguard report evidence
// records in the audit chain the digest of the manifest of a pack it wrote, and the signed
// checkpoint the pack's content rests on, so that a pack rewritten afterwards (its manifest
// recomputed) no longer matches a record the service signed.
type EvidenceIssueRequest struct {
	// ManifestDigest is the pack's manifest digest (64 lower-case hex characters): the
	// SHA-256 of manifest.json as written with its digest empty.
	ManifestDigest string `json:"manifest_digest"`
	// CheckpointSeq and CheckpointHash are the audit record of the signed checkpoint the
	// manifest holds; the service checks that its chain has that record with that hash.
	CheckpointSeq  int64  `json:"checkpoint_seq"`
	CheckpointHash string `json:"checkpoint_hash"`
}

// EvidenceIssued is the answer of POST /v1/evidence-packs: the evidence.issued audit record
// that holds the manifest digest.
type EvidenceIssued struct {
	ManifestDigest string    `json:"manifest_digest"`
	IssuedAt       time.Time `json:"issued_at"`
	AuditSeq       int64     `json:"audit_seq"`
	AuditHash      string    `json:"audit_hash"`
}
