// Package evidencepack builds, writes, reads and checks the auditor's evidence pack: one
// bundle holding the token inventory, the rotation report, every deletion request's evidence
// within retention, the renewals with their reasons and reviewers, the policy gate in force
// (bundle digest, rules, thresholds, waivers) and the audit checkpoint everything rests on,
// with a manifest of SHA-256 digests and an index.html that opens offline and links every
// part.
//
// A Writer writes a pack part by part as the caller reads the service, each part hashed on
// its way to disk; Open and Check read a pack back part by part. Neither holds a whole part
// in memory, so a pack of a service with 100k tokens and 1M audit records costs what one of
// ten tokens does, but for the rotations (see evidence.Stream). Checking that the audit
// records a pack cites are in the verified chain needs the service and is the caller's
// (tokenguard report verify, which walks Citations beside the chain).
package evidencepack

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/evidence"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// Format names the pack layout in its manifest. Version 2 added the issuance part
// (IssuanceName): packs of version 1 carry no record of their issue and are refused.
const Format = "tokenguard-evidence-pack/2"

// formatV1 is the layout before the issuance part.
const formatV1 = "tokenguard-evidence-pack/1"

// IssuanceFormat names the layout of the issuance part.
const IssuanceFormat = "tokenguard-evidence-issued/1"

// Names of the parts of a pack.
const (
	ManifestName   = "manifest.json"
	IndexName      = "index.html"
	InventoryName  = "inventory.json"
	RotationHTML   = "rotation.html"
	RotationJSON   = "rotation.json"
	DeletionsName  = "deletion-requests.json"
	RenewalsName   = "renewals.json"
	PolicyName     = "policy.json"
	CheckpointName = "audit-checkpoint.json"
	CitationsName  = "citations.json"
	// IssuanceName is the one part the manifest does not list: it is written after the
	// manifest, whose digest it records (see Issuance).
	IssuanceName = "evidence-issued.json"
)

// CheckpointSigned is the kind of a pack's checkpoint: an Ed25519-signed checkpoint of the
// audit chain, as GET /v1/audit/checkpoint signs one.
const CheckpointSigned = "signed_checkpoint"

// Checkpoint is the state of the audit chain the pack rests on: a checkpoint the service
// signed (sequence number, hash, time, first keyed record, key id and signature) with the
// public key that checks its signature, and the result of verifying the chain up to it.
type Checkpoint struct {
	Kind string `json:"kind"`
	audit.Checkpoint
	// PublicKey is the Ed25519 public checkpoint key of key set KeyID, derived from the
	// service's key file when the pack was made. Checking the signature with it proves only
	// that the checkpoint was not changed after the holder of that key signed it: see
	// VerifyCheckpoint for keys that prove who signed it.
	PublicKey []byte `json:"public_key"`
	// ChainVerified says whether every record up to Seq verified, the record of Seq with
	// Hash, when the pack was made; Problem names the first broken record when not.
	ChainVerified bool   `json:"chain_verified"`
	Records       int64  `json:"records_verified"`
	Problem       string `json:"problem,omitempty"`
}

// Issuance is the issuance part of a pack: the audit record in which the service recorded
// the manifest's digest (POST /v1/evidence-packs, action evidence.issued), and the checkpoint
// the service signed after it, which covers it. The manifest cannot list this part (it is
// made from the manifest's digest); every field of it is checked instead: the digest against
// the manifest, the checkpoint's signature, and (report verify, with the service) the record
// against the verified chain. It holds nothing else, so no byte of it goes unchecked.
type Issuance struct {
	Format         string `json:"format"`
	ManifestDigest string `json:"manifest_digest"`
	// RecordSeq and RecordHash are the evidence.issued audit record.
	RecordSeq  int64            `json:"evidence_issued_seq"`
	RecordHash string           `json:"evidence_issued_hash"`
	Checkpoint audit.Checkpoint `json:"audit_checkpoint"`
	// PublicKey is the Ed25519 public checkpoint key of Checkpoint's key set, as the pack's
	// own checkpoint embeds its key.
	PublicKey []byte `json:"checkpoint_public_key"`
}

// SignedCheckpoint is the issuance's checkpoint in the shape VerifyCheckpoint checks.
func (i Issuance) SignedCheckpoint() Checkpoint {
	return Checkpoint{Kind: CheckpointSigned, Checkpoint: i.Checkpoint, PublicKey: i.PublicKey}
}

