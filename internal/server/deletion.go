package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// Deletion requests (Cal. Civ. Code 1798.105).
//
// POST /v1/deletion-requests revokes, in one write transaction, every token bound to the
// subject (found through the subject's blind index, never by decrypting tokens), lists every
// other token that is not revoked and whose data categories reach the request's categories
// (their holders must be told to delete), stores the request and its result as an evidence
// record kept for Config.DeletionRetention, records it in the audit log, and purges evidence
// past its retention. The subject is stored only as its blind index and encrypted; it is in
// no audit record, log line, error or evidence answer.
//
// A dry run answers the same shape from a read-only snapshot and writes nothing at all, not
// even an audit record: it changes nothing, and reads are not audited either. Nothing about
// the subject is kept after a dry run.

// DefaultDeletionRetention is how long the evidence of a deletion request is kept: 24 months.
const DefaultDeletionRetention = 730 * token.Day

// Audit actions of deletion requests. Each bound token revoked by a request also gets its own
// token.revoke record with the detail reason=deletion_request:<id>.
const (
	actionDeletionRequest = "deletion.request"
	actionDeletionPurge   = "deletion.purge"
)

// RuleErasedSubject is the policy rule id (and API error code) of a token bound to a subject
// with a deletion request.
const RuleErasedSubject = "CPRA-DEL-001"

// maxReferenceLength bounds the caller reference of a deletion request.
const maxReferenceLength = 200

// deletionScanPage is the page size of the full-table reads a deletion request makes.
const deletionScanPage = 1000

// deletionIDPrefix starts every deletion request id.
const deletionIDPrefix = "del_"

// deletionSpec is a validated deletion request.
type deletionSpec struct {
	subject    string
	categories []string // never empty: every category when the request named none
	dryRun     bool
	reference  string
}

func validateDeletion(req wire.DeletionRequest) (deletionSpec, error) {
	var sp deletionSpec
	subjects, err := checkSet("subject", []string{req.Subject})
	if err != nil {
		return sp, err
	}
	sp.subject = subjects[0]
	if err := checkIdentifier("subject", sp.subject); err != nil {
		return sp, err
	}
	if len(req.Categories) == 0 {
		sp.categories = slices.Concat(token.PersonalCategories, token.SensitiveCategories)
	} else {
		if sp.categories, err = checkSet("categories", req.Categories); err != nil {
			return sp, err
		}
		for _, c := range sp.categories {
			if !token.IsCategory(c) {
				return sp, invalid("categories", "%q is not a CPRA data category; use some of: %s, %s (or none for every category)",
					c, strings.Join(token.PersonalCategories, ", "), strings.Join(token.SensitiveCategories, ", "))
			}
		}
	}
	sp.reference = strings.TrimSpace(req.Reference)
	if len(sp.reference) > maxReferenceLength {
		return sp, invalid("reference", "reference is longer than %d characters", maxReferenceLength)
	}
	if problem := textProblem(sp.reference); problem != "" {
		return sp, invalid("reference", "reference contains %s", problem)
	}
	sp.dryRun = req.DryRun
	return sp, nil
}

func newDeletionID() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating deletion request id: %w", err)
	}
	return deletionIDPrefix + hex.EncodeToString(b), nil
}

// deletionPlan is what a deletion request does: the bound tokens to revoke and the tokens
// whose holders must be told.
type deletionPlan struct {
	bound  []store.Token // every token bound to the subject, revoked ones included
	revoke []store.Token
	notify []store.Token
}

