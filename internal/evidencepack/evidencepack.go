// Package evidencepack builds, writes, reads and checks the auditor's evidence pack: one
// bundle holding the token inventory, the rotation report, every deletion request's evidence
// within retention, the renewals with their reasons and reviewers, the policy gate in force
// (bundle digest, rules, thresholds, waivers) and the audit checkpoint everything rests on,
// with a manifest of SHA-256 digests and an index.html that opens offline and links every
// part.
//
// Build and Check are pure; Write and Read move a pack between memory and a directory or a
// .zip file. Checking that the audit records a pack cites are in the verified chain needs
// the service and is the caller's (tokenguard report verify).
package evidencepack

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/evidence"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// Format names the pack layout in its manifest.
const Format = "tokenguard-evidence-pack/1"

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
)

// Checkpoint kinds: the audit head read and verified through the API, or (once the service
// signs them) a signed checkpoint.
const (
	CheckpointHead = "audit_head"
)

// Checkpoint is the state of the audit chain the pack rests on.
type Checkpoint struct {
	Kind string `json:"kind"`
	// Seq and Hash are the last record of the chain when the pack was made.
	Seq  int64     `json:"seq"`
	Hash string    `json:"hash"`
	Time time.Time `json:"time"`
	// ChainVerified says whether every record up to Seq verified when the pack was made;
	// Problem names the first broken record when not.
	ChainVerified bool   `json:"chain_verified"`
	Records       int64  `json:"records_verified"`
	Problem       string `json:"problem,omitempty"`
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

// Input is what Build packs.
type Input struct {
	GeneratedAt time.Time
	Endpoint    string // the service the pack was read from
	Inventory   []InventoryToken
	Rotation    evidence.Report
	Deletions   []wire.DeletionEvidence
	Renewals    []wire.Renewal
	Policy      wire.PolicyInForce
	Checkpoint  Checkpoint
	Citations   []Citation
}

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

// Pack is a pack in memory: its parts by name, the manifest included.
type Pack map[string][]byte

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

// Build renders every part of in and the manifest over them.
func Build(in Input) (Pack, error) {
	p := Pack{}
	parts := []struct {
		name string
		v    any
	}{
		{InventoryName, struct {
			Tokens []InventoryToken `json:"tokens"`
		}{nonNil(in.Inventory)}},
		{RotationJSON, in.Rotation},
		{DeletionsName, struct {
			DeletionRequests []wire.DeletionEvidence `json:"deletion_requests"`
		}{nonNil(in.Deletions)}},
		{RenewalsName, struct {
			Renewals []wire.Renewal `json:"renewals"`
		}{nonNil(in.Renewals)}},
		{PolicyName, in.Policy},
		{CheckpointName, in.Checkpoint},
		{CitationsName, struct {
			Citations []Citation `json:"citations"`
		}{nonNil(in.Citations)}},
	}
	for _, part := range parts {
		b, err := encodeJSON(part.v)
		if err != nil {
			return nil, fmt.Errorf("encoding %s: %w", part.name, err)
		}
		p[part.name] = b
	}
	var rot bytes.Buffer
	if err := evidence.Render(&rot, in.Rotation, evidence.FormatHTML); err != nil {
		return nil, fmt.Errorf("rendering %s: %w", RotationHTML, err)
	}
	p[RotationHTML] = rot.Bytes()
	var index bytes.Buffer
	if err := renderIndex(&index, in, p); err != nil {
		return nil, fmt.Errorf("rendering %s: %w", IndexName, err)
	}
	p[IndexName] = index.Bytes()

	m := Manifest{Format: Format, GeneratedAt: in.GeneratedAt.UTC(), Endpoint: in.Endpoint, Checkpoint: in.Checkpoint}
	for _, name := range slices.Sorted(maps.Keys(p)) {
		m.Files = append(m.Files, File{Path: name, SHA256: sum(p[name]), Bytes: len(p[name])})
	}
	raw, err := encodeManifest(m)
	if err != nil {
		return nil, err
	}
	p[ManifestName] = raw
	return p, nil
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

// ErrTampered is wrapped by Check's errors about a pack that is not as it was made.
var ErrTampered = errors.New("evidence pack does not verify")

// Check verifies p against its manifest: the manifest is exactly its canonical encoding with
// a matching digest, every part it lists is present with its SHA-256 and size, and nothing
// else is in the pack. It returns the manifest and the citations, which the caller checks
// against the audit chain.
func Check(p Pack) (Manifest, []Citation, error) {
	var m Manifest
	raw, ok := p[ManifestName]
	if !ok {
		return m, nil, fmt.Errorf("%w: no %s: is this an evidence pack (tokenguard report evidence)?", ErrTampered, ManifestName)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, nil, fmt.Errorf("%w: %s is not a manifest: %w", ErrTampered, ManifestName, err)
	}
	if m.Format != Format {
		return m, nil, fmt.Errorf("%w: %s has format %q, want %q", ErrTampered, ManifestName, m.Format, Format)
	}
	want, err := encodeManifest(m)
	if err != nil {
		return m, nil, err
	}
	if !bytes.Equal(want, raw) {
		return m, nil, fmt.Errorf("%w: %s was changed (its digest or encoding does not match its content)", ErrTampered, ManifestName)
	}
	listed := map[string]bool{ManifestName: true}
	var problems []string
	for _, f := range m.Files {
		listed[f.Path] = true
		b, ok := p[f.Path]
		switch {
		case !ok:
			problems = append(problems, f.Path+" is missing")
		case len(b) != f.Bytes || sum(b) != f.SHA256:
			problems = append(problems, fmt.Sprintf("%s was changed (SHA-256 %s, manifest says %s)", f.Path, sum(b), f.SHA256))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(p)) {
		if !listed[name] {
			problems = append(problems, name+" is not in the manifest")
		}
	}
	if len(problems) > 0 {
		return m, nil, fmt.Errorf("%w: %s", ErrTampered, strings.Join(problems, "; "))
	}
	var cites struct {
		Citations []Citation `json:"citations"`
	}
	if err := json.Unmarshal(p[CitationsName], &cites); err != nil {
		return m, nil, fmt.Errorf("%w: %s: %w", ErrTampered, CitationsName, err)
	}
	return m, cites.Citations, nil
}

func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}
