// Rotation and renewal: a new secret with an overlap, a longer life under a review used once.

package server

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

func (s *Server) rotateToken(w http.ResponseWriter, r *http.Request, c *caller) error {
	body, req, err := decodeBody[wire.RotateRequest](s, w, r, true)
	if err != nil {
		return err
	}
	var overlapOverride *time.Duration
	if strings.TrimSpace(req.Overlap) != "" {
		d, err := token.ParseDuration(req.Overlap)
		if err != nil {
			return invalid("overlap", "overlap: %v", err)
		}
		overlapOverride = &d
	}
	rcpt, err := checkRecipient(req.Recipient)
	if err != nil {
		return err
	}
	waivers, err := requestWaivers(req.Waivers)
	if err != nil {
		return err
	}
	ctx := r.Context()
	err = s.mutate(w, r, c, body, func(tx store.Tx, now time.Time) (int, any, error) {
		t, err := loadMutable(r, tx, now, "rotated", false)
		if err != nil {
			return 0, nil, err
		}
		if err := overlapRunning(t, now); err != nil {
			return 0, nil, err
		}
		overlap := t.RotationOverlap
		if overlapOverride != nil {
			overlap = *overlapOverride
		}
		// The policies see the token with this rotation's overlap.
		rotated := t
		rotated.RotationOverlap = overlap
		in, err := s.changeInput(t, rotated, now)
		if err != nil {
			return 0, nil, err
		}
		if req.Recipient != "" {
			in.after["recipient"] = req.Recipient
		}
		in.waivers = waivers
		findings, err := s.gate.admit(ctx, in, now)
		if err != nil {
			return 0, nil, err
		}
		secret, err := token.NewSecret(t.Env, t.ID)
		if err != nil {
			return 0, nil, err
		}
		prevUntil := now.Add(overlap)
		t.PrevSecretHash, t.PrevHashKeyID, t.PrevFingerprint = t.SecretHash, t.HashKeyID, t.Fingerprint
		t.PrevValidUntil = &prevUntil
		t.SecretHash, t.HashKeyID = s.keys.HashSecret(secret)
		t.Fingerprint = s.keys.Fingerprint(secret)
		t.SecretVersion++
		t.RotatedAt = &now
		t.UpdatedAt = now
		details := map[string]string{
			"secret_version":       strconv.Itoa(t.SecretVersion),
			"previous_fingerprint": t.PrevFingerprint,
			"previous_valid_until": prevUntil.Format(time.RFC3339Nano),
		}
		if overlap > 0 {
			details["overlap"] = token.FormatDuration(overlap)
		}
		plain, sealed, err := secretAnswer(secret, rcpt, details)
		if err != nil {
			return 0, nil, err
		}
		if err := saveChange(ctx, tx, t, tokenEvent(c, audit.ActionRotate, t, now, withRequestWaivers(withPolicyFindings(details, findings), waivers))); err != nil {
			return 0, nil, err
		}
		out, err := s.answerToken(t, now, findings)
		if err != nil {
			return 0, nil, err
		}
		out.Secret, out.SealedSecret = plain, sealed
		return http.StatusOK, out, nil
	})
	return s.answerPolicyRefusal(w, r, c, err)
}

// overlapRunning refuses, with 409, a rotation of t while the previous secret of its last
// rotation still works (now before PrevValidUntil). A rotation keeps its word (issue 13): the
// previous secret stays valid until the end its rotation announced, and the service holds
// only one previous secret, so a second rotation would end the first one's early. To cut
// every secret off at once (a leak), revoke the token instead.
func overlapRunning(t store.Token, now time.Time) error {
	if t.PrevSecretHash == nil || t.PrevValidUntil == nil || !now.Before(*t.PrevValidUntil) {
		return nil
	}
	until := t.PrevValidUntil.UTC().Format(time.RFC3339)
	return conflict(wire.CodeRotationOverlapRunning, "", "token %s was rotated at %s and its previous secret stays valid until %s, as that rotation announced; "+
		"rotating again now would end it early: rotate at or after %s, or revoke the token (and create a new one) to stop every secret at once",
		t.ID, rotatedAt(t), until, until)
}

