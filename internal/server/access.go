package server

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// Access requests (Cal. Civ. Code 1798.110 and 1798.115).
//
// POST /v1/access-requests answers, for one data subject, every token ever bound to it
// (found through the subject's blind index, revoked and expired tokens included): purpose,
// owner, data categories, audiences, scopes, its life from the audit log (created, updated,
// rotated, renewed with reason and reviewer, revoked) and its verifications per UTC day. It
// never answers a secret or a fingerprint, and of the other subjects a token is bound to only
// their number. After a completed deletion request for the subject it answers the erasure
// and nothing else.
//
// The answer is read from one read-only snapshot; the request is then audited (who asked,
// when, the subject's blind index, never the subject) before the answer is sent. The reads
// walk the audit log once per 1000 tokens (it has no token_id index: appends stay cheap).
//
// A reader credential (or an admin one) without an owner restriction may ask: the answer is
// about every owner.

// actionAccessRequest is the audit action of an access request.
const actionAccessRequest = "access.request"

// renewalReviewerSealed is the renewal audit detail holding the reviewer, sealed under the
// key file: reviewers are people, so the chain holds them encrypted (and a keyed index for
// lookups), and an access answer or evidence pack opens them.
const renewalReviewerSealed = "reviewer_sealed"

// accessHistoryPage is the page size of the history walk of an access request.
const accessHistoryPage = 1000

