package server

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// Page sizes of the list endpoints.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// pageCursorPrefix marks page tokens of GET /v1/tokens; the token is opaque to callers.
const pageCursorPrefix = "after:"

func parseLimit(q string) (int, error) {
	if q == "" {
		return defaultPageSize, nil
	}
	n, err := strconv.Atoi(q)
	if err != nil || n < 1 || n > maxPageSize {
		return 0, invalid("limit", "limit must be a whole number from 1 to %d", maxPageSize)
	}
	return n, nil
}

// listTokens answers GET /v1/tokens with the filters owner, status, data_category, subject,
// unused_for, limit and page_token.
//
// A caller restricted to one owner lists that owner's tokens only: without an owner filter
// its own owner is the filter, and with another owner's the page is empty, as if that owner
// held no token.
func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := s.flushForRead(r.Context()); err != nil {
		return err
	}
	q := r.URL.Query()
	for name := range q {
		switch name {
		case "owner", "status", "data_category", "subject", "unused_for", "limit", "page_token":
		default:
			return invalid(name, "unknown query parameter %q: filters are owner, status, data_category, subject, unused_for, limit, page_token", name)
		}
	}
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	now := s.clock()
	f := store.TokenFilter{Limit: limit}
	if v := strings.TrimSpace(q.Get("owner")); v != "" {
		f.OwnerIndex = s.ownerIndex(v)
	}
	restrictedElsewhere := false
	if c.ownerIndex != "" {
		restrictedElsewhere = f.OwnerIndex != "" && f.OwnerIndex != c.ownerIndex
		f.OwnerIndex = c.ownerIndex
	}
	wantStatus := q.Get("status")
	switch wantStatus {
	case "":
	case statusActive, statusExpired:
		f.Status = store.StatusActive // expired is computed below
	case statusRevoked:
		f.Status = store.StatusRevoked
	default:
		return invalid("status", "status %q is not one of active, expired, revoked", wantStatus)
	}
	if v := q.Get("data_category"); v != "" {
		if !token.IsCategory(v) {
			return invalid("data_category", "%q is not a CPRA data category", v)
		}
		f.DataCategory = v
	}
	if v := strings.TrimSpace(q.Get("subject")); v != "" {
		f.SubjectIndex = s.subjectIndex(v)
	}
	if v := q.Get("unused_for"); v != "" {
		d, err := token.ParseDuration(v)
		if err != nil {
			return invalid("unused_for", "unused_for: %v", err)
		}
		since := now.Add(-d)
		f.UnusedSince = &since
		// "Unused" is a question about tokens that still grant access: without an explicit
		// status, revoked and expired tokens are not listed (they are unused by definition).
		if wantStatus == "" {
			wantStatus, f.Status = statusActive, store.StatusActive
		}
	}
	if v := q.Get("page_token"); v != "" {
		raw, err := base64.RawURLEncoding.DecodeString(v)
		after, ok := strings.CutPrefix(string(raw), pageCursorPrefix)
		if err != nil || !ok || after == "" {
			return invalid("page_token", "page_token is not one this service issued: pass next_page_token from the previous page")
		}
		f.AfterID = after
	}

	out := wire.TokenList{Tokens: []wire.Token{}}
	if restrictedElsewhere {
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	more := false
	err = s.store.View(r.Context(), func(rd store.Reader) error {
		// "active" and "expired" share a stored status, so a page may need several reads.
		for {
			batch, err := rd.ListTokens(r.Context(), f)
			if err != nil {
				return err
			}
			for i, t := range batch {
				f.AfterID = t.ID
				if wantStatus != "" && statusAt(t, now) != wantStatus {
					continue
				}
				wt, err := s.wire(t, now)
				if err != nil {
					return err
				}
				out.Tokens = append(out.Tokens, wt)
				if len(out.Tokens) == limit {
					more = i < len(batch)-1 || len(batch) == f.Limit
					return nil
				}
			}
			if len(batch) < f.Limit {
				return nil
			}
		}
	})
	if err != nil {
		return err
	}
	if more {
		last := out.Tokens[len(out.Tokens)-1].ID
		out.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(pageCursorPrefix + last))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// listAudit answers GET /v1/audit?after=SEQ&limit=N with records in sequence order.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, _ *caller) error {
	if err := s.flushForRead(r.Context()); err != nil {
		return err
	}
	q := r.URL.Query()
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	var after int64
	if v := q.Get("after"); v != "" {
		if after, err = strconv.ParseInt(v, 10, 64); err != nil || after < 0 {
			return invalid("after", "after must be a record sequence number (0 or more)")
		}
	}
	var recs []audit.Record
	err = s.store.View(r.Context(), func(rd store.Reader) error {
		var err error
		recs, err = rd.ListAudit(r.Context(), after, limit)
		return err
	})
	if err != nil {
		return err
	}
	page := wire.AuditPage{Records: make([]wire.AuditRecord, 0, len(recs))}
	for _, rec := range recs {
		page.Records = append(page.Records, wire.AuditRecord{
			Seq: rec.Seq, PrevHash: rec.PrevHash, Hash: rec.Hash, Time: rec.Time, Actor: rec.Actor,
			Action: rec.Action, TokenID: rec.TokenID, Fingerprint: rec.Fingerprint, Outcome: rec.Outcome,
			Details: rec.Details, KeyID: rec.KeyID,
		})
	}
	if len(recs) == limit {
		page.NextPageToken = strconv.FormatInt(recs[len(recs)-1].Seq, 10)
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}