func (s *Server) renewToken(w http.ResponseWriter, r *http.Request, c *caller) error {
	body, req, err := decodeBody[wire.RenewRequest](s, w, r, false)
	if err != nil {
		return err
	}
	ttl, err := s.checkTTL(req.TTL)
	if err != nil {
		return err
	}
	reason, err := requiredText("reason", req.Reason, maxPurposeLength, "say why the token still needs to exist")
	if err != nil {
		return err
	}
	reviewer, err := requiredText("reviewed_by", req.ReviewedBy, maxOwnerLength, "name who reviewed the renewal (someone other than the owner)")
	if err != nil {
		return err
	}
	if err := checkIdentifier("reviewed_by", reviewer); err != nil {
		return err
	}
	waivers, err := requestWaivers(req.Waivers)
	if err != nil {
		return err
	}
	ctx := r.Context()
	err = s.mutate(w, r, c, body, func(tx store.Tx, now time.Time) (int, any, error) {
		t, err := loadMutable(r, tx, now, "renewed", false)
		if err != nil {
			return 0, nil, err
		}
		owner, err := s.keys.Open(t.OwnerCipher)
		if err != nil {
			return 0, nil, fmt.Errorf("token %s: owner: %w", t.ID, err)
		}
		if sameIdentity(string(owner), reviewer) {
			return 0, nil, unprocessable(wire.CodeReviewerIsOwner, "reviewed_by",
				"reviewed_by is the token's owner: a renewal must be reviewed by someone other than the owner")
		}
		reviewIndex := s.keys.BlindIndex("review:" + token.ReviewKey(reason, reviewer))
		if err := s.reviewUnused(ctx, tx, t.ID, reason, reviewer, reviewIndex); err != nil {
			return 0, nil, err
		}
		previous := t.ExpiresAt
		renewed := t
		renewed.ExpiresAt = now.Add(ttl)
		in, err := s.changeInput(t, renewed, now)
		if err != nil {
			return 0, nil, err
		}
		// The renewal carries its ttl (the default when the request gives none) and its review.
		in.after["ttl"] = effectiveTTL(req.TTL, s.defaultTTL)
		in.after["renewal"] = map[string]any{"reason": reason, "reviewed_by": reviewer}
		in.renewal = true
		in.waivers = waivers
		findings, err := s.gate.admit(ctx, in, now)
		if err != nil {
			return 0, nil, err
		}
		t = renewed
		t.UpdatedAt = now
		details := map[string]string{
			"reason":              reason,
			"reviewer_index":      s.keys.BlindIndex("reviewer:" + strings.ToLower(reviewer)),
			"review_index":        reviewIndex,
			"ttl":                 token.FormatDuration(ttl),
			"previous_expires_at": previous.UTC().Format(time.RFC3339Nano),
			"expires_at":          t.ExpiresAt.Format(time.RFC3339Nano),
		}
		if details[renewalReviewerSealed], err = s.sealReviewer(reviewer); err != nil {
			return 0, nil, err
		}
		if err := saveChange(ctx, tx, t, tokenEvent(c, audit.ActionRenew, t, now, withRequestWaivers(withPolicyFindings(details, findings), waivers))); err != nil {
			return 0, nil, err
		}
		out, err := s.answerToken(t, now, findings)
		return http.StatusOK, out, err
	})
	return s.answerPolicyRefusal(w, r, c, err)
}

// reviewUnused refuses, with 409 naming the earlier use (audit seq and time), a renewal of
// token id whose review (reason and reviewer, compared as token.ReviewKey) already approved
// a renewal of it: a review approves one increase of the token's lifetime, not every later
// one (issue 21). Records written before review_index was recorded are matched by their
// reason and reviewer_index. The log has no index on token_id, so this reads the log once;
// renewals are rare next to verifications.
func (s *Server) reviewUnused(ctx context.Context, tx store.Tx, id, reason, reviewer, reviewIndex string) error {
	reviewerIndex := s.keys.BlindIndex("reviewer:" + strings.ToLower(reviewer))
	key := token.ReviewKey(reason, reviewer)
	var after int64
	for {
		recs, err := tx.ListTokenHistory(ctx, []string{id}, after, 1000)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			if rec.Action != audit.ActionRenew || rec.Outcome != "ok" {
				continue
			}
			d := rec.Details
			if d["review_index"] == reviewIndex ||
				(d["review_index"] == "" && d["reviewer_index"] == reviewerIndex && token.ReviewKey(d["reason"], reviewer) == key) {
				return conflict(wire.CodeRenewalReviewUsed, "renewal",
					"this review (the same reason and reviewed_by) already approved a renewal of token %s at %s (audit record seq %d, ttl %s): "+
						"each renewal needs its own review; ask for a new review and give its reason and reviewer",
					id, rec.Time.UTC().Format(time.RFC3339), rec.Seq, d["ttl"])
			}
		}
		if len(recs) < 1000 {
			return nil
		}
		after = recs[len(recs)-1].Seq
	}
}

// rotatedAt is t's last rotation instant as RFC 3339, or "an earlier rotation" when unknown.
func rotatedAt(t store.Token) string {
	if t.RotatedAt == nil {
		return "an earlier rotation"
	}
	return t.RotatedAt.UTC().Format(time.RFC3339)
}