// planDeletion reads, through rd, the tokens bound to the subject with blind index subjIdx
// that are not revoked yet, and every other token not revoked whose data categories
// intersect categories. It decrypts nothing.
func planDeletion(ctx context.Context, rd store.Reader, subjIdx string, categories []string) (deletionPlan, error) {
	var p deletionPlan
	bound := map[string]bool{}
	for after := ""; ; {
		page, err := rd.ListTokens(ctx, store.TokenFilter{SubjectIndex: subjIdx, Limit: deletionScanPage, AfterID: after})
		if err != nil {
			return p, fmt.Errorf("listing the tokens bound to the subject: %w", err)
		}
		for _, t := range page {
			bound[t.ID] = true
			p.bound = append(p.bound, t)
			if t.Status != store.StatusRevoked {
				p.revoke = append(p.revoke, t)
			}
		}
		if len(page) < deletionScanPage {
			break
		}
		after = page[len(page)-1].ID
	}
	for after := ""; ; {
		page, err := rd.ListTokens(ctx, store.TokenFilter{Status: store.StatusActive, Limit: deletionScanPage, AfterID: after})
		if err != nil {
			return p, fmt.Errorf("listing the tokens reaching the categories: %w", err)
		}
		for _, t := range page {
			if !bound[t.ID] && slices.ContainsFunc(t.DataCategories, func(c string) bool { return slices.Contains(categories, c) }) {
				p.notify = append(p.notify, t)
			}
		}
		if len(page) < deletionScanPage {
			break
		}
		after = page[len(page)-1].ID
	}
	return p, nil
}

// deletionResult is the answer of a deletion request from its plan. It decrypts the owners of
// the tokens to notify (the people to tell), never a subject.
func (s *Server) deletionResult(p deletionPlan, sp deletionSpec, now time.Time) (wire.DeletionResult, error) {
	out := wire.DeletionResult{
		Status: wire.DeletionComplete, RequestedAt: now, Categories: sp.categories, Reference: sp.reference,
		Revoked: []wire.DeletionRevoked{}, Notify: []wire.DeletionNotify{}, DryRun: sp.dryRun,
	}
	if sp.dryRun {
		out.Status = wire.DeletionDryRun
	}
	subjIdx := s.subjectIndex(sp.subject)
	for _, t := range p.revoke {
		others := 0
		for _, i := range t.SubjectIndexes {
			if i != subjIdx {
				others++
			}
		}
		out.Revoked = append(out.Revoked, wire.DeletionRevoked{TokenID: t.ID, Name: t.Name, Fingerprint: t.Fingerprint, OtherSubjects: others})
	}
	for _, t := range p.notify {
		owner, err := s.keys.Open(t.OwnerCipher)
		if err != nil {
			return out, fmt.Errorf("token %s: owner: %w", t.ID, err)
		}
		out.Notify = append(out.Notify, wire.DeletionNotify{TokenID: t.ID, Name: t.Name, Owner: string(owner),
			DataCategories: nonNil(t.DataCategories), Audiences: nonNil(t.Audiences)})
	}
	return out, nil
}

func deletionTokenIDs(ts []store.Token) []string {
	ids := make([]string, 0, len(ts))
	for _, t := range ts {
		ids = append(ids, t.ID)
	}
	return ids
}

