package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// Limits on field sizes; longer values are refused with 400 naming the field.
const (
	maxNameLength    = 200
	maxOwnerLength   = 320
	maxPurposeLength = 1000
	maxItemLength    = 256
	maxItems         = 100
)

// Status values as the API reports them; "expired" is computed at read time.
const (
	statusActive  = "active"
	statusExpired = "expired"
	statusRevoked = "revoked"
)

// clock returns the current instant in UTC at the microsecond precision the store keeps.
func (s *Server) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// statusAt is the status of t at now: an active token at or past its expiry is expired.
func statusAt(t store.Token, now time.Time) string {
	switch {
	case t.Status == store.StatusRevoked:
		return statusRevoked
	case !now.Before(t.ExpiresAt):
		return statusExpired
	}
	return statusActive
}

// ownerIndex is the blind index of an owner; owners compare case-insensitively.
func (s *Server) ownerIndex(owner string) string {
	return s.keys.BlindIndex("owner:" + strings.ToLower(strings.TrimSpace(owner)))
}

func (s *Server) subjectIndex(subject string) string {
	return s.keys.BlindIndex("subject:" + strings.TrimSpace(subject))
}

// wire converts a stored token to its API shape at instant now, decrypting personal fields.
func (s *Server) wire(t store.Token, now time.Time) (wire.Token, error) {
	owner, err := s.keys.Open(t.OwnerCipher)
	if err != nil {
		return wire.Token{}, fmt.Errorf("token %s: owner: %w", t.ID, err)
	}
	subjects := []string{}
	if len(t.SubjectsCipher) > 0 {
		plain, err := s.keys.Open(t.SubjectsCipher)
		if err != nil {
			return wire.Token{}, fmt.Errorf("token %s: data subjects: %w", t.ID, err)
		}
		if err := json.Unmarshal(plain, &subjects); err != nil {
			return wire.Token{}, fmt.Errorf("token %s: data subjects: %w", t.ID, err)
		}
	}
	out := wire.Token{
		ID: t.ID, Name: t.Name, Owner: string(owner), Purpose: t.Purpose,
		Scopes:         nonNil(t.Scopes),
		DataCategories: nonNil(t.DataCategories),
		DataSubjects:   subjects,
		Audiences:      nonNil(t.Audiences),
		Labels:         t.Labels,
		Status:         statusAt(t, now),
		CreatedAt:      t.CreatedAt.UTC(),
		ExpiresAt:      t.ExpiresAt.UTC(),
		RotatedAt:      utcPtr(t.RotatedAt),
		RevokedAt:      utcPtr(t.RevokedAt),
		LastUsedAt:     utcPtr(t.LastUsedAt),
		SecretVersion:  t.SecretVersion,
		Fingerprint:    t.Fingerprint,
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if t.RotationInterval > 0 || t.RotationOverlap > 0 {
		out.Rotation = &wire.Rotation{}
		if t.RotationInterval > 0 {
			out.Rotation.Interval = token.FormatDuration(t.RotationInterval)
		}
		if t.RotationOverlap > 0 {
			out.Rotation.Overlap = token.FormatDuration(t.RotationOverlap)
		}
	}
	if t.PrevSecretHash != nil {
		out.PreviousValidTil = utcPtr(t.PrevValidUntil)
	}
	return out, nil
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, c *caller) error {
	body, req, err := decodeBody[wire.CreateTokenRequest](s, w, r, false)
	if err != nil {
		return err
	}
	waivers, err := requestWaivers(req.Waivers)
	if err != nil {
		return err
	}
	sp, err := s.validateCreate(req)
	if err != nil {
		return s.answerPolicyRefusal(w, r, c, s.gate.refusalOnValidation(r.Context(), createInput(req, s.defaultTTL), s.clock(), err))
	}
	if err := c.mayCreateFor(s.ownerIndex(sp.owner)); err != nil {
		return err
	}
	rcpt, err := checkRecipient(req.Recipient)
	if err != nil {
		return err
	}
	ctx := r.Context()
	err = s.mutate(w, r, c, body, func(tx store.Tx, now time.Time) (int, any, error) {
		if err := s.refuseErasedSubjects(ctx, tx, sp.subjects); err != nil {
			return 0, nil, err
		}
		in := createInput(req, s.defaultTTL)
		in.waivers = waivers
		findings, err := s.gate.admit(ctx, in, now)
		if err != nil {
			return 0, nil, err
		}
		ownerIdx := s.ownerIndex(sp.owner)
		// A revoked token's name may be reused by its replacement.
		held, err := tx.FindTokenByName(ctx, ownerIdx, sp.name)
		switch {
		case err == nil && held.Status != store.StatusRevoked:
			return 0, nil, nameTaken(sp.name)
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return 0, nil, err
		}
		id, err := token.NewID()
		if err != nil {
			return 0, nil, err
		}
		secret, err := token.NewSecret(s.env, id)
		if err != nil {
			return 0, nil, err
		}
		ownerCipher, err := s.keys.Seal([]byte(sp.owner))
		if err != nil {
			return 0, nil, err
		}
		t := store.Token{
			ID: id, Name: sp.name, OwnerIndex: ownerIdx, OwnerCipher: ownerCipher, Purpose: sp.purpose,
			Scopes: sp.scopes, DataCategories: sp.categories, Audiences: sp.audiences, Labels: sp.labels,
			Env: s.env, RotationInterval: sp.interval, RotationOverlap: sp.overlap,
			Status: store.StatusActive, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(sp.ttl),
			SecretVersion: 1, Fingerprint: s.keys.Fingerprint(secret),
		}
		t.SecretHash, t.HashKeyID = s.keys.HashSecret(secret)
		if len(sp.subjects) > 0 {
			plain, _ := json.Marshal(sp.subjects)
			if t.SubjectsCipher, err = s.keys.Seal(plain); err != nil {
				return 0, nil, err
			}
			for _, subj := range sp.subjects {
				t.SubjectIndexes = append(t.SubjectIndexes, s.subjectIndex(subj))
			}
		}
		if err := tx.InsertToken(ctx, t); errors.Is(err, store.ErrConflict) {
			return 0, nil, nameTaken(sp.name)
		} else if err != nil {
			return 0, nil, err
		}
		details := map[string]string{
			"name":            sp.name,
			"ttl":             token.FormatDuration(sp.ttl),
			"expires_at":      t.ExpiresAt.Format(time.RFC3339),
			"data_categories": strings.Join(sp.categories, ","),
			"secret_version":  "1",
		}
		plain, sealed, err := secretAnswer(secret, rcpt, details)
		if err != nil {
			return 0, nil, err
		}
		if _, err := tx.AppendAudit(ctx, tokenEvent(c, audit.ActionCreate, t, now, withRequestWaivers(withPolicyFindings(details, findings), waivers))); err != nil {
			return 0, nil, err
		}
		out, err := s.answerToken(t, now, findings)
		if err != nil {
			return 0, nil, err
		}
		out.Secret, out.SealedSecret = plain, sealed
		return http.StatusCreated, out, nil
	})
	return s.answerPolicyRefusal(w, r, c, err)
}

// decodeBody reads the request body (an empty one allowed when optional) and decodes it
// strictly into a T. It returns the raw body too, for the idempotency record.
func decodeBody[T any](s *Server, w http.ResponseWriter, r *http.Request, optional bool) ([]byte, T, error) {
	var req T
	body, err := s.readBody(w, r, optional)
	if err != nil {
		return nil, req, err
	}
	if err := decodeStrict(body, &req); err != nil {
		return nil, req, err
	}
	return body, req, nil
}

// pathToken reads the token named by the request path, answering 404 when there is none or
// when the caller's owner restriction does not reach it (as if it did not exist).
func pathToken(r *http.Request, rd store.Reader) (store.Token, error) {
	t, err := rd.GetToken(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) || (err == nil && !callerOf(r).reaches(t.OwnerIndex)) {
		return store.Token{}, notFound("token")
	}
	return t, err
}

// tokenEvent is the audit record of c's successful action on t at now. details must hold
// no secret or personal value.
func tokenEvent(c *caller, action string, t store.Token, now time.Time, details map[string]string) audit.Event {
	return audit.Event{Time: now, Actor: c.id, Action: action, TokenID: t.ID, Fingerprint: t.Fingerprint,
		Outcome: "ok", Details: details}
}

// saveChange stores the changed token t and appends its audit record ev in tx, so that
// both commit together or not at all.
func saveChange(ctx context.Context, tx store.Tx, t store.Token, ev audit.Event) error {
	if err := tx.UpdateToken(ctx, t); err != nil {
		return err
	}
	_, err := tx.AppendAudit(ctx, ev)
	return err
}

// answerToken is t as a mutation answers it: its API form at now, with the advisory findings
// of the admission as warnings.
func (s *Server) answerToken(t store.Token, now time.Time, findings []policy.Finding) (wire.Token, error) {
	out, err := s.wire(t, now)
	if err != nil {
		return out, err
	}
	out.Warnings = s.gate.warnings(findings)
	return out, nil
}

func nameTaken(name string) error {
	return conflict(wire.CodeNameTaken, "name", "this owner already has a token named %q: choose another name or manage the existing token", name)
}

func (s *Server) getToken(w http.ResponseWriter, r *http.Request, _ *caller) error {
	if err := s.flushForRead(r.Context()); err != nil {
		return err
	}
	var out wire.Token
	err := s.store.View(r.Context(), func(rd store.Reader) error {
		t, err := pathToken(r, rd)
		if err != nil {
			return err
		}
		out, err = s.wire(t, s.clock())
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// loadMutable reads the token of the request path inside tx, refusing a revoked token and,
// unless allowExpired, an expired one, with 409.
func loadMutable(r *http.Request, tx store.Tx, now time.Time, action string, allowExpired bool) (store.Token, error) {
	t, err := pathToken(r, tx)
	if err != nil {
		return t, err
	}
	switch st := statusAt(t, now); {
	case st == statusRevoked:
		return t, conflict(wire.CodeTokenRevoked, "", "token %s is revoked and cannot be %s: create a new token", t.ID, action)
	case st == statusExpired && !allowExpired:
		return t, conflict(wire.CodeTokenExpired, "", "token %s expired at %s and cannot be %s: create a new token", t.ID, t.ExpiresAt.UTC().Format(time.RFC3339), action)
	}
	return t, nil
}

// revokeRequest is the optional body of POST /v1/tokens/{id}/revoke.
type revokeRequest struct {
	Reason string `json:"reason,omitempty"`
}

// revokeToken revokes at once and idempotently: revoking a revoked token answers 200 with
// the token and records nothing new.
func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, c *caller) error {
	_, req, err := decodeBody[revokeRequest](s, w, r, true)
	if err != nil {
		return err
	}
	if len(req.Reason) > maxPurposeLength {
		return invalid("reason", "reason is longer than %d characters", maxPurposeLength)
	}
	ctx := r.Context()
	var out wire.Token
	err = s.store.Update(ctx, func(tx store.Tx) error {
		now := s.clock()
		t, err := pathToken(r, tx)
		if err != nil {
			return err
		}
		if t.Status != store.StatusRevoked {
			revokedAt := revocationInstant(now, t) // no use committed before it is later than it
			t.Status = store.StatusRevoked
			t.RevokedAt = &revokedAt
			t.UpdatedAt = now
			var details map[string]string
			if req.Reason != "" {
				details = map[string]string{"reason": strings.TrimSpace(req.Reason)}
			}
			if err := saveChange(ctx, tx, t, tokenEvent(c, audit.ActionRevoke, t, revokedAt, details)); err != nil {
				return err
			}
		}
		out, err = s.wire(t, now)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// updateToken changes metadata in place (PATCH). Only fields present in the body change; the
// audit record names the changed fields, never their values.
func (s *Server) updateToken(w http.ResponseWriter, r *http.Request, c *caller) error {
	_, req, err := decodeBody[wire.UpdateTokenRequest](s, w, r, false)
	if err != nil {
		return err
	}
	waivers, err := requestWaivers(req.Waivers)
	if err != nil {
		return err
	}
	var purpose string
	var scopes, cats, auds []string
	var labels map[string]string
	var interval, overlap time.Duration
	validate := func() (err error) {
		if req.Purpose != nil {
			if purpose, err = checkPurpose(*req.Purpose); err != nil {
				return err
			}
		}
		if req.Scopes != nil {
			if scopes, err = checkScopes(*req.Scopes); err != nil {
				return err
			}
		}
		if req.DataCategories != nil {
			if cats, err = checkCategories(nonNil(*req.DataCategories)); err != nil {
				return err
			}
		}
		if req.Audiences != nil {
			if auds, err = checkSet("audiences", *req.Audiences); err != nil {
				return err
			}
		}
		if req.Labels != nil {
			if labels, err = checkLabels(*req.Labels); err != nil {
				return err
			}
		}
		if req.Rotation != nil {
			if interval, overlap, err = checkRotation(*req.Rotation); err != nil {
				return err
			}
		}
		return nil
	}
	if err := validate(); err != nil {
		return s.answerPolicyRefusal(w, r, c, s.patchRefusalOnValidation(r, req, err))
	}
	ctx := r.Context()
	var out wire.Token
	err = s.store.Update(ctx, func(tx store.Tx) error {
		now := s.clock()
		t, err := loadMutable(r, tx, now, "changed", true)
		if err != nil {
			return err
		}
		orig := t
		var changed []string
		if req.Purpose != nil && purpose != t.Purpose {
			t.Purpose = purpose
			changed = append(changed, "purpose")
		}
		if req.Scopes != nil && !slices.Equal(scopes, t.Scopes) {
			t.Scopes = scopes
			changed = append(changed, "scopes")
		}
		if req.DataCategories != nil && !slices.Equal(cats, nonNil(t.DataCategories)) {
			t.DataCategories = cats
			changed = append(changed, "data_categories")
		}
		if req.Audiences != nil && !slices.Equal(auds, nonNil(t.Audiences)) {
			t.Audiences = auds
			changed = append(changed, "audiences")
		}
		if req.Labels != nil && !maps.Equal(labels, t.Labels) {
			t.Labels = labels
			changed = append(changed, "labels")
		}
		if req.Rotation != nil && (interval != t.RotationInterval || overlap != t.RotationOverlap) {
			t.RotationInterval, t.RotationOverlap = interval, overlap
			changed = append(changed, "rotation")
		}
		var findings []policy.Finding
		if len(changed) > 0 {
			in, err := s.changeInput(orig, t, now)
			if err != nil {
				return err
			}
			in.waivers = waivers
			if findings, err = s.gate.admit(ctx, in, now); err != nil {
				return err
			}
			t.UpdatedAt = now
			details := withRequestWaivers(withPolicyFindings(map[string]string{"fields": strings.Join(changed, ",")}, findings), waivers)
			if err := saveChange(ctx, tx, t, tokenEvent(c, audit.ActionUpdate, t, now, details)); err != nil {
				return err
			}
		}
		out, err = s.answerToken(t, now, findings)
		return err
	})
	if err != nil {
		return s.answerPolicyRefusal(w, r, c, err)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// patchRefusalOnValidation decides the answer of a PATCH the service's own validation refused
// (verr, a 400 naming a field), as refusalOnValidation does for a create: the gate judges the
// token with the request's raw values, and when a blocking finding names the same field the
// refusal is a policy violation, answered like every other write the gate refuses.
func (s *Server) patchRefusalOnValidation(r *http.Request, req wire.UpdateTokenRequest, verr error) error {
	if s.gate == nil {
		return verr
	}
	var in gateInput
	now := s.clock()
	err := s.store.View(r.Context(), func(rd store.Reader) error {
		t, err := pathToken(r, rd)
		if err != nil {
			return err
		}
		if in, err = s.changeInput(t, t, now); err != nil {
			return err
		}
		if req.Purpose != nil {
			in.after["purpose"] = *req.Purpose
		}
		if req.Scopes != nil {
			in.after["scopes"] = anyList(nonNil(*req.Scopes))
		}
		if req.DataCategories != nil {
			in.after["data_categories"] = anyList(nonNil(*req.DataCategories))
		}
		if req.Audiences != nil {
			in.after["audiences"] = anyList(nonNil(*req.Audiences))
		}
		if req.Rotation != nil {
			rot := map[string]any{}
			for key, v := range map[string]string{"interval": req.Rotation.Interval, "overlap": req.Rotation.Overlap} {
				if strings.TrimSpace(v) == "" {
					continue
				}
				rot[key] = v
				if _, err := token.ParseDuration(v); err != nil {
					in.unknown = append(in.unknown, "rotation."+key)
				}
			}
			in.after["rotation"] = rot
		}
		return nil
	})
	if err != nil {
		return verr // no such token (or it cannot be read): the validation error stands
	}
	return s.gate.refusalOnValidation(r.Context(), in, now, verr)
}
