package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
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

// tokenSpec is a validated create request.
type tokenSpec struct {
	name, owner, purpose   string
	scopes, categories     []string
	subjects, audiences    []string
	labels                 map[string]string
	ttl, interval, overlap time.Duration
}

func (s *Server) validateCreate(req client.CreateTokenRequest) (tokenSpec, error) {
	var sp tokenSpec
	var err error
	if sp.name, err = requiredText("name", req.Name, maxNameLength, "give the token a name, unique per owner"); err != nil {
		return sp, err
	}
	if err := checkIdentifier("name", sp.name); err != nil {
		return sp, err
	}
	if sp.owner, err = requiredText("owner", req.Owner, maxOwnerLength, "name the accountable team or person"); err != nil {
		return sp, err
	}
	if err := checkIdentifier("owner", sp.owner); err != nil {
		return sp, err
	}
	if sp.purpose, err = checkPurpose(req.Purpose); err != nil {
		return sp, err
	}
	if sp.scopes, err = checkScopes(req.Scopes); err != nil {
		return sp, err
	}
	if sp.categories, err = checkCategories(req.DataCategories); err != nil {
		return sp, err
	}
	if sp.subjects, err = checkSet("data_subjects", req.DataSubjects); err != nil {
		return sp, err
	}
	for _, subj := range sp.subjects {
		if err := checkIdentifier("data_subjects", subj); err != nil {
			return sp, err
		}
	}
	if sp.audiences, err = checkSet("audiences", req.Audiences); err != nil {
		return sp, err
	}
	if sp.labels, err = checkLabels(req.Labels); err != nil {
		return sp, err
	}
	if sp.ttl, err = s.checkTTL(req.TTL); err != nil {
		return sp, err
	}
	if req.Rotation != nil {
		if sp.interval, sp.overlap, err = checkRotation(*req.Rotation); err != nil {
			return sp, err
		}
	}
	return sp, nil
}

func requiredText(field, v string, maxLen int, hint string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", invalid(field, "%s is required: %s", field, hint)
	}
	if len(v) > maxLen {
		return "", invalid(field, "%s is longer than %d characters", field, maxLen)
	}
	if problem := textProblem(v); problem != "" {
		return "", invalid(field, "%s contains %s", field, problem)
	}
	return v, nil
}

// textProblem names what makes v unfit for a stored text field, or returns "". Control
// characters (NUL, escape sequences, line breaks) corrupt logs and terminals; bidirectional
// controls make text display differently from what it is ("Trojan Source"); U+FFFD is what
// JSON decoding makes of invalid UTF-8 and unpaired surrogate escapes, so it marks input that
// did not say what it meant.
func textProblem(v string) string {
	switch {
	case strings.ContainsFunc(v, unicode.IsControl):
		return "control characters"
	case strings.ContainsFunc(v, isBidiControl):
		return "bidirectional control characters (U+202A-U+202E, U+2066-U+2069)"
	case strings.ContainsRune(v, unicode.ReplacementChar):
		return "U+FFFD (invalid UTF-8 or an unpaired surrogate escape)"
	}
	return ""
}

// checkIdentifier refuses, with 400 naming field, a name, owner, reviewer or data subject
// that holds an invisible or format character: Unicode format characters (Cf: zero-width
// space and joiners U+200B-U+200D, the marks U+200E/U+200F and U+061C, U+FEFF, the soft
// hyphen U+00AD, the bidirectional embeddings, overrides and isolates U+202A-U+202E and
// U+2066-U+2069, ...), the other default-ignorable code points (Hangul fillers U+115F,
// U+1160, U+3164, ...) and variation selectors. Such a value looks the same as another
// without being equal to it: a look-alike token name, or "team@example.com\u200b" passing as a
// reviewer who is not the owner "team@example.com".
func checkIdentifier(field, v string) error {
	for i, r := range v {
		if unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) || unicode.Is(unicode.Variation_Selector, r) {
			return invalid(field, "%s contains the invisible or format character U+%04X at byte %d: remove it (names, owners, reviewers and data subjects must be visible text)", field, r, i)
		}
	}
	return nil
}

// sameIdentity reports whether two identities (an owner and a reviewer) are the same person
// after Unicode compatibility normalisation (NFKC: fullwidth and other compatibility forms
// become their plain letters) and case folding.
func sameIdentity(a, b string) bool {
	return foldIdentity(a) == foldIdentity(b)
}

func foldIdentity(v string) string {
	return cases.Fold().String(norm.NFKC.String(strings.TrimSpace(v)))
}

func isBidiControl(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069
}

func checkPurpose(p string) (string, error) {
	if problem := token.PurposeProblem(p); problem != "" {
		return "", invalid("purpose", "%s", problem)
	}
	return requiredText("purpose", p, maxPurposeLength, "state what the token is for")
}

