package server

import (
	"net/http"
	"regexp"
	"strconv"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// Evidence packs issued (POST /v1/evidence-packs).
//
// tokenguard report evidence writes a pack, then records here the digest of the pack's
// manifest, and only then asks for the signed checkpoint it keeps beside the manifest: the
// checkpoint covers the record, so a pack whose manifest was rewritten afterwards (every
// part's hash recomputed) no longer has the digest the service recorded, and report verify
// refuses it.
//
// The route changes no token, credential or deletion request: like an access request it
// only appends an audit record, of evidence issued. A reader credential may call it (the
// pack is made with one), an owner-restricted one may not (the pack is about every owner).
// The record holds the digest, the checkpoint the pack rests on, its scope (every owner) and
// the caller's credential id: no personal data.

// actionEvidenceIssued is the audit action of a recorded evidence pack.
const actionEvidenceIssued = "evidence.issued"

// EvidenceScopeService is the scope an evidence.issued record names: the pack covers every
// owner's tokens of the service (an owner-restricted credential cannot make one).
const EvidenceScopeService = "service"

// sha256Hex matches a SHA-256 digest as the pack and the audit chain write it.
var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (s *Server) issueEvidence(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx := r.Context()
	_, req, err := decodeBody[wire.EvidenceIssueRequest](s, w, r, false)
	if err != nil {
		return err
	}
	if !sha256Hex.MatchString(req.ManifestDigest) {
		return invalid("manifest_digest", "manifest_digest must be the pack's manifest digest: 64 lower-case hexadecimal characters")
	}
	if req.CheckpointSeq < 1 {
		return invalid("checkpoint_seq", "checkpoint_seq must be the sequence number (1 or more) of the audit record the pack's signed checkpoint names")
	}
	if !sha256Hex.MatchString(req.CheckpointHash) {
		return invalid("checkpoint_hash", "checkpoint_hash must be the hash of the audit record the pack's signed checkpoint names: 64 lower-case hexadecimal characters")
	}
	now := s.clock()
	out := wire.EvidenceIssued{ManifestDigest: req.ManifestDigest, IssuedAt: now.UTC()}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		// The pack must rest on this service's chain: the checkpoint's record is in it.
		recs, err := tx.ListAudit(ctx, req.CheckpointSeq-1, 1)
		if err != nil {
			return err
		}
		if len(recs) != 1 || recs[0].Seq != req.CheckpointSeq || recs[0].Hash != req.CheckpointHash {
			return invalid("checkpoint_hash", "the audit log has no record %d with hash %s: record a pack whose checkpoint this service signed", req.CheckpointSeq, req.CheckpointHash)
		}
		rec, err := tx.AppendAudit(ctx, audit.Event{Time: now, Actor: c.id, Action: actionEvidenceIssued, Outcome: "ok",
			Details: map[string]string{
				"manifest_digest": req.ManifestDigest,
				"checkpoint_seq":  strconv.FormatInt(req.CheckpointSeq, 10),
				"checkpoint_hash": req.CheckpointHash,
				"scope":           EvidenceScopeService,
			}})
		out.AuditSeq, out.AuditHash = rec.Seq, rec.Hash
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}