func (s *Server) createAccessRequest(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx := r.Context()
	_, req, err := decodeBody[wire.AccessRequest](s, w, r, false)
	if err != nil {
		return err
	}
	subjects, err := checkSet("subject", []string{req.Subject})
	if err != nil {
		return err
	}
	subject := subjects[0]
	// The answer's usage counts include every verification this instance answered so far.
	if err := s.flushForRead(ctx); err != nil {
		return err
	}
	idx := s.subjectIndex(subject)
	now := s.clock()
	out := wire.AccessAnswer{Subject: subject, AnsweredAt: now, Tokens: []wire.AccessToken{}}
	err = s.store.View(ctx, func(rd store.Reader) error {
		erased, err := erasureOf(ctx, rd, idx)
		if err != nil || erased != nil {
			out.Erased = erased
			return err
		}
		out.Tokens, err = s.accessTokens(ctx, rd, idx, now)
		return err
	})
	if err != nil {
		return err
	}
	details := map[string]string{"subject_index": idx, "tokens": strconv.Itoa(len(out.Tokens))}
	if out.Erased != nil {
		details["erased_by"] = out.Erased.DeletionRequestID
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		rec, err := tx.AppendAudit(ctx, audit.Event{Time: now, Actor: c.id, Action: actionAccessRequest, Outcome: "ok", Details: details})
		out.AuditSeq = rec.Seq
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// erasureOf returns the first completed deletion request of the subject with blind index
// idx as an erasure notice, or nil when there is none.
func erasureOf(ctx context.Context, rd store.Reader, idx string) (*wire.AccessErasure, error) {
	reqs, err := rd.ListSubjectDeletionRequests(ctx, idx)
	if err != nil {
		return nil, err
	}
	for _, d := range reqs {
		if d.CompletedAt != nil {
			return &wire.AccessErasure{ErasedAt: d.CompletedAt.UTC(), DeletionRequestID: d.ID}, nil
		}
	}
	return nil, nil
}

// accessTokens reads every token bound to the subject with blind index idx, with its
// history and usage.
func (s *Server) accessTokens(ctx context.Context, rd store.Reader, idx string, now time.Time) ([]wire.AccessToken, error) {
	var tokens []store.Token
	for after := ""; ; {
		page, err := rd.ListTokens(ctx, store.TokenFilter{SubjectIndex: idx, Limit: accessHistoryPage, AfterID: after})
		if err != nil {
			return nil, err
		}
		tokens = append(tokens, page...)
		if len(page) < accessHistoryPage {
			break
		}
		after = page[len(page)-1].ID
	}
	out := make([]wire.AccessToken, 0, len(tokens))
	byID := map[string]int{}
	for _, t := range tokens {
		owner, err := s.keys.Open(t.OwnerCipher)
		if err != nil {
			return nil, fmt.Errorf("token %s: owner: %w", t.ID, err)
		}
		byID[t.ID] = len(out)
		out = append(out, wire.AccessToken{
			ID: t.ID, Name: t.Name, Purpose: t.Purpose, Owner: string(owner), Status: statusAt(t, now),
			DataCategories: nonNil(t.DataCategories), Audiences: nonNil(t.Audiences), Scopes: nonNil(t.Scopes),
			OtherSubjects: max(len(t.SubjectIndexes)-1, 0),
			CreatedAt:     t.CreatedAt.UTC(), ExpiresAt: t.ExpiresAt.UTC(),
			RotatedAt: utcPtr(t.RotatedAt), RevokedAt: utcPtr(t.RevokedAt), LastUsedAt: utcPtr(t.LastUsedAt),
			History: []wire.AccessEvent{}, Usage: []wire.AccessUsageDay{},
		})
	}
	for chunk := range slices.Chunk(tokens, store.MaxHistoryTokens) {
		ids := make([]string, 0, len(chunk))
		for _, t := range chunk {
			ids = append(ids, t.ID)
		}
		for after := int64(0); ; {
			page, err := rd.ListTokenHistory(ctx, ids, after, accessHistoryPage)
			if err != nil {
				return nil, err
			}
			for _, rec := range page {
				ev, ok := s.accessEvent(rec)
				if i, found := byID[rec.TokenID]; ok && found {
					out[i].History = append(out[i].History, ev)
				}
				after = rec.Seq
			}
			if len(page) < accessHistoryPage {
				break
			}
		}
		counts, err := rd.CountTokenVerifications(ctx, ids)
		if err != nil {
			return nil, err
		}
		for _, v := range counts {
			i, found := byID[v.TokenID]
			if !found {
				continue
			}
			usage := &out[i].Usage
			if n := len(*usage); n == 0 || (*usage)[n-1].Day != v.Day {
				*usage = append(*usage, wire.AccessUsageDay{Day: v.Day})
			}
			day := &(*usage)[len(*usage)-1]
			if v.Outcome == "active" {
				day.Active += v.Count
			} else {
				day.Inactive += v.Count
			}
		}
	}
	return out, nil
}

// accessEvent is the history entry of the audit record rec; false for records that are not
// a successful change of a token.
func (s *Server) accessEvent(rec audit.Record) (wire.AccessEvent, bool) {
	ev := wire.AccessEvent{At: rec.Time.UTC(), AuditSeq: rec.Seq, AuditHash: rec.Hash}
	if rec.Outcome != "ok" {
		return ev, false
	}
	d := rec.Details
	switch rec.Action {
	case audit.ActionCreate:
		ev.Event = wire.AccessCreated
	case audit.ActionUpdate:
		ev.Event = wire.AccessUpdated
		if d["fields"] != "" {
			ev.Changed = strings.Split(d["fields"], ",")
		}
	case audit.ActionRotate:
		ev.Event = wire.AccessRotated
		ev.SecretVersion, _ = strconv.Atoi(d["secret_version"])
	case audit.ActionRenew:
		ev.Event = wire.AccessRenewed
		ev.Reason = d["reason"]
		ev.Reviewer = s.openReviewer(d[renewalReviewerSealed])
		if t, err := time.Parse(time.RFC3339Nano, d["expires_at"]); err == nil {
			t = t.UTC()
			ev.ExpiresAt = &t
		}
	case audit.ActionRevoke:
		ev.Event = wire.AccessRevoked
		ev.Reason = d["reason"]
	default:
		return ev, false
	}
	return ev, true
}

// sealReviewer is the reviewer of a renewal sealed for its audit record.
func (s *Server) sealReviewer(reviewer string) (string, error) {
	sealed, err := s.keys.Seal([]byte(reviewer))
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sealed), nil
}

// openReviewer opens a sealed reviewer; "" when there is none or it cannot be opened (a
// retired key): the renewal is still listed, with its reason.
func (s *Server) openReviewer(sealed string) string {
	if sealed == "" {
		return ""
	}
	b, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		return ""
	}
	plain, err := s.keys.Open(b)
	if err != nil {
		return ""
	}
	return string(plain)
}