func checkScopes(scopes []string) ([]string, error) {
	if len(scopes) == 0 {
		return nil, invalid("scopes", "scopes is required: list at least one scope the token needs")
	}
	out, err := checkSet("scopes", scopes)
	if err != nil {
		return nil, err
	}
	for _, sc := range out {
		if strings.ContainsFunc(sc, unicode.IsSpace) {
			return nil, invalid("scopes", "scope %q contains a space: scopes are single words such as \"orders:read\"", sc)
		}
	}
	return out, nil
}

func checkCategories(cats []string) ([]string, error) {
	if cats == nil {
		return nil, invalid("data_categories", "data_categories is required: list the CPRA categories of personal information the token reaches, or [] when it reaches none")
	}
	out, err := checkSet("data_categories", cats)
	if err != nil {
		return nil, err
	}
	for _, c := range out {
		if !token.IsCategory(c) {
			return nil, invalid("data_categories", "%q is not a CPRA data category; use one of: %s, %s",
				c, strings.Join(token.PersonalCategories, ", "), strings.Join(token.SensitiveCategories, ", "))
		}
	}
	return out, nil
}

// checkSet checks a set of strings: no empty, overlong or duplicate entries. It returns a
// non-nil slice, so an explicit empty set stays distinguishable in the response.
func checkSet(field string, vals []string) ([]string, error) {
	if len(vals) > maxItems {
		return nil, invalid(field, "%s has more than %d entries", field, maxItems)
	}
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		v = strings.TrimSpace(v)
		switch {
		case v == "":
			return nil, invalid(field, "%s has an empty entry", field)
		case len(v) > maxItemLength:
			return nil, invalid(field, "%s has an entry longer than %d characters", field, maxItemLength)
		case textProblem(v) != "":
			return nil, invalid(field, "%s has an entry with %s", field, textProblem(v))
		case slices.Contains(out, v):
			return nil, invalid(field, "%s lists %q twice", field, v)
		}
		out = append(out, v)
	}
	return out, nil
}

func checkLabels(labels map[string]string) (map[string]string, error) {
	if len(labels) > maxItems {
		return nil, invalid("labels", "labels has more than %d entries", maxItems)
	}
	out := make(map[string]string, len(labels))
	for k, v := range labels {
		if strings.TrimSpace(k) == "" || len(k) > maxItemLength || len(v) > maxItemLength || textProblem(k+v) != "" {
			return nil, invalid("labels", "label %q: keys must be non-empty and keys and values at most %d characters without control, bidirectional-control or U+FFFD characters", k, maxItemLength)
		}
		out[k] = v
	}
	return out, nil
}

// checkTTL parses a ttl; empty means the default. A ttl over the maximum is refused with 422.
func (s *Server) checkTTL(v string) (time.Duration, error) {
	if strings.TrimSpace(v) == "" {
		return s.defaultTTL, nil
	}
	d, err := token.ParseDuration(v)
	if err != nil {
		return 0, invalid("ttl", "ttl: %v", err)
	}
	if d > s.maxTTL {
		return 0, unprocessable("ttl_exceeds_max", "ttl", "ttl %s is longer than this service's maximum of %s: ask for at most %s",
			token.FormatDuration(d), token.FormatDuration(s.maxTTL), token.FormatDuration(s.maxTTL))
	}
	return d, nil
}

func checkRotation(r client.Rotation) (interval, overlap time.Duration, err error) {
	if strings.TrimSpace(r.Interval) != "" {
		if interval, err = token.ParseDuration(r.Interval); err != nil {
			return 0, 0, invalid("rotation.interval", "rotation.interval: %v", err)
		}
	}
	if strings.TrimSpace(r.Overlap) != "" {
		if overlap, err = token.ParseDuration(r.Overlap); err != nil {
			return 0, 0, invalid("rotation.overlap", "rotation.overlap: %v", err)
		}
	}
	return interval, overlap, nil
}

