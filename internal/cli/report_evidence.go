package cli

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/evidence"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/evidencepack"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/keyring"
)

// actionDeletionRequest is the audit action of a deletion request (the service's).
const actionDeletionRequest = "deletion.request"

func newReportEvidenceCommand(s *streams, cf *clientFlags, now func() time.Time) *cobra.Command {
	var output, keyFile string
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
offline and links every part.

The audit chain is read and verified through the API up to the checkpoint; its records are
HMACs under the audit key, so the key file is needed to verify them and the checkpoint's
signature (--key-file). The pack is written even when the chain does not verify, and says
so; the exit code is then 1. Publish the service's public checkpoint key (tokenguard audit
checkpoint --public-key) so auditors can check the signature with a key they did not take
from the pack.

--output names a new directory (or an empty one) or a FILE.zip that does not exist yet.
The pack names token owners and renewal reviewers: its files are written 0600.

Check a pack with: tokenguard report verify PACK`,
		Example: `  tokenguard report evidence --output evidence-2030-q1.zip
  tokenguard report verify evidence-2030-q1.zip`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output == "" {
				return withCode(ExitUsage, errors.New("give --output DIR or --output FILE.zip: where to write the evidence pack"))
			}
			if _, err := os.Stat(output); err == nil && evidencepack.IsZip(output) {
				return withCode(ExitUsage, fmt.Errorf("--output %s exists: name a new file", output))
			}
			keys, err := reportKeys(cmd, &keyFile)
			if err != nil {
				return err
			}
			c, err := cf.newClient(cmd)
			if err != nil {
				return err
			}
			in, err := readEvidence(cmd.Context(), c, keys, now)
			if err != nil {
				return err
			}
			in.Endpoint = cf.endpoint
			pack, err := evidencepack.Build(in)
			if err != nil {
				return withCode(ExitFindings, err)
			}
			if err := evidencepack.Write(pack, output, in.GeneratedAt); err != nil {
				return withCode(ExitUsage, fmt.Errorf("--output: %w", err))
			}
			// A note on stderr about a pack already written: if stderr fails there is nowhere to say so.
			_, _ = fmt.Fprintf(s.err, "wrote the evidence pack (%d parts, %d tokens, %d deletion requests, %d renewals, signed audit checkpoint of record %d, key set %s, public key %s) to %s\n",
				len(pack), len(in.Inventory), len(in.Deletions), len(in.Renewals), in.Checkpoint.Seq, in.Checkpoint.KeyID, in.Checkpoint.EncodedPublicKey(), output)
			if !in.Checkpoint.ChainVerified {
				return withCode(ExitFindings, fmt.Errorf("the audit chain does not verify: %s", in.Checkpoint.Problem))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "the pack to write: a new directory, or a FILE.zip")
	cmd.Flags().StringVar(&keyFile, "key-file", "", "key file of the service, to verify the audit chain's HMACs (env TOKENGUARD_KEY_FILE)")
	return cmd
}

// readEvidence reads every part of a pack from the service at c. The audit chain is read
// last, so the checkpoint covers every record the other parts cite.
func readEvidence(ctx context.Context, c *client.Client, keys *keyring.Keyring, now func() time.Time) (evidencepack.Input, error) {
	in := evidencepack.Input{GeneratedAt: now().UTC()}
	v := &audit.Verifier{}
	if keys != nil {
		v = audit.NewVerifier(keys)
	}
	var err error
	if in.Policy, err = c.Policy(ctx); err != nil {
		return in, apiFailure(err)
	}
	tokens, err := listAllTokens(ctx, c, client.ListTokensOptions{Limit: 1000})
	if err != nil {
		return in, err
	}
	for _, t := range tokens {
		in.Inventory = append(in.Inventory, evidencepack.InventoryOf(t))
	}
	for token := ""; ; {
		page, err := c.ListDeletionEvidence(ctx, token, 1000)
		if err != nil {
			return in, apiFailure(err)
		}
		in.Deletions = append(in.Deletions, page.DeletionRequests...)
		if page.NextPageToken == "" {
			break
		}
		token = page.NextPageToken
	}
	for after := int64(0); ; {
		page, err := c.ListRenewals(ctx, after)
		if err != nil {
			return in, apiFailure(err)
		}
		in.Renewals = append(in.Renewals, page.Renewals...)
		if page.NextAfter == 0 || page.NextAfter <= after {
			break
		}
		after = page.NextAfter
	}
	for _, r := range in.Renewals {
		in.Citations = append(in.Citations, evidencepack.Citation{Seq: r.AuditSeq, Hash: r.AuditHash, What: "renewal of " + r.TokenID})
	}

	// The checkpoint is signed after every other part was read, so it covers every record
	// they cite; the chain is then read and verified up to it.
	signed, err := c.AuditCheckpoint(ctx)
	if err != nil {
		return in, apiFailure(err)
	}
	in.Checkpoint = evidencepack.Checkpoint{Kind: evidencepack.CheckpointSigned, Checkpoint: signed}
	if keys != nil {
		pub, ok := keys.CheckpointKey(signed.KeyID)
		if !ok {
			return in, withCode(ExitFindings, fmt.Errorf("the service signed its audit checkpoint with key set %q, which the key file does not hold: give the service's own key file", signed.KeyID))
		}
		in.Checkpoint.PublicKey = pub
		if err := signed.Verify(keys); err != nil {
			return in, withCode(ExitFindings, err)
		}
		if err := v.Expect([]audit.Checkpoint{signed}, keys); err != nil {
			return in, withCode(ExitFindings, err)
		}
	}

	var rotations []audit.Record
	deletionRecords := map[string]audit.Record{}
	chain, err := walkVerifiedChain(ctx, c, v, signed.Seq, func(rec audit.Record) {
		switch rec.Action {
		case audit.ActionRotate:
			rotations = append(rotations, rec)
		case actionDeletionRequest:
			deletionRecords[rec.Details["deletion_request"]] = rec
		}
	})
	if err != nil {
		return in, err
	}
	in.Checkpoint.ChainVerified, in.Checkpoint.Records, in.Checkpoint.Problem = chain.Verified, chain.Records, chain.Problem
	for _, r := range rotations {
		if r.Outcome == "ok" {
			in.Citations = append(in.Citations, evidencepack.Citation{Seq: r.Seq, Hash: r.Hash, What: "rotation of " + r.TokenID})
		}
	}
	for _, d := range in.Deletions {
		if rec, ok := deletionRecords[d.ID]; ok {
			in.Citations = append(in.Citations, evidencepack.Citation{Seq: rec.Seq, Hash: rec.Hash, What: "deletion request " + d.ID})
		}
	}
	if signed.Seq > 0 {
		in.Citations = append(in.Citations, evidencepack.Citation{Seq: signed.Seq, Hash: signed.Hash, What: "audit checkpoint"})
	}
	in.Rotation, err = evidence.Build(evidence.Input{Tokens: tokens, Records: rotations, Chain: chain, Now: func() time.Time { return in.GeneratedAt }})
	if err != nil {
		return in, withCode(ExitFindings, err)
	}
	return in, nil
}

// errWalkDone stops walkVerifiedChain at the record it was asked to stop at.
var errWalkDone = errors.New("walked up to the checkpoint")

// walkVerifiedChain reads the audit chain of the service at c in sequence order, verifying
// each record with v as tokenguard audit verify does, and hands every record to fn: the whole
// chain when upTo is negative, else the records up to upTo, the sequence number of a
// checkpoint v expects (a chain that ends before it fails v.Finish). It returns the
// verification result; a broken chain is reported there, not as an error, and reading goes
// on. This is the one place the evidence pack and its verification read the chain.
func walkVerifiedChain(ctx context.Context, c *client.Client, v *audit.Verifier, upTo int64, fn func(audit.Record)) (evidence.Chain, error) {
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
			fn(rec)
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
	var manifestOnly bool
	var keyFile, checkpointKey string
	cmd := &cobra.Command{
		Use:   "verify PACK",
		Short: "Check an evidence pack: its manifest, its signed audit checkpoint, and every audit record it cites against the verified chain",
		Long: `Check an evidence pack written by tokenguard report evidence (a directory or a .zip):

  1. manifest.json is intact (its own digest) and every part it lists is present with the
     SHA-256 and size it lists; no part is missing and none was added;
  2. the signature of the pack's audit checkpoint verifies: with --checkpoint-key (the
     service's public checkpoint key, as tokenguard audit checkpoint --public-key prints
     it) it proves the holder of that key signed it; with --key-file, that the service
     holding that key file did; with neither, only that the checkpoint was not changed after
     the holder of the key embedded in the pack signed it (the output says so);
  3. the audit chain of the service at --endpoint verifies from the first record up to the
     checkpoint, the checkpoint's record has the signed hash, and every audit record the pack
     cites (each rotation, renewal and deletion request) is in that chain, at or before the
     checkpoint, with the hash the pack records. The chain's records are HMACs under the
     audit key: this step needs the key file (--key-file).

