package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/evidence"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/evidencepack"
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
thresholds and waivers in force, and the audit checkpoint (the sequence number and hash of
the last record of the verified chain) everything rests on. manifest.json lists every part
with its SHA-256; index.html opens offline and links every part.

The whole audit chain is read and verified through the API (admin credential needed: the
service has no reader role yet); its records are HMACs under the audit key, so the key file
is needed to verify them (--key-file). The pack is written even when the chain does not
verify, and says so; the exit code is then 1.

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
			v, err := reportVerifier(cmd, &keyFile)
			if err != nil {
				return err
			}
			c, err := cf.newClient(cmd)
			if err != nil {
				return err
			}
			in, err := readEvidence(cmd.Context(), c, v, now)
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
			_, _ = fmt.Fprintf(s.err, "wrote the evidence pack (%d parts, %d tokens, %d deletion requests, %d renewals, audit checkpoint %d) to %s\n",
				len(pack), len(in.Inventory), len(in.Deletions), len(in.Renewals), in.Checkpoint.Seq, output)
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
func readEvidence(ctx context.Context, c *client.Client, v *audit.Verifier, now func() time.Time) (evidencepack.Input, error) {
	in := evidencepack.Input{GeneratedAt: now().UTC()}
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

	var rotations []audit.Record
	deletionRecords := map[string]audit.Record{}
	head, chain, err := walkVerifiedChain(ctx, c, v, func(rec audit.Record) {
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
	in.Checkpoint = auditCheckpoint(head, chain)
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
	if head.Seq > 0 {
		in.Citations = append(in.Citations, evidencepack.Citation{Seq: head.Seq, Hash: head.Hash, What: "audit checkpoint"})
	}
	in.Rotation, err = evidence.Build(evidence.Input{Tokens: tokens, Records: rotations, Chain: chain, Now: func() time.Time { return in.GeneratedAt }})
	if err != nil {
		return in, withCode(ExitFindings, err)
	}
	return in, nil
}

// walkVerifiedChain reads the whole audit chain of the service at c in sequence order,
// verifying each record with v as tokenguard audit verify does, and hands every record to fn. It
// returns the last record and the verification result; a broken chain is reported there,
// not as an error, and reading goes on. This is the one place the evidence pack and its
// verification read the chain: when the service signs checkpoints, they are checked here.
func walkVerifiedChain(ctx context.Context, c *client.Client, v *audit.Verifier, fn func(audit.Record)) (audit.Record, evidence.Chain, error) {
	var broken error
	var head audit.Record
	err := eachAuditRecord(ctx, c, auditPageSize, func(rec audit.Record) error {
		if broken == nil {
			if err := v.Add(rec); err != nil {
				if !errors.Is(err, audit.ErrBroken) && !errors.Is(err, audit.ErrNoKey) {
					return withCode(ExitFindings, err)
				}
				broken = err
			}
		}
		head = rec
		fn(rec)
		return nil
	})
	if err != nil {
		return head, evidence.Chain{}, err
	}
	chain := evidence.Chain{Verified: broken == nil, Records: v.Count()}
	if broken != nil {
		chain.Problem = broken.Error()
	}
	return head, chain, nil
}

// auditCheckpoint is the checkpoint a pack rests on: today the head of the verified chain
// (its sequence number and hash); a signed checkpoint of the service replaces it here.
func auditCheckpoint(head audit.Record, chain evidence.Chain) evidencepack.Checkpoint {
	return evidencepack.Checkpoint{Kind: evidencepack.CheckpointHead, Seq: head.Seq, Hash: head.Hash, Time: head.Time.UTC(),
		ChainVerified: chain.Verified, Records: chain.Records, Problem: chain.Problem}
}

func newReportVerifyCommand(s *streams, cf *clientFlags) *cobra.Command {
	var manifestOnly bool
	var keyFile string
	cmd := &cobra.Command{
		Use:   "verify PACK",
		Short: "Check an evidence pack: every part against its manifest, and every audit record it cites against the verified chain",
		Long: `Check an evidence pack written by tokenguard report evidence (a directory or a .zip):

  1. manifest.json is intact (its own digest) and every part it lists is present with the
     SHA-256 and size it lists; no part is missing and none was added;
  2. the audit chain of the service at --endpoint verifies from the first record, and every
     audit record the pack cites (each rotation, renewal and deletion request, and the
     checkpoint) is in it with the hash the pack records.

--manifest-only does step 1 alone, without the service (say so to whoever relies on it).

Exit 0 when the pack verifies, 1 naming the first problem, 2 on a usage error.`,
		Example: `  tokenguard report verify evidence-2030-q1.zip`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pack, err := evidencepack.Read(args[0])
			if err != nil {
				return withCode(ExitUsage, fmt.Errorf("reading the pack: %w", err))
			}
			m, cites, err := evidencepack.Check(pack)
			if err != nil {
				return withCode(ExitFindings, err)
			}
			if manifestOnly {
				_, err := fmt.Fprintf(s.out, "evidence pack manifest verified: %d parts match manifest.json; the audit records it cites were NOT checked (--manifest-only)\n", len(m.Files))
				return err
			}
			v, err := reportVerifier(cmd, &keyFile)
			if err != nil {
				return err
			}
			c, err := cf.newClient(cmd)
			if err != nil {
				return err
			}
			cited := map[int64]string{}
			for _, ct := range cites {
				cited[ct.Seq] = ct.Hash
			}
			found := map[int64]string{}
			_, chain, err := walkVerifiedChain(cmd.Context(), c, v, func(rec audit.Record) {
				if _, ok := cited[rec.Seq]; ok {
					found[rec.Seq] = rec.Hash
				}
			})
			if err != nil {
				return err
			}
			if !chain.Verified {
				return withCode(ExitFindings, fmt.Errorf("the audit chain of the service does not verify: %s", chain.Problem))
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
			if m.Checkpoint.Seq > 0 && found[m.Checkpoint.Seq] != m.Checkpoint.Hash {
				return withCode(ExitFindings, fmt.Errorf("the pack's audit checkpoint %d %s is not in the verified chain", m.Checkpoint.Seq, m.Checkpoint.Hash))
			}
			_, err = fmt.Fprintf(s.out, "evidence pack verified: %d parts match manifest.json; %d cited audit records are in the verified chain of %d records (checkpoint %d)\n",
				len(m.Files), len(cites), chain.Records, m.Checkpoint.Seq)
			return err
		},
	}
	cmd.Flags().BoolVar(&manifestOnly, "manifest-only", false, "check the parts against the manifest only, without the service")
	cmd.Flags().StringVar(&keyFile, "key-file", "", "key file of the service, to verify the audit chain's HMACs (env TOKENGUARD_KEY_FILE)")
	return cmd
}
