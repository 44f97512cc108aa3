package server

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// Reads the auditor's evidence pack (tokenguard report evidence) needs beyond the token
// listing and the audit log: every deletion request's evidence within retention, the
// renewals with their reasons and reviewers (opened from the audit records), and the policy
// gate in force (bundle digest, rules, thresholds, waivers). A reader credential (or an admin
// one) reads them; the routes' roles are in server.go.

// renewalScanRecords bounds how many audit records one GET /v1/renewals reads, so a page
// answers in bounded time on a log of millions of records; the caller goes on from
// next_after.
const renewalScanRecords = 50_000

// deletionPageCursorPrefix marks page tokens of GET /v1/deletion-requests.
const deletionPageCursorPrefix = "after-deletion:"

// listDeletionEvidence answers GET /v1/deletion-requests?limit=N&page_token=T with the evidence
// records (never the subject), in id order.
func (s *Server) listDeletionEvidence(w http.ResponseWriter, r *http.Request, _ *caller) error {
	q := r.URL.Query()
	for name := range q {
		if name != "limit" && name != "page_token" {
			return invalid(name, "unknown query parameter %q: use limit and page_token", name)
		}
	}
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	after := ""
	if v := q.Get("page_token"); v != "" {
		raw, err := base64.RawURLEncoding.DecodeString(v)
		id, ok := strings.CutPrefix(string(raw), deletionPageCursorPrefix)
		if err != nil || !ok || id == "" {
			return invalid("page_token", "page_token is not one this service issued: pass next_page_token from the previous page")
		}
		after = id
	}
	var page []store.DeletionRequest
	err = s.store.View(r.Context(), func(rd store.Reader) error {
		var err error
		page, err = rd.ListDeletionRequests(r.Context(), after, limit)
		return err
	})
	if err != nil {
		return err
	}
	out := wire.DeletionEvidenceList{DeletionRequests: make([]wire.DeletionEvidence, 0, len(page))}
	for _, d := range page {
		out.DeletionRequests = append(out.DeletionRequests, deletionEvidence(d))
	}
	if len(page) == limit {
		out.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(deletionPageCursorPrefix + page[len(page)-1].ID))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// deletionEvidence is the API form of a stored deletion request, without the subject.
func deletionEvidence(d store.DeletionRequest) wire.DeletionEvidence {
	out := wire.DeletionEvidence{
		ID: d.ID, Status: "pending", RequestedBy: d.RequestedBy, RequestedAt: d.RequestedAt.UTC(),
		CompletedAt: utcPtr(d.CompletedAt), RetainUntil: d.RetainUntil.UTC(), Categories: nonNil(d.Categories),
		Reference: d.Reference, RevokedTokenIDs: nonNil(d.RevokedTokenIDs), NotifiedTokenIDs: nonNil(d.NotifiedTokenIDs),
		RevokedCount: len(d.RevokedTokenIDs), NotifiedCount: len(d.NotifiedTokenIDs),
	}
	if d.CompletedAt != nil {
		out.Status = wire.DeletionComplete
	}
	return out
}

// listRenewals answers GET /v1/renewals?after=SEQ: the successful renewals recorded after
// the audit record SEQ, with the reviewer opened, reading at most renewalScanRecords records.
func (s *Server) listRenewals(w http.ResponseWriter, r *http.Request, _ *caller) error {
	ctx := r.Context()
	q := r.URL.Query()
	for name := range q {
		if name != "after" {
			return invalid(name, "unknown query parameter %q: use after", name)
		}
	}
	var after int64
	if v := q.Get("after"); v != "" {
		var err error
		if after, err = strconv.ParseInt(v, 10, 64); err != nil || after < 0 {
			return invalid("after", "after must be an audit record sequence number (0 or more)")
		}
	}
	out := wire.RenewalPage{Renewals: []wire.Renewal{}}
	err := s.store.View(ctx, func(rd store.Reader) error {
		for scanned := 0; scanned < renewalScanRecords; {
			page, err := rd.ListAudit(ctx, after, auditScanPage)
			if err != nil {
				return err
			}
			for _, rec := range page {
				after = rec.Seq
				if rec.Action == audit.ActionRenew && rec.Outcome == "ok" {
					out.Renewals = append(out.Renewals, s.renewal(rec))
				}
			}
			scanned += len(page)
			if len(page) < auditScanPage {
				return nil
			}
		}
		out.NextAfter = after
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// auditScanPage is the page size of the audit reads of GET /v1/renewals.
const auditScanPage = 1000

func (s *Server) renewal(rec audit.Record) wire.Renewal {
	d := rec.Details
	out := wire.Renewal{TokenID: rec.TokenID, At: rec.Time.UTC(), Actor: rec.Actor, Reason: d["reason"],
		Reviewer: s.openReviewer(d[renewalReviewerSealed]), TTL: d["ttl"], AuditSeq: rec.Seq, AuditHash: rec.Hash}
	if t, err := time.Parse(time.RFC3339Nano, d["expires_at"]); err == nil {
		t = t.UTC()
		out.ExpiresAt = &t
	}
	if t, err := time.Parse(time.RFC3339Nano, d["previous_expires_at"]); err == nil {
		t = t.UTC()
		out.PreviousExpiresAt = &t
	}
	return out
}

// policyInForce answers GET /v1/policy: the enforcement mode, the bundle's digest, source
// files and thresholds, the rules of the service gate and its waivers.
func (s *Server) policyInForce(w http.ResponseWriter, _ *http.Request, _ *caller) error {
	out := wire.PolicyInForce{Enforcement: PolicyOff, Rules: []wire.PolicyRule{}, Waivers: []wire.WaiverInForce{}}
	if g := s.gate; g != nil {
		out.Enforcement = g.mode
		p := g.policy()
		b := p.engine.Bundle()
		pb := &wire.PolicyBundle{Digest: b.Digest, Thresholds: b.Thresholds, Files: []wire.PolicyBundleFile{}}
		for _, f := range b.Files {
			pb.Files = append(pb.Files, wire.PolicyBundleFile{Path: f.Path, SHA256: f.SHA256})
		}
		out.Bundle = pb
		for _, r := range p.engine.Rules() {
			if slices.Contains(r.Gates, policy.GateService) {
				out.Rules = append(out.Rules, wire.PolicyRule{ID: r.ID, Title: r.Title, Severity: r.Severity, Citation: r.Citation})
			}
		}
		now := s.clock()
		for _, wv := range p.waivers {
			out.Waivers = append(out.Waivers, wire.WaiverInForce{Rule: wv.Rule, Address: wv.Address, Reason: wv.Reason,
				ApprovedBy: wv.ApprovedBy, Expires: wv.Expires.Format(time.DateOnly), Expired: wv.Expired(now)})
		}
		out.WaiversFile = p.waiversFile
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