// wire converts a stored token to its API shape at instant now, decrypting personal fields.
func (s *Server) wire(t store.Token, now time.Time) (client.Token, error) {
	owner, err := s.keys.Open(t.OwnerCipher)
	if err != nil {
		return client.Token{}, fmt.Errorf("token %s: owner: %w", t.ID, err)
	}
	subjects := []string{}
	if len(t.SubjectsCipher) > 0 {
		plain, err := s.keys.Open(t.SubjectsCipher)
		if err != nil {
			return client.Token{}, fmt.Errorf("token %s: data subjects: %w", t.ID, err)
		}
		if err := json.Unmarshal(plain, &subjects); err != nil {
			return client.Token{}, fmt.Errorf("token %s: data subjects: %w", t.ID, err)
		}
	}
	out := client.Token{
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
		out.Rotation = &client.Rotation{}
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
	body, req, err := decodeBody[client.CreateTokenRequest](s, w, r, false)
	if err != nil {
		return err
	}
	sp, err := s.validateCreate(req)
	if err != nil {
		return s.answerPolicyRefusal(w, r, c, s.gate.refusalOnValidation(r.Context(), createInput(req, s.defaultTTL), s.clock(), err))
	}
	ctx := r.Context()
	err = s.mutate(w, r, c, body, func(tx store.Tx, now time.Time) (int, any, error) {
		if err := s.refuseErasedSubjects(ctx, tx, sp.subjects); err != nil {
			return 0, nil, err
		}
		findings, err := s.gate.admit(ctx, createInput(req, s.defaultTTL), now)
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
		if _, err := tx.AppendAudit(ctx, tokenEvent(c, audit.ActionCreate, t, now, withPolicyFindings(details, findings))); err != nil {
			return 0, nil, err
		}
		out, err := s.answerToken(t, now, findings)
		if err != nil {
			return 0, nil, err
		}
		out.Secret = secret
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

// pathToken reads the token named by the request path, answering 404 when there is none.
func pathToken(r *http.Request, rd store.Reader) (store.Token, error) {
	t, err := rd.GetToken(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return t, notFound("token")
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
func (s *Server) answerToken(t store.Token, now time.Time, findings []policy.Finding) (client.Token, error) {
	out, err := s.wire(t, now)
	if err != nil {
		return out, err
	}
	out.Warnings = s.gate.warnings(findings)
	return out, nil
}

func nameTaken(name string) error {
	return conflict("name_taken", "name", "this owner already has a token named %q: choose another name or manage the existing token", name)
}

func (s *Server) getToken(w http.ResponseWriter, r *http.Request, _ *caller) error {
	if err := s.flushForRead(r.Context()); err != nil {
		return err
	}
	var out client.Token
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
		return t, conflict("token_revoked", "", "token %s is revoked and cannot be %s: create a new token", t.ID, action)
	case st == statusExpired && !allowExpired:
		return t, conflict("token_expired", "", "token %s expired at %s and cannot be %s: create a new token", t.ID, t.ExpiresAt.UTC().Format(time.RFC3339), action)
	}
	return t, nil
}

func (s *Server) rotateToken(w http.ResponseWriter, r *http.Request, c *caller) error {
	body, req, err := decodeBody[client.RotateRequest](s, w, r, true)
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
		if err := saveChange(ctx, tx, t, tokenEvent(c, audit.ActionRotate, t, now, withPolicyFindings(details, findings))); err != nil {
			return 0, nil, err
		}
		out, err := s.answerToken(t, now, findings)
		if err != nil {
			return 0, nil, err
		}
		out.Secret = secret
		return http.StatusOK, out, nil
	})
	return s.answerPolicyRefusal(w, r, c, err)
}

// codeOverlapRunning is the error code of a rotation refused because the previous one's
// overlap has not ended.
const codeOverlapRunning = "rotation_overlap_running"

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
	return conflict(codeOverlapRunning, "", "token %s was rotated at %s and its previous secret stays valid until %s, as that rotation announced; "+
		"rotating again now would end it early: rotate at or after %s, or revoke the token (and create a new one) to stop every secret at once",
		t.ID, rotatedAt(t), until, until)
}

func (s *Server) renewToken(w http.ResponseWriter, r *http.Request, c *caller) error {
	body, req, err := decodeBody[client.RenewRequest](s, w, r, false)
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
			return 0, nil, unprocessable("reviewer_is_owner", "reviewed_by",
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
		if err := saveChange(ctx, tx, t, tokenEvent(c, audit.ActionRenew, t, now, withPolicyFindings(details, findings))); err != nil {
			return 0, nil, err
		}
		out, err := s.answerToken(t, now, findings)
		return http.StatusOK, out, err
	})
	return s.answerPolicyRefusal(w, r, c, err)
}

// codeReviewUsed is the error code of a renewal refused because its review already
// approved an earlier renewal of the token.
const codeReviewUsed = "renewal_review_used"

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
				return conflict(codeReviewUsed, "renewal",
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
	var out client.Token
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
	_, req, err := decodeBody[client.UpdateTokenRequest](s, w, r, false)
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
	var out client.Token
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
			if findings, err = s.gate.admit(ctx, in, now); err != nil {
				return err
			}
			t.UpdatedAt = now
			details := withPolicyFindings(map[string]string{"fields": strings.Join(changed, ",")}, findings)
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

// rotatedAt is t's last rotation instant as RFC 3339, or "an earlier rotation" when unknown.
func rotatedAt(t store.Token) string {
	if t.RotatedAt == nil {
		return "an earlier rotation"
	}
	return t.RotatedAt.UTC().Format(time.RFC3339)
}

// patchRefusalOnValidation decides the answer of a PATCH the service's own validation refused
// (verr, a 400 naming a field), as refusalOnValidation does for a create: the gate judges the
// token with the request's raw values, and when a blocking finding names the same field the
// refusal is a policy violation, answered like every other write the gate refuses.
func (s *Server) patchRefusalOnValidation(r *http.Request, req client.UpdateTokenRequest, verr error) error {
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