// createDeletionRequest answers POST /v1/deletion-requests.
func (s *Server) createDeletionRequest(w http.ResponseWriter, r *http.Request, c *caller) error {
	body, err := s.readBody(w, r, false)
	if err != nil {
		return err
	}
	var req wire.DeletionRequest
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	sp, err := validateDeletion(req)
	if err != nil {
		return err
	}
	ctx := r.Context()
	subjIdx := s.subjectIndex(sp.subject)
	if sp.dryRun {
		var out wire.DeletionResult
		err := s.store.View(ctx, func(rd store.Reader) error {
			now := s.clock()
			p, err := planDeletion(ctx, rd, subjIdx, sp.categories)
			if err != nil {
				return err
			}
			out, err = s.deletionResult(p, sp, now)
			return err
		})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	return s.mutate(w, r, c, body, func(tx store.Tx, now time.Time) (int, any, error) {
		id, err := newDeletionID()
		if err != nil {
			return 0, nil, err
		}
		subjCipher, err := s.keys.Seal([]byte(sp.subject))
		if err != nil {
			return 0, nil, err
		}
		purged, err := tx.PurgeDeletionRequests(ctx, now)
		if err != nil {
			return 0, nil, err
		}
		if purged > 0 {
			if _, err := tx.AppendAudit(ctx, audit.Event{Time: now, Actor: c.id, Action: actionDeletionPurge, Outcome: "ok",
				Details: map[string]string{"purged": strconv.Itoa(purged), "retained_until_before": now.Format(time.RFC3339Nano)}}); err != nil {
				return 0, nil, err
			}
		}
		p, err := planDeletion(ctx, tx, subjIdx, sp.categories)
		if err != nil {
			return 0, nil, err
		}
		reason := "deletion_request:" + id
		// Every bound token is revoked (if it is not yet) and loses the subject: its encrypted
		// data_subjects and its blind index no longer hold it, so no answer and no ?subject=
		// lookup finds it again.
		for _, t := range p.bound {
			revoking := t.Status != store.StatusRevoked
			revokedAt := revocationInstant(now, t) // no use committed before it is later than it
			if revoking {
				t.Status = store.StatusRevoked
				t.RevokedAt = &revokedAt
			}
			if t, err = s.withoutSubject(t, subjIdx); err != nil {
				return 0, nil, err
			}
			t.UpdatedAt = now
			if err := tx.UpdateToken(ctx, t); err != nil {
				return 0, nil, err
			}
			if revoking {
				if _, err := tx.AppendAudit(ctx, audit.Event{Time: revokedAt, Actor: c.id, Action: audit.ActionRevoke, TokenID: t.ID,
					Fingerprint: t.Fingerprint, Outcome: "ok", Details: map[string]string{"reason": reason}}); err != nil {
					return 0, nil, err
				}
			}
		}
		// The stored answers of earlier requests that held the subject are replaced (expired
		// ones are deleted first: nothing to open).
		if err := s.purgeExpiredAnswers(ctx, tx); err != nil {
			return 0, nil, err
		}
		erasedAnswers, err := s.eraseAnswersOf(ctx, tx, subjIdx, id)
		if err != nil {
			return 0, nil, err
		}
		retainUntil := now.Add(s.deletionRetention)
		rec := store.DeletionRequest{
			ID: id, SubjectIndex: subjIdx, SubjectCipher: subjCipher, Categories: sp.categories,
			RequestedBy: c.id, RequestedAt: now, CompletedAt: &now, RetainUntil: retainUntil,
			RevokedTokenIDs: deletionTokenIDs(p.revoke), NotifiedTokenIDs: deletionTokenIDs(p.notify), Reference: sp.reference,
		}
		if err := tx.InsertDeletionRequest(ctx, rec); err != nil {
			return 0, nil, err
		}
		if _, err := tx.AppendAudit(ctx, audit.Event{Time: now, Actor: c.id, Action: actionDeletionRequest, Outcome: "ok",
			Details: map[string]string{
				"deletion_request": id,
				"categories":       strings.Join(sp.categories, ","),
				"revoked":          strconv.Itoa(len(p.revoke)),
				"notified":         strconv.Itoa(len(p.notify)),
				"erased_from":      strconv.Itoa(len(p.bound)),
				"erased_answers":   strconv.Itoa(erasedAnswers),
				"retain_until":     retainUntil.Format(time.RFC3339Nano),
			}}); err != nil {
			return 0, nil, err
		}
		out, err := s.deletionResult(p, sp, now)
		if err != nil {
			return 0, nil, err
		}
		out.ID, out.RetainUntil = id, &retainUntil
		return http.StatusCreated, out, nil
	})
}

// getDeletionRequest answers GET /v1/deletion-requests/{id} with the evidence, never the subject.
func (s *Server) getDeletionRequest(w http.ResponseWriter, r *http.Request, _ *caller) error {
	var d store.DeletionRequest
	err := s.store.View(r.Context(), func(rd store.Reader) error {
		var err error
		d, err = rd.GetDeletionRequest(r.Context(), r.PathValue("id"))
		if errors.Is(err, store.ErrNotFound) {
			return notFound("deletion request")
		}
		return err
	})
	if err != nil {
		return err
	}
	out := wire.DeletionEvidence{
		ID: d.ID, Status: "pending", RequestedBy: d.RequestedBy, RequestedAt: d.RequestedAt.UTC(),
		CompletedAt: utcPtr(d.CompletedAt), RetainUntil: d.RetainUntil.UTC(), Categories: nonNil(d.Categories),
		Reference: d.Reference, RevokedTokenIDs: nonNil(d.RevokedTokenIDs), NotifiedTokenIDs: nonNil(d.NotifiedTokenIDs),
		RevokedCount: len(d.RevokedTokenIDs), NotifiedCount: len(d.NotifiedTokenIDs),
	}
	if d.CompletedAt != nil {
		out.Status = wire.DeletionComplete
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// listErasedSubjects answers GET /v1/deletion-requests/erased-subjects: every subject with a
// deletion request still within retention, decrypted, without duplicates, sorted. It is what
// the provider and check gates merge as data.tokenguard.erased_subjects.
func (s *Server) listErasedSubjects(w http.ResponseWriter, r *http.Request, _ *caller) error {
	ctx := r.Context()
	var subjects []string
	err := s.store.View(ctx, func(rd store.Reader) error {
		seen := map[string]bool{}
		for after := ""; ; {
			page, err := rd.ListDeletionRequests(ctx, after, deletionScanPage)
			if err != nil {
				return err
			}
			for _, d := range page {
				if seen[d.SubjectIndex] {
					continue
				}
				plain, err := s.keys.Open(d.SubjectCipher)
				if err != nil {
					return fmt.Errorf("deletion request %s: subject: %w", d.ID, err)
				}
				seen[d.SubjectIndex] = true
				subjects = append(subjects, string(plain))
			}
			if len(page) < deletionScanPage {
				return nil
			}
			after = page[len(page)-1].ID
		}
	})
	if err != nil {
		return err
	}
	slices.Sort(subjects)
	writeJSON(w, http.StatusOK, wire.ErasedSubjects{ErasedSubjects: nonNil(slices.Compact(subjects))})
	return nil
}

// refuseErasedSubjects refuses, with 422 CPRA-DEL-001 on the field data_subjects, a token for
// subjects of which one has a deletion request (pending or complete, within retention). The
// token create handler calls it inside its write transaction, so a token cannot slip in
// between a deletion request and its commit. The message names the entry by position only:
// subject identifiers are personal information.
func (s *Server) refuseErasedSubjects(ctx context.Context, rd store.Reader, subjects []string) error {
	for i, subj := range subjects {
		erased, err := rd.IsSubjectErased(ctx, s.subjectIndex(subj))
		if err != nil {
			return err
		}
		if erased {
			return unprocessable(RuleErasedSubject, "data_subjects",
				"data_subjects[%d] has a pending or completed deletion request (Cal. Civ. Code 1798.105(c)): a token must not act for that subject; remove it from data_subjects. "+
					"CPRA-DEL-001 cannot be waived: no waiver, in a file or sent with the request, is accepted for it", i)
		}
	}
	return nil
}

// withoutSubject is t without the data subject of blind index subjIdx: removed from its
// encrypted data_subjects (re-sealed, or none left) and from its subject indexes.
func (s *Server) withoutSubject(t store.Token, subjIdx string) (store.Token, error) {
	t.SubjectIndexes = slices.DeleteFunc(slices.Clone(t.SubjectIndexes), func(i string) bool { return i == subjIdx })
	if len(t.SubjectsCipher) == 0 {
		return t, nil
	}
	plain, err := s.keys.Open(t.SubjectsCipher)
	if err != nil {
		return t, fmt.Errorf("token %s: data subjects: %w", t.ID, err)
	}
	var subjects []string
	if err := json.Unmarshal(plain, &subjects); err != nil {
		return t, fmt.Errorf("token %s: data subjects: %w", t.ID, err)
	}
	kept := slices.DeleteFunc(subjects, func(subj string) bool { return s.subjectIndex(subj) == subjIdx })
	if len(kept) == 0 {
		t.SubjectsCipher = nil
		return t, nil
	}
	plain, err = json.Marshal(kept)
	if err != nil {
		return t, err
	}
	if t.SubjectsCipher, err = s.keys.Seal(plain); err != nil {
		return t, err
	}
	return t, nil
}