--manifest-only does steps 1 and 2 alone, without the service (say so to whoever relies on it).

Exit 0 when the pack verifies, 1 naming the first problem, 2 on a usage error.`,
		Example: `  tokenguard report verify --checkpoint-key "$(cat checkpoint-key.pub)" evidence-2030-q1.zip`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var given ed25519.PublicKey
			if checkpointKey != "" {
				var err error
				if given, err = evidencepack.ParsePublicKey(checkpointKey); err != nil {
					return withCode(ExitUsage, fmt.Errorf("--checkpoint-key: %w", err))
				}
			}
			keys, err := reportKeys(cmd, &keyFile)
			if err != nil {
				return err
			}
			pack, err := evidencepack.Read(args[0])
			if err != nil {
				return withCode(ExitUsage, fmt.Errorf("reading the pack: %w", err))
			}
			m, cites, err := evidencepack.Check(pack)
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
			if manifestOnly {
				_, err := fmt.Fprintf(s.out, "evidence pack manifest verified: %d parts match manifest.json\n%s\nthe audit chain and the records the pack cites were NOT checked (--manifest-only)\n", len(m.Files), proof)
				return err
			}
			c, err := cf.newClient(cmd)
			if err != nil {
				return err
			}
			cp := m.Checkpoint
			v := &audit.Verifier{}
			if keys != nil {
				v = audit.NewVerifier(keys)
			}
			if err := v.Expect([]audit.Checkpoint{cp.Checkpoint}, cp.CheckpointKeys()); err != nil {
				return withCode(ExitFindings, err)
			}
			cited := map[int64]string{}
			for _, ct := range cites {
				if ct.Seq > cp.Seq {
					return withCode(ExitFindings, fmt.Errorf("the pack cites audit record %d (%s), after its checkpoint %d: the checkpoint does not cover it", ct.Seq, ct.What, cp.Seq))
				}
				cited[ct.Seq] = ct.Hash
			}
			found := map[int64]string{}
			chain, err := walkVerifiedChain(cmd.Context(), c, v, cp.Seq, func(rec audit.Record) {
				if _, ok := cited[rec.Seq]; ok {
					found[rec.Seq] = rec.Hash
				}
			})
			if err != nil {
				return err
			}
			if !chain.Verified {
				return withCode(ExitFindings, fmt.Errorf("the audit chain of the service does not verify up to the pack's checkpoint: %s", chain.Problem))
			}
			for _, ct := range cites {
				got, ok := found[ct.Seq]
				switch {
				case !ok:
					return withCode(ExitFindings, fmt.Errorf("the pack cites audit record %d (%s), which the chain does not hold", ct.Seq, ct.What))
				case got != ct.Hash:
					return withCode(ExitFindings, fmt.Errorf("the pack cites audit record %d (%s) with hash %s, the verified chain has %s", ct.Seq, ct.What, ct.Hash, got))
				}
			}
			_, err = fmt.Fprintf(s.out, "evidence pack verified: %d parts match manifest.json; %d cited audit records are in the verified chain of %d records up to the signed checkpoint %d\n%s\n",
				len(m.Files), len(cites), chain.Records, cp.Seq, proof)
			return err
		},
	}
	cmd.Flags().BoolVar(&manifestOnly, "manifest-only", false, "check the manifest and the checkpoint's signature only, without the service")
	cmd.Flags().StringVar(&keyFile, "key-file", "", "key file of the service, to verify the audit chain's HMACs and the checkpoint's signature (env TOKENGUARD_KEY_FILE)")
	cmd.Flags().StringVar(&checkpointKey, "checkpoint-key", "", "the service's public checkpoint key (base64, as tokenguard audit checkpoint --public-key prints it) the checkpoint must be signed with")
	return cmd
}
