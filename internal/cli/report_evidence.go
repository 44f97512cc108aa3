package cli

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/evidence"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/evidencepack"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/keyring"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// Audit actions of the service that the evidence pack reads.
const (
	actionDeletionRequest = "deletion.request" // a deletion request
	actionEvidenceIssued  = "evidence.issued"  // an evidence pack's manifest digest, recorded
)

func newReportEvidenceCommand(s *streams, cf *clientFlags, now func() time.Time) *cobra.Command {
	o := reportEvidenceOptions{now: now}
	cmd := &cobra.Command{
		Use:   "evidence --output DIR|FILE.zip",
		Short: "Write the auditor's evidence pack: inventory, rotation, deletions, renewals, policy and the audit checkpoint, with a manifest",
		Long: `Read a running service and write one evidence pack for an auditor (11 CCR 7123): the
token inventory, the rotation report, every deletion request's evidence within retention, the
renewals with their reasons and reviewers, the policy bundle's digest and rule list, the
thresholds and waivers in force, and the signed audit checkpoint everything rests on: the
service signs its chain's head (sequence number, hash, time) with the Ed25519 checkpoint
key of its key file after every other part was read, and the pack holds that checkpoint
with its public key. manifest.json lists every part with its SHA-256; index.html opens
offline and links every part. Then the manifest's digest is recorded in the audit chain
(POST /v1/evidence-packs, an evidence.issued record naming the credential) and the service
signs a second checkpoint, after that record: evidence-issued.json holds both, so a pack
rewritten afterwards, every hash recomputed, no longer has the digest the service recorded.

The audit chain is read and verified through the API up to the checkpoint; its records are
HMACs under the audit key, so the key file is needed to verify them and the checkpoint's
signature (--key-file). The pack is written even when the chain does not verify, and says
so; the exit code is then 1. Publish the service's public checkpoint key (tokenguard audit
checkpoint --public-key) so auditors can check the signature with a key they did not take
from the pack.

--output names a new directory (or an empty one) or a FILE.zip that does not exist yet.
The pack names token owners and renewal reviewers: its files are written 0600.

A reader credential is enough (it reads, and records the pack's issue, which changes no
token; one restricted to an owner is refused, as the pack is about every owner).

Check a pack with: tokenguard report verify PACK`,
		Example: `  tokenguard report evidence --output evidence-2030-q1.zip
  tokenguard report verify evidence-2030-q1.zip`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd, map[string]string{"key-file": "TOKENGUARD_KEY_FILE"}); err != nil {
				return err
			}
			o.connect = cf.connector(cmd)
			o.endpoint = func() string { return cf.endpoint }
			return runReportEvidence(cmd.Context(), s, o)
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "the pack to write: a new directory, or a FILE.zip")
	cmd.Flags().StringVar(&o.keyFile, "key-file", "", "key file of the service, to verify the audit chain's HMACs and the checkpoint's signature (env TOKENGUARD_KEY_FILE)")
	return cmd
}

type reportEvidenceOptions struct {
	output, keyFile string
	now             func() time.Time
	connect         connectFunc
	endpoint        func() string // the service's URL once connect has read the environment
}