// Citation is one audit record the pack cites: a rotation, a renewal, a deletion request or
// the checkpoint itself.
type Citation struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
	What string `json:"what"`
}

// InventoryToken is one token of the inventory: what it is for, what it reaches and its
// life, without secret, fingerprint or data subjects (only their number).
type InventoryToken struct {
	ID             string         `json:"id"`
	Name           string         `json:"name"`
	Owner          string         `json:"owner"`
	Purpose        string         `json:"purpose"`
	Scopes         []string       `json:"scopes"`
	DataCategories []string       `json:"data_categories"`
	Audiences      []string       `json:"audiences"`
	DataSubjects   int            `json:"data_subjects"`
	Status         string         `json:"status"`
	Rotation       *wire.Rotation `json:"rotation,omitempty"`
	SecretVersion  int            `json:"secret_version"`
	CreatedAt      time.Time      `json:"created_at"`
	ExpiresAt      time.Time      `json:"expires_at"`
	RotatedAt      *time.Time     `json:"rotated_at,omitempty"`
	RevokedAt      *time.Time     `json:"revoked_at,omitempty"`
	LastUsedAt     *time.Time     `json:"last_used_at,omitempty"`
}

// InventoryOf is t as the inventory lists it.
func InventoryOf(t wire.Token) InventoryToken {
	return InventoryToken{ID: t.ID, Name: t.Name, Owner: t.Owner, Purpose: t.Purpose, Scopes: t.Scopes,
		DataCategories: t.DataCategories, Audiences: t.Audiences, DataSubjects: len(t.DataSubjects), Status: t.Status,
		Rotation: t.Rotation, SecretVersion: t.SecretVersion, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt,
		RotatedAt: t.RotatedAt, RevokedAt: t.RevokedAt, LastUsedAt: t.LastUsedAt}
}

// Token is t as a wire.Token holding what the inventory keeps (the rotation report reads
// the inventory back this way).
func (t InventoryToken) Token() wire.Token {
	return wire.Token{ID: t.ID, Name: t.Name, Owner: t.Owner, Purpose: t.Purpose, Scopes: t.Scopes,
		DataCategories: t.DataCategories, Audiences: t.Audiences, Status: t.Status, Rotation: t.Rotation,
		SecretVersion: t.SecretVersion, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, RotatedAt: t.RotatedAt,
		RevokedAt: t.RevokedAt, LastUsedAt: t.LastUsedAt}
}

// Summary is what index.html says of the pack, gathered while its parts were written: the
// counts, the first rows of the deletion requests and renewals (the parts hold them all),
// the policy in force and the checkpoint.
type Summary struct {
	GeneratedAt time.Time
	Endpoint    string // the service the pack was read from
	Checkpoint  Checkpoint
	Policy      wire.PolicyInForce
	Tokens      int
	Statuses    map[string]int
	Rotation    evidence.Summary
	// Deletions and Renewals are the first IndexRows of their parts; DeletionCount and
	// RenewalCount count them all.
	Deletions     []wire.DeletionEvidence
	DeletionCount int
	Renewals      []wire.Renewal
	RenewalCount  int
	Citations     int
}

// IndexRows is the most rows a table of index.html shows; the rest is in the part it links.
const IndexRows = 1000

// File is one part of a pack as the manifest lists it.
type File struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Bytes  int    `json:"bytes"`
}

// Manifest lists every part of a pack with its SHA-256. Digest is the SHA-256 of the
// manifest as written with Digest empty, so no byte of the manifest can change unnoticed
// either (Check also requires the file to be exactly its canonical encoding).
type Manifest struct {
	Format      string     `json:"format"`
	GeneratedAt time.Time  `json:"generated_at"`
	Endpoint    string     `json:"endpoint"`
	Checkpoint  Checkpoint `json:"audit_checkpoint"`
	Files       []File     `json:"files"`
	Digest      string     `json:"digest"`
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// encodeManifest is the canonical encoding of m with its Digest computed.
func encodeManifest(m Manifest) ([]byte, error) {
	m.Digest = ""
	unsigned, err := encodeJSON(m)
	if err != nil {
		return nil, fmt.Errorf("encoding the manifest: %w", err)
	}
	m.Digest = sum(unsigned)
	return encodeJSON(m)
}

// ErrTampered is wrapped by the errors about a pack that is not as it was made.
var ErrTampered = errors.New("evidence pack does not verify")