// runReportEvidence reads the service and writes the evidence pack to o.output.
func runReportEvidence(ctx context.Context, s *streams, o reportEvidenceOptions) error {
	if o.output == "" {
		return withCode(ExitUsage, errors.New("give --output DIR or --output FILE.zip: where to write the evidence pack"))
	}
	if _, err := os.Stat(o.output); err == nil && evidencepack.IsZip(o.output) {
		return withCode(ExitUsage, fmt.Errorf("--output %s exists: name a new file", o.output))
	}
	keys, err := auditKeyFile(o.keyFile, "", false)
	if err != nil {
		return err
	}
	c, err := o.connect()
	if err != nil {
		return err
	}
	at := o.now().UTC()
	w, err := evidencepack.Create(o.output, at)
	if err != nil {
		return withCode(ExitUsage, fmt.Errorf("--output: %w", err))
	}
	sum, v, err := writeEvidence(ctx, w, c, keys, at)
	if err != nil {
		w.Abort()
		return err
	}
	sum.Endpoint = o.endpoint()
	m, err := w.Finish(sum)
	if err != nil {
		return withCode(ExitUsage, fmt.Errorf("--output: %w", err))
	}
	iss, chain, err := issueEvidence(ctx, c, keys, v, m, sum.Checkpoint.ChainVerified)
	if err != nil {
		w.Abort()
		return err
	}
	if err := w.Seal(iss); err != nil {
		return withCode(ExitUsage, fmt.Errorf("--output: %w", err))
	}
	// A note on stderr about a pack already written: if stderr fails there is nowhere to say so.
	_, _ = fmt.Fprintf(s.err, "wrote the evidence pack (%d parts, %d tokens, %d deletion requests, %d renewals, signed audit checkpoint of record %d, key set %s, public key %s) to %s\n"+
		"manifest digest %s, recorded in audit record %d (evidence.issued), covered by the signed audit checkpoint of record %d\n",
		len(m.Files)+2, sum.Tokens, sum.DeletionCount, sum.RenewalCount, sum.Checkpoint.Seq, sum.Checkpoint.KeyID, sum.Checkpoint.EncodedPublicKey(), o.output,
		m.Digest, iss.RecordSeq, iss.Checkpoint.Seq)
	if !sum.Checkpoint.ChainVerified {
		return withCode(ExitFindings, fmt.Errorf("the audit chain does not verify: %s", sum.Checkpoint.Problem))
	}
	if !chain.Verified {
		return withCode(ExitFindings, fmt.Errorf("the audit chain does not verify after the pack's checkpoint: %s", chain.Problem))
	}
	return nil
}

// issueEvidence records the digest of the manifest m in the audit chain of the service at c
// (POST /v1/evidence-packs, an evidence.issued record), then asks the service to sign a
// checkpoint, which comes after that record and so covers it, and returns the pack's
// issuance. With the key file (keys), the new checkpoint's signature is checked, and when
// the chain verified up to the pack's checkpoint (verified; v then stands at it), the
// records after it are verified up to the new checkpoint: the record of the issue must hold
// the digest.
func issueEvidence(ctx context.Context, c *client.Client, keys *keyring.Keyring, v *audit.Verifier, m evidencepack.Manifest, verified bool) (evidencepack.Issuance, evidence.Chain, error) {
	issued, err := c.IssueEvidence(ctx, wire.EvidenceIssueRequest{ManifestDigest: m.Digest, CheckpointSeq: m.Checkpoint.Seq, CheckpointHash: m.Checkpoint.Hash})
	if err != nil {
		return evidencepack.Issuance{}, evidence.Chain{}, apiFailure(err)
	}
	signed, err := c.AuditCheckpoint(ctx)
	if err != nil {
		return evidencepack.Issuance{}, evidence.Chain{}, apiFailure(err)
	}
	iss := evidencepack.Issuance{ManifestDigest: m.Digest, RecordSeq: issued.AuditSeq, RecordHash: issued.AuditHash,
		Checkpoint: signed, PublicKey: m.Checkpoint.PublicKey}
	chain := evidence.Chain{Verified: verified}
	if keys == nil || !verified {
		return iss, chain, nil
	}
	pub, ok := keys.CheckpointKey(signed.KeyID)
	if !ok {
		return iss, chain, withCode(ExitFindings, fmt.Errorf("the service signed its audit checkpoint with key set %q, which the key file does not hold: give the service's own key file", signed.KeyID))
	}
	iss.PublicKey = pub
	if err := signed.Verify(keys); err != nil {
		return iss, chain, withCode(ExitFindings, err)
	}
	found := false
	err = eachAuditRecordAfter(ctx, c, v.Head().Seq, auditPageSize, func(rec audit.Record) error {
		if rec.Seq > signed.Seq {
			return errWalkDone
		}
		if err := v.Add(rec); err != nil {
			if !errors.Is(err, audit.ErrBroken) && !errors.Is(err, audit.ErrNoKey) {
				return withCode(ExitFindings, err)
			}
			chain.Verified, chain.Problem = false, err.Error()
			return errWalkDone
		}
		if rec.Seq == issued.AuditSeq {
			found = rec.Hash == issued.AuditHash && rec.Action == actionEvidenceIssued && rec.Details["manifest_digest"] == m.Digest
		}
		if rec.Action == actionEvidenceIssued && rec.Seq < issued.AuditSeq && otherPackOn(rec, m) {
			return withCode(ExitFindings, fmt.Errorf("another evidence pack (another manifest digest) was recorded on the same audit checkpoint %d (audit record %d, by credential %s) before this one: "+
				"a checkpoint seals one pack; run tokenguard report evidence again", m.Checkpoint.Seq, rec.Seq, rec.Actor))
		}
		if rec.Seq == signed.Seq && rec.Hash != signed.Hash {
			chain.Verified, chain.Problem = false, fmt.Sprintf("record %d has another hash than the checkpoint the service just signed", rec.Seq)
		}
		return nil
	})
	if err != nil && !errors.Is(err, errWalkDone) {
		return iss, chain, err
	}
	if chain.Verified && v.Head().Seq < signed.Seq {
		chain.Verified, chain.Problem = false, fmt.Sprintf("the chain ends at record %d, before the checkpoint the service just signed (record %d)", v.Head().Seq, signed.Seq)
	}
	if chain.Verified && !found {
		return iss, chain, withCode(ExitFindings, fmt.Errorf("the service answered audit record %d as the record of the pack's issue, but the verified chain does not hold it with the manifest digest", issued.AuditSeq))
	}
	chain.Records = v.Count()
	return iss, chain, nil
}

// writeEvidence reads every part of a pack from the service at c and writes it to w as it is
// read, page by page: nothing the service holds in proportion to its tokens or its audit
// records is kept in memory but the rotations (a few words each, for the rotation report),
// the ids of the deletion requests within retention, and the first rows index.html shows.
// The checkpoint is signed after every other part was read, so it covers every record they
// cite; the chain is then read and verified up to it, and the rotation report is built from
// it and the inventory read back from disk.
//
// It returns the verifier of the chain, standing at the checkpoint when the chain verified.
func writeEvidence(ctx context.Context, w *evidencepack.Writer, c *client.Client, keys *keyring.Keyring, at time.Time) (sum evidencepack.Summary, v *audit.Verifier, err error) {
	sum = evidencepack.Summary{GeneratedAt: at, Statuses: map[string]int{}}
	if sum.Policy, err = c.Policy(ctx); err != nil {
		return sum, v, apiFailure(err)
	}
	if err := w.WriteJSON(evidencepack.PolicyName, sum.Policy); err != nil {
		return sum, v, err
	}
	if err := writeInventory(ctx, w, c, &sum); err != nil {
		return sum, v, err
	}
	deletions, err := writeDeletions(ctx, w, c, &sum)
	if err != nil {
		return sum, v, err
	}
	renewalCites, err := writeRenewals(ctx, w, c, &sum)
	if err != nil {
		return sum, v, err
	}

	signed, err := c.AuditCheckpoint(ctx)
	if err != nil {
		return sum, v, apiFailure(err)
	}
	sum.Checkpoint = evidencepack.Checkpoint{Kind: evidencepack.CheckpointSigned, Checkpoint: signed}
	v = &audit.Verifier{}
	if keys != nil {
		pub, ok := keys.CheckpointKey(signed.KeyID)
		if !ok {
			return sum, v, withCode(ExitFindings, fmt.Errorf("the service signed its audit checkpoint with key set %q, which the key file does not hold: give the service's own key file", signed.KeyID))
		}
		sum.Checkpoint.PublicKey = pub
		if err := signed.Verify(keys); err != nil {
			return sum, v, withCode(ExitFindings, err)
		}
		v = audit.NewVerifier(keys)
		if err := v.Expect([]audit.Checkpoint{signed}, keys); err != nil {
			return sum, v, withCode(ExitFindings, err)
		}
	}

	// The citations, in sequence order: the renewals' (read above, in their order) merged
	// with the rotations and deletion requests the walk meets, then the checkpoint.
	cites, err := w.List(evidencepack.CitationsName, "citations")
	if err != nil {
		return sum, v, err
	}
	cite := func(ct evidencepack.Citation) error { return cites.Add(ct) }
	rotations := map[string][]evidence.RotationRecord{}
	actors := map[string]string{} // one copy of each actor's id for every rotation it made
	chain, err := walkVerifiedChain(ctx, c, v, signed.Seq, func(rec audit.Record) error {
		for len(renewalCites) > 0 && renewalCites[0].Seq <= rec.Seq {
			if err := cite(renewalCites[0]); err != nil {
				return err
			}
			renewalCites = renewalCites[1:]
		}
		if rot, ok := evidence.RotationOf(rec); ok {
			if a, ok := actors[rot.Actor]; ok {
				rot.Actor = a
			} else {
				actors[rot.Actor] = rot.Actor
			}
			rotations[rec.TokenID] = append(rotations[rec.TokenID], rot)
			if err := cite(evidencepack.Citation{Seq: rec.Seq, Hash: rec.Hash, What: "rotation of " + rec.TokenID}); err != nil {
				return err
			}
		}
		if rec.Action == actionDeletionRequest {
			if id := rec.Details["deletion_request"]; deletions[id] {
				if err := cite(evidencepack.Citation{Seq: rec.Seq, Hash: rec.Hash, What: "deletion request " + id}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return sum, v, err
	}
	for _, ct := range renewalCites { // past the chain's end: verify refuses them
		if err := cite(ct); err != nil {
			return sum, v, err
		}
	}
	if signed.Seq > 0 {
		if err := cite(evidencepack.Citation{Seq: signed.Seq, Hash: signed.Hash, What: "audit checkpoint"}); err != nil {
			return sum, v, err
		}
	}
	sum.Citations = cites.Len()
	if err := cites.Close(); err != nil {
		return sum, v, err
	}
	sum.Checkpoint.ChainVerified, sum.Checkpoint.Records, sum.Checkpoint.Problem = chain.Verified, chain.Records, chain.Problem
	if err := w.WriteJSON(evidencepack.CheckpointName, sum.Checkpoint); err != nil {
		return sum, v, err
	}
	sum.Rotation, err = writeRotation(w, chain, rotations, at)
	return sum, v, err
}

// writeInventory writes inventory.json a page of tokens at a time.
func writeInventory(ctx context.Context, w *evidencepack.Writer, c *client.Client, sum *evidencepack.Summary) error {
	list, err := w.List(evidencepack.InventoryName, "tokens")
	if err != nil {
		return err
	}
	opts := wire.ListTokensOptions{Limit: 1000}
	for {
		page, err := c.ListTokens(ctx, opts)
		if err != nil {
			return apiFailure(err)
		}
		for _, t := range page.Tokens {
			sum.Statuses[t.Status]++
			if err := list.Add(evidencepack.InventoryOf(t)); err != nil {
				return err
			}
		}
		if page.NextPageToken == "" || page.NextPageToken == opts.PageToken {
			break
		}
		opts.PageToken = page.NextPageToken
	}
	sum.Tokens = list.Len()
	return list.Close()
}

// writeDeletions writes deletion-requests.json a page at a time and returns the ids of the
// requests it holds (their audit records are cited).
func writeDeletions(ctx context.Context, w *evidencepack.Writer, c *client.Client, sum *evidencepack.Summary) (map[string]bool, error) {
	list, err := w.List(evidencepack.DeletionsName, "deletion_requests")
	if err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	for token := ""; ; {
		page, err := c.ListDeletionEvidence(ctx, token, 1000)
		if err != nil {
			return nil, apiFailure(err)
		}
		for _, d := range page.DeletionRequests {
			ids[d.ID] = true
			if len(sum.Deletions) < evidencepack.IndexRows {
				sum.Deletions = append(sum.Deletions, d)
			}
			if err := list.Add(d); err != nil {
				return nil, err
			}
		}
		if page.NextPageToken == "" || page.NextPageToken == token {
			break
		}
		token = page.NextPageToken
	}
	sum.DeletionCount = list.Len()
	return ids, list.Close()
}

// writeRenewals writes renewals.json a page at a time and returns their citations, in the
// order of their audit records.
func writeRenewals(ctx context.Context, w *evidencepack.Writer, c *client.Client, sum *evidencepack.Summary) ([]evidencepack.Citation, error) {
	list, err := w.List(evidencepack.RenewalsName, "renewals")
	if err != nil {
		return nil, err
	}
	var cites []evidencepack.Citation
	for after := int64(0); ; {
		page, err := c.ListRenewals(ctx, after)
		if err != nil {
			return nil, apiFailure(err)
		}
		for _, r := range page.Renewals {
			if len(sum.Renewals) < evidencepack.IndexRows {
				sum.Renewals = append(sum.Renewals, r)
			}
			if err := list.Add(r); err != nil {
				return nil, err
			}
			cites = append(cites, evidencepack.Citation{Seq: r.AuditSeq, Hash: r.AuditHash, What: "renewal of " + r.TokenID})
		}
		if page.NextAfter == 0 || page.NextAfter <= after {
			break
		}
		after = page.NextAfter
	}
	slices.SortStableFunc(cites, func(a, b evidencepack.Citation) int { return cmp.Compare(a.Seq, b.Seq) })
	sum.RenewalCount = list.Len()
	return cites, list.Close()
}

// writeRotation writes the rotation report (JSON and HTML) token by token, reading the
// inventory back from the pack.
func writeRotation(w *evidencepack.Writer, chain evidence.Chain, rotations map[string][]evidence.RotationRecord, at time.Time) (evidence.Summary, error) {
	st, err := evidence.NewStream(w.Spool(), chain, at)
	if err != nil {
		return evidence.Summary{}, err
	}
	defer func() { _ = st.Close() }()
	inv, err := w.Open(evidencepack.InventoryName)
	if err != nil {
		return evidence.Summary{}, err
	}
	defer func() { _ = inv.Close() }()
	err = evidencepack.EachItem(inv, "tokens", func(t evidencepack.InventoryToken) error {
		return st.Add(t.Token(), rotations[t.ID])
	})
	if err != nil {
		return evidence.Summary{}, withCode(ExitFindings, fmt.Errorf("rotation report: %w", err))
	}
	jsonPart, err := w.Part(evidencepack.RotationJSON)
	if err != nil {
		return evidence.Summary{}, err
	}
	htmlPart, err := w.Part(evidencepack.RotationHTML)
	if err != nil {
		return evidence.Summary{}, err
	}
	rs, err := st.Finish(jsonPart, htmlPart)
	if err != nil {
		return rs, fmt.Errorf("rotation report: %w", err)
	}
	return rs, errors.Join(jsonPart.Close(), htmlPart.Close())
}

// errWalkDone stops walkVerifiedChain at the record it was asked to stop at.
var errWalkDone = errors.New("walked up to the checkpoint")

// walkVerifiedChain reads the audit chain of the service at c in sequence order, verifying
// each record with v as tokenguard audit verify does, and hands every record to fn: the whole
// chain when upTo is negative, else the records up to upTo, the sequence number of a
// checkpoint v expects (a chain that ends before it fails v.Finish). It returns the
// verification result; a broken chain is reported there, not as an error, and reading goes
// on; fn's error stops it and is returned. This is the one place the evidence pack and its verification read the chain.
func walkVerifiedChain(ctx context.Context, c *client.Client, v *audit.Verifier, upTo int64, fn func(audit.Record) error) (evidence.Chain, error) {
	var broken error
	err := error(nil)
	if upTo != 0 {
		err = eachAuditRecord(ctx, c, auditPageSize, func(rec audit.Record) error {
			if upTo > 0 && rec.Seq > upTo {
				return errWalkDone
			}
			if broken == nil {
				if err := v.Add(rec); err != nil {
					if !errors.Is(err, audit.ErrBroken) && !errors.Is(err, audit.ErrNoKey) {
						return withCode(ExitFindings, err)
					}
					broken = err
				}
			}
			if err := fn(rec); err != nil {
				return err
			}
			if rec.Seq == upTo {
				return errWalkDone
			}
			return nil
		})
	}
	if errors.Is(err, errWalkDone) {
		err = nil
	}
	if err != nil {
		return evidence.Chain{}, err
	}
	if broken == nil && upTo >= 0 {
		broken = v.Finish()
	}
	chain := evidence.Chain{Verified: broken == nil, Records: v.Count()}
	if broken != nil {
		chain.Problem = broken.Error()
	}
	return chain, nil
}

func newReportVerifyCommand(s *streams, cf *clientFlags) *cobra.Command {
	var o reportVerifyOptions
	cmd := &cobra.Command{
		Use:   "verify PACK",
		Short: "Check an evidence pack: its manifest, its signed audit checkpoint, and every audit record it cites against the verified chain",
		Long: `Check an evidence pack written by tokenguard report evidence (a directory or a .zip):

  1. manifest.json is intact (its own digest) and every part it lists is present with the
     SHA-256 and size it lists; no part is missing and none was added but
     evidence-issued.json, which must name the manifest's digest;
  2. the signatures of the pack's audit checkpoint and of the one in evidence-issued.json
     verify: with --checkpoint-key (the service's public checkpoint key, as tokenguard audit
     checkpoint --public-key prints it) it proves the holder of that key signed them; with
     --key-file, that the service holding that key file did; with neither, only that the
     checkpoints were not changed after the holder of the key embedded in the pack signed
     them (the output says so);
  3. the audit chain of the service at --endpoint verifies from the first record up to the
     checkpoint of evidence-issued.json, each checkpoint's record has the signed hash, and
     every audit record the pack cites (each rotation, renewal and deletion request) is in
     that chain, at or before the pack's checkpoint, with the hash the pack records. The
     chain's records are HMACs under the audit key: this step needs the key file (--key-file);
  4. the record evidence-issued.json names is the evidence.issued record of this manifest's
     digest and this pack's checkpoint, and no earlier record on that checkpoint holds
     another digest: a pack rewritten after its issue, its manifest recomputed, is refused.

--manifest-only does steps 1 and 2 alone, without the service (say so to whoever relies on it).

Exit 0 when the pack verifies, 1 naming the first problem, 2 on a usage error.`,
		Example: `  tokenguard report verify --checkpoint-key "$(cat checkpoint-key.pub)" evidence-2030-q1.zip`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := applyEnv(cmd, map[string]string{"key-file": "TOKENGUARD_KEY_FILE"}); err != nil {
				return err
			}
			o.pack, o.connect = args[0], cf.connector(cmd)
			return runReportVerify(cmd.Context(), s, o)
		},
	}
	cmd.Flags().BoolVar(&o.manifestOnly, "manifest-only", false, "check the manifest and the checkpoint's signature only, without the service")
	cmd.Flags().StringVar(&o.keyFile, "key-file", "", "key file of the service, to verify the audit chain's HMACs and the checkpoint's signature (env TOKENGUARD_KEY_FILE)")
	cmd.Flags().StringVar(&o.checkpointKey, "checkpoint-key", "", "the service's public checkpoint key (base64, as tokenguard audit checkpoint --public-key prints it) the checkpoint must be signed with")
	return cmd
}

type reportVerifyOptions struct {
	pack, keyFile, checkpointKey string
	manifestOnly                 bool
	connect                      connectFunc
}

// runReportVerify checks the pack o.pack: its manifest, its checkpoint's signature and,
// unless o.manifestOnly, the records it cites against the service's verified chain.
func runReportVerify(ctx context.Context, s *streams, o reportVerifyOptions) error {
	var given ed25519.PublicKey
	if o.checkpointKey != "" {
		var err error
		if given, err = evidencepack.ParsePublicKey(o.checkpointKey); err != nil {
			return withCode(ExitUsage, fmt.Errorf("--checkpoint-key: %w", err))
		}
	}
	keys, err := auditKeyFile(o.keyFile, "", false)
	if err != nil {
		return err
	}
	pack, err := evidencepack.Open(o.pack)
	if err != nil {
		return withCode(ExitUsage, fmt.Errorf("reading the pack: %w", err))
	}
	// Only read: closing cannot change the verdict.
	defer func() { _ = pack.Close() }()
	m, err := pack.Check()
	if err != nil {
		return withCode(ExitFindings, err)
	}
	var checkKeys audit.CheckpointKeys
	if keys != nil {
		checkKeys = keys
	}
	proof, err := evidencepack.VerifyCheckpoint(m.Checkpoint, given, checkKeys)
	if err != nil {
		return withCode(ExitFindings, err)
	}
	iss := pack.Issuance()
	if _, err := evidencepack.VerifyCheckpoint(iss.SignedCheckpoint(), given, checkKeys); err != nil {
		return withCode(ExitFindings, fmt.Errorf("%s: %w", evidencepack.IssuanceName, err))
	}
	if o.manifestOnly {
		if err := iss.Covers(m); err != nil {
			return withCode(ExitFindings, err)
		}
		_, err := fmt.Fprintf(s.out, "evidence pack manifest verified: %d parts match manifest.json, whose digest %s names as recorded in audit record %d\n%s\n"+
			"the audit chain, the records the pack cites and the record of its issue were NOT checked (--manifest-only)\n",
			len(m.Files), evidencepack.IssuanceName, iss.RecordSeq, proof)
		return err
	}
	c, err := o.connect()
	if err != nil {
		return err
	}
	res, err := verifyCitations(ctx, c, keys, pack, m, iss)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(s.out, "evidence pack verified: %d parts match manifest.json; %d cited audit records are in the verified chain of %d records up to the signed checkpoint %d\n"+
		"the manifest digest %s is the one audit record %d holds (evidence.issued by credential %s at %s), covered by the signed checkpoint %d\n%s\n",
		len(m.Files), res.cited, res.chain.Records, m.Checkpoint.Seq,
		m.Digest, iss.RecordSeq, res.issuedBy, res.issuedAt.UTC().Format(time.RFC3339), iss.Checkpoint.Seq, proof)
	return err
}

// citationsChecked is what verifyCitations found.
type citationsChecked struct {
	cited    int            // citations checked
	chain    evidence.Chain // the chain's verdict up to the issuance's checkpoint
	issuedBy string         // the credential id of the record of the pack's issue
	issuedAt time.Time      // and its time
}

// verifyCitations walks the audit chain of the service at c up to the checkpoint of the
// pack's issuance iss, verifying it with keys and requiring the records of the pack's
// checkpoint (m.Checkpoint) and of the issuance's to have their hashes, and beside it the
// pack's citations (both in sequence order, neither held): every cited record must be in
// the verified chain, at or before the pack's checkpoint, with the hash cited. The record of
// the issue must be an evidence.issued record holding m's digest and m's checkpoint.
func verifyCitations(ctx context.Context, c *client.Client, keys *keyring.Keyring, pack *evidencepack.Opened, m evidencepack.Manifest, iss evidencepack.Issuance) (citationsChecked, error) {
	var res citationsChecked
	cp := m.Checkpoint
	v := &audit.Verifier{}
	if keys != nil {
		v = audit.NewVerifier(keys)
	}
	if err := v.Expect([]audit.Checkpoint{cp.Checkpoint, iss.Checkpoint}, evidencepack.PackCheckpointKeys(cp, iss)); err != nil {
		return res, withCode(ExitFindings, err)
	}
	cites, err := pack.Citations()
	if err != nil {
		return res, withCode(ExitFindings, err)
	}
	// Only read: closing cannot change the verdict.
	defer func() { _ = cites.Close() }()
	next, more, err := cites.Next()
	if err != nil {
		return res, withCode(ExitFindings, err)
	}
	var issue *audit.Record // the record iss names, checked once the chain verified
	res.chain, err = walkVerifiedChain(ctx, c, v, iss.Checkpoint.Seq, func(rec audit.Record) error {
		// Citations past the pack's checkpoint are left for the end: the checkpoint does not
		// cover them.
		for more && next.Seq <= rec.Seq && next.Seq <= cp.Seq {
			switch {
			case next.Seq < rec.Seq:
				return withCode(ExitFindings, fmt.Errorf("the pack cites audit record %d (%s), which the chain does not hold", next.Seq, next.What))
			case next.Hash != rec.Hash:
				return withCode(ExitFindings, fmt.Errorf("the pack cites audit record %d (%s) with hash %s, the verified chain has %s", next.Seq, next.What, next.Hash, rec.Hash))
			}
			res.cited++
			var err error
			if next, more, err = cites.Next(); err != nil {
				return withCode(ExitFindings, err)
			}
		}
		if rec.Seq == iss.RecordSeq {
			issue = &rec
		}
		if rec.Action == actionEvidenceIssued && rec.Seq < iss.RecordSeq && issue == nil && otherPackOn(rec, m) {
			return withCode(ExitFindings, fmt.Errorf("%w: audit record %d (by credential %s) recorded another manifest digest on this pack's checkpoint %d before record %d did: "+
				"a checkpoint seals one pack, the first recorded; this one was made again or rewritten on it", evidencepack.ErrTampered, rec.Seq, rec.Actor, cp.Seq, iss.RecordSeq))
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	if !res.chain.Verified {
		return res, withCode(ExitFindings, fmt.Errorf("the audit chain of the service does not verify up to the pack's checkpoints: %s", res.chain.Problem))
	}
	if more {
		if next.Seq > cp.Seq {
			return res, withCode(ExitFindings, fmt.Errorf("the pack cites audit record %d (%s), after its checkpoint %d: the checkpoint does not cover it", next.Seq, next.What, cp.Seq))
		}
		return res, withCode(ExitFindings, fmt.Errorf("the pack cites audit record %d (%s), which the chain does not hold", next.Seq, next.What))
	}
	if err := iss.Covers(m); err != nil {
		return res, withCode(ExitFindings, err)
	}
	if issue == nil { // the chain verified up to the issuance's checkpoint, at or after the record
		return res, withCode(ExitFindings, fmt.Errorf("%w: the chain does not hold audit record %d, the record of the pack's issue", evidencepack.ErrTampered, iss.RecordSeq))
	}
	if err := checkIssueRecord(*issue, m, iss); err != nil {
		return res, withCode(ExitFindings, err)
	}
	res.issuedBy, res.issuedAt = issue.Actor, issue.Time
	return res, nil
}

// otherPackOn reports whether rec, an evidence.issued record, recorded another pack than
// m's (another manifest digest) resting on m's checkpoint. A checkpoint seals one pack, the
// first recorded on it; the same digest recorded twice (a retried request) is one pack.
func otherPackOn(rec audit.Record, m evidencepack.Manifest) bool {
	return rec.Details["checkpoint_seq"] == strconv.FormatInt(m.Checkpoint.Seq, 10) && rec.Details["checkpoint_hash"] == m.Checkpoint.Hash &&
		rec.Details["manifest_digest"] != m.Digest
}

// checkIssueRecord checks that rec, the verified audit record iss names, is the record of
// the issue of the pack with manifest m.
func checkIssueRecord(rec audit.Record, m evidencepack.Manifest, iss evidencepack.Issuance) error {
	switch {
	case rec.Hash != iss.RecordHash:
		return fmt.Errorf("%w: %s names audit record %d with hash %s, the verified chain has %s", evidencepack.ErrTampered, evidencepack.IssuanceName, rec.Seq, iss.RecordHash, rec.Hash)
	case rec.Action != actionEvidenceIssued:
		return fmt.Errorf("%w: audit record %d, which %s names, is a %s record, not the record of an issued pack (%s)", evidencepack.ErrTampered, rec.Seq, evidencepack.IssuanceName, rec.Action, actionEvidenceIssued)
	case rec.Details["manifest_digest"] != m.Digest:
		return fmt.Errorf("%w: the manifest's digest is %s, but audit record %d recorded %s when the pack was issued (the pack was rewritten since)",
			evidencepack.ErrTampered, m.Digest, rec.Seq, rec.Details["manifest_digest"])
	case rec.Details["checkpoint_seq"] != strconv.FormatInt(m.Checkpoint.Seq, 10) || rec.Details["checkpoint_hash"] != m.Checkpoint.Hash:
		return fmt.Errorf("%w: audit record %d recorded a pack resting on checkpoint %s (hash %s), this pack rests on %d (hash %s)",
			evidencepack.ErrTampered, rec.Seq, rec.Details["checkpoint_seq"], rec.Details["checkpoint_hash"], m.Checkpoint.Seq, m.Checkpoint.Hash)
	}
	return nil
}
