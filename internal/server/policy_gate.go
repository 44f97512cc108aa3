package server

// The policy gate: admission control with the CPRA policy bundle (issue 5, the service gate).
//
// Create, patch, renew and rotate evaluate the token as it would be after the request, inside
// the request's write transaction and before anything is written, with the service clock as
// the plan timestamp. The token is named tokenguard_api_token.<name>, as at the provider gate
// (policy.TokenAddresses), so one waivers file serves every gate.
//
//   - mandatory: an unwaived error-severity finding refuses the request with 422
//     policy_violation and every finding in "findings"; the transaction is rolled back and
//     only a token.refuse audit record (rule ids, never values) is written.
//   - advisory: the request proceeds; its findings are returned in the response's "warnings"
//     and their rule ids are recorded in the mutation's audit record (policy_findings).
//   - off: nothing is evaluated.
//
// Warning-severity and waived findings never block; under mandatory they are returned as
// warnings too. An expired waiver that names the token blocks (TOKENGUARD-WAIVER-EXPIRED).
//
// One verdict for every write (issue 13): the ttl is always known to the policies. On create
// and renew it is the requested one, else the service's default: the lifetime the token gets.
// On patch and rotate, which keep the expiry, it is the lifetime the token has left
// (expires_at - now), so a change that a create of the changed token could not pass (dropping
// the rotation of a 90-day token, adding a sensitive category to it) is refused just the same.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// Policy enforcement modes of Config.PolicyEnforcement.
const (
	PolicyMandatory = "mandatory"
	PolicyAdvisory  = "advisory"
	PolicyOff       = "off"
)

// auditPolicyFindings is the audit detail listing the rule ids of the findings a request
// proceeded with (advisory findings, warnings); auditPolicyWaived lists the waived ones.
const (
	auditPolicyFindings = "policy_findings"
	auditPolicyWaived   = "policy_waived"
)

// policyGate evaluates the policy bundle on one token per request. Its bundle and waivers
// can be replaced while requests run (Server.ReloadPolicy, on SIGHUP); each request
// evaluates with the ones in force when it began.
type policyGate struct {
	mode string
	// existingWarn is the ratchet (Config.PolicyExisting = policy.ExistingWarn).
	existingWarn bool
	cur          atomic.Pointer[gatePolicy]
}

// gatePolicy is the bundle and the waivers a policy gate evaluates with.
type gatePolicy struct {
	engine      *policy.Engine
	waivers     []policy.Waiver
	waiversFile string
}

// policy returns the bundle and waivers in force.
func (g *policyGate) policy() *gatePolicy { return g.cur.Load() }

// newPolicyGate builds the gate of cfg; nil when the gate is off.
func newPolicyGate(cfg Config) (*policyGate, error) {
	mode := cfg.PolicyEnforcement
	if mode == "" {
		mode = PolicyMandatory
	}
	switch mode {
	case PolicyMandatory, PolicyAdvisory, PolicyOff:
	default:
		return nil, fmt.Errorf("server: policy enforcement %q is not one of mandatory, advisory, off", cfg.PolicyEnforcement)
	}
	switch cfg.PolicyExisting {
	case "", policy.ExistingBlock, policy.ExistingWarn:
	default:
		return nil, fmt.Errorf("server: policy existing %q is not one of block, warn", cfg.PolicyExisting)
	}
	if cfg.Policy == nil || mode == PolicyOff {
		return nil, nil
	}
	g := &policyGate{mode: mode, existingWarn: cfg.PolicyExisting == policy.ExistingWarn}
	g.cur.Store(&gatePolicy{engine: cfg.Policy, waivers: cfg.Waivers, waiversFile: cfg.WaiversFile})
	return g, nil
}

// ReloadPolicy replaces the policy bundle and the waivers of the service gate: requests that
// begin afterwards evaluate with engine (built with Gate: policy.GateService) and waivers;
// those in flight finish with the old ones. It refuses a nil engine, and a reload when the
// gate is off (the enforcement mode is fixed at start), and then changes nothing.
func (s *Server) ReloadPolicy(engine *policy.Engine, waivers []policy.Waiver, waiversFile string) error {
	if s.gate == nil {
		return errors.New("the policy gate is off (--policy-enforcement off): there is no policy to reload")
	}
	if engine == nil {
		return errors.New("server: ReloadPolicy needs a compiled policy engine")
	}
	s.gate.cur.Store(&gatePolicy{engine: engine, waivers: waivers, waiversFile: waiversFile})
	return nil
}

// gateInput is one token as the policies see it: the attribute values before and after the
// request, in the shape the provider gate builds from a planned resource.
type gateInput struct {
	actions       []string
	before, after map[string]any
	// unknown are the dotted attribute paths whose values the service does not know.
	unknown []string
	// renewal marks a renew request: fields.renewal_requested is set whatever the ttls are.
	renewal bool
	// waivers are the waivers the request carried (see request_waivers.go).
	waivers []policy.Waiver
}

// policyRefusal is returned from inside a mutation when the mandatory gate refuses it, so the
// transaction rolls back; answerPolicyRefusal turns it into the 422 answer.
type policyRefusal struct {
	findings []policy.Finding
}

func (e *policyRefusal) Error() string {
	return "policy violation: " + strings.Join(ruleIDs(e.findings, true), ",")
}

// blocking reports whether finding f refuses a request under mandatory enforcement.
func blocking(f policy.Finding) bool {
	return f.Severity == policy.SeverityError && !f.Waived
}

// evaluate returns the findings of in, waivers applied; nil when the gate is off.
func (g *policyGate) evaluate(ctx context.Context, in gateInput, now time.Time) ([]policy.Finding, error) {
	if g == nil {
		return nil, nil
	}
	name, _ := in.after["name"].(string)
	addrs := policy.TokenAddresses(strings.TrimSpace(name))
	tc := policy.TokenChange{
		Address: addrs[0], Name: strings.TrimPrefix(addrs[0], policy.TokenguardType+"."),
		Type: policy.TokenguardType, Actions: in.actions, Before: in.before, After: in.after,
		Unknown: in.unknown, Sensitive: []string{"secret"},
	}
	tok := policy.NormalizeToken(tc, now)
	if in.renewal {
		tok.Fields.RenewalRequested = true
	}
	p := g.policy()
	findings, err := p.engine.EvaluateTokens(ctx, []policy.Token{tok}, policy.PlanFacts{Timestamp: &now})
	if err != nil {
		return nil, fmt.Errorf("policy gate: %w", err)
	}
	for i := range findings {
		findings[i].Address = addrs[0]
	}
	if g.existingWarn {
		// The ratchet: what this change leaves as it was warns, as in the other gates.
		policy.MarkExisting(tc, findings)
	}
	// A refused waiver's message names file:line; the file's base name only, since the
	// waivers file's path is the server's business (see clientFindings).
	source := ""
	if p.waiversFile != "" {
		source = filepath.Base(p.waiversFile)
	}
	wp := p.engine.WaiverPolicy()
	findings = policy.ApplyGovernedWaiversToToken(findings, p.waivers, now, source, addrs, wp, policy.TokenOwner(in.after))
	return applyRequestWaivers(findings, in.waivers, in, now, wp, addrs), nil
}

// admit evaluates in. Under mandatory a blocking finding returns a *policyRefusal; otherwise
// it returns the findings the request proceeds with (nil when there are none or the gate is
// off), for the response's warnings and the audit record.
func (g *policyGate) admit(ctx context.Context, in gateInput, now time.Time) ([]policy.Finding, error) {
	findings, err := g.evaluate(ctx, in, now)
	if err != nil || len(findings) == 0 {
		return nil, err
	}
	if g.mode == PolicyMandatory && slices.ContainsFunc(findings, blocking) {
		return nil, &policyRefusal{findings: findings}
	}
	return findings, nil
}

// refusalOnValidation decides the answer of a create request the service's own validation
// refused (verr, a 400 naming a field): when the gate's blocking findings on the raw request
// include one on that same field, the refusal is a policy violation and is answered as one,
// with every finding; otherwise (malformed input, or the gate off or advisory) verr stands.
func (g *policyGate) refusalOnValidation(ctx context.Context, in gateInput, now time.Time, verr error) error {
	var ae *apiError
	if g == nil || g.mode != PolicyMandatory || !errors.As(verr, &ae) || ae.status != http.StatusBadRequest || ae.field == "" {
		return verr
	}
	findings, err := g.evaluate(ctx, in, now)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(findings, func(f policy.Finding) bool { return blocking(f) && f.Field == ae.field }) {
		return &policyRefusal{findings: findings}
	}
	return verr
}

// answerPolicyRefusal answers err when it is a *policyRefusal: it records one token.refuse
// audit record in its own transaction (the refused one was rolled back), writes the 422
// policy_violation answer with the findings, and returns nil. Any other err is returned as it is.
func (s *Server) answerPolicyRefusal(w http.ResponseWriter, r *http.Request, c *caller, err error) error {
	var pr *policyRefusal
	if !errors.As(err, &pr) {
		return err
	}
	ids := ruleIDs(pr.findings, true)
	field := ""
	for _, f := range pr.findings {
		if blocking(f) {
			field = f.Field
			break
		}
	}
	ev := audit.Event{Time: s.clock(), Actor: c.id, Action: audit.ActionRefuse, Outcome: "denied",
		Details: map[string]string{"route": r.Pattern, "code": wire.CodePolicyViolation, "rules": strings.Join(ids, ",")}}
	if field != "" {
		ev.Details["field"] = field
	}
	if waived := waivedIDs(pr.findings); len(waived) > 0 {
		ev.Details[auditPolicyWaived] = strings.Join(waived, ",")
	}
	if id := r.PathValue("id"); strings.HasPrefix(id, "tok_") && len(id) <= 64 {
		ev.TokenID = id
	}
	ctx := context.WithoutCancel(r.Context())
	if aerr := s.store.Update(ctx, func(tx store.Tx) error {
		_, err := tx.AppendAudit(ctx, ev)
		return err
	}); aerr != nil {
		// The refusal is answered even if recording it fails: the request changed nothing.
		s.log.Error("recording a policy refusal in the audit log failed", "route", r.Pattern, "error", aerr.Error())
	}
	var body wire.ErrorBody
	body.Error.Code = wire.CodePolicyViolation
	body.Error.Field = field
	body.Error.Message = fmt.Sprintf("the token breaks %d CPRA policy rule(s) (%s); nothing was changed. "+
		"The findings say what to fix; an accepted exception needs a reviewed waiver, in the service's --waivers file or sent "+
		"with the request (the provider sends the waivers of its policy.waivers_file), under the service's waiver policy",
		len(ids), strings.Join(ids, ", "))
	if fixed := s.nonWaivable(ids); len(fixed) > 0 {
		body.Error.Message += fmt.Sprintf("; %s cannot be waived (data.tokenguard.waivers.non_waivable): fix it", strings.Join(fixed, ", "))
	}
	body.Findings = clientFindings(pr.findings, PolicyMandatory)
	writeJSON(w, http.StatusUnprocessableEntity, body)
	return nil
}

// nonWaivable are the rule ids of ids that the gate's waiver policy lets no waiver cover.
func (s *Server) nonWaivable(ids []string) []string {
	if s.gate == nil {
		return nil
	}
	wp := s.gate.policy().engine.WaiverPolicy()
	var out []string
	for _, id := range ids {
		if !wp.Waivable(id) {
			out = append(out, id)
		}
	}
	return out
}

// withPolicyFindings records the rule ids of the findings a request proceeded with in the
// details of its audit record.
func withPolicyFindings(details map[string]string, findings []policy.Finding) map[string]string {
	if len(findings) == 0 {
		return details
	}
	if details == nil {
		details = map[string]string{}
	}
	if ids := ruleIDs(findings, false); len(ids) > 0 {
		details[auditPolicyFindings] = strings.Join(ids, ",")
	}
	if waived := waivedIDs(findings); len(waived) > 0 {
		details[auditPolicyWaived] = strings.Join(waived, ",")
	}
	return details
}

// warnings converts the findings a request proceeded with for the response's warnings.
func (g *policyGate) warnings(findings []policy.Finding) []wire.Finding {
	if g == nil || len(findings) == 0 {
		return nil
	}
	return clientFindings(findings, g.mode)
}

// ruleIDs are the sorted, distinct rule ids of the unwaived findings; only the blocking ones
// when onlyBlocking.
func ruleIDs(findings []policy.Finding, onlyBlocking bool) []string {
	var ids []string
	for _, f := range findings {
		if f.Waived || onlyBlocking && !blocking(f) {
			continue
		}
		ids = append(ids, f.RuleID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

func waivedIDs(findings []policy.Finding) []string {
	var ids []string
	for _, f := range findings {
		if f.Waived {
			ids = append(ids, f.RuleID)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// clientFindings renders findings in the fields of `tokenguard check --format json`. File
// and Line stay null: the service has no configuration, and the waivers file's path is the
// server's business.
func clientFindings(findings []policy.Finding, mode string) []wire.Finding {
	out := make([]wire.Finding, 0, len(findings))
	for _, f := range findings {
		f.File, f.Line = "", 0 // a waiver finding's File is the server's waivers file
		out = append(out, f.Wire(mode == PolicyMandatory && blocking(f)))
	}
	return out
}

// createInput is the policy input of a create request, from its raw values: the service's own
// validation may not have run yet (see refusalOnValidation). A duration that does not parse is
// passed as unknown, so no rule guesses it; validation refuses it. A request without a ttl is
// evaluated with defaultTTL, the lifetime the token gets.
func createInput(req wire.CreateTokenRequest, defaultTTL time.Duration) gateInput {
	after := map[string]any{
		"name": req.Name, "owner": req.Owner, "purpose": req.Purpose,
		"scopes": anyList(req.Scopes), "data_categories": anyList(req.DataCategories),
		"data_subjects": anyList(req.DataSubjects), "audiences": anyList(req.Audiences),
	}
	if req.Recipient != "" {
		after["recipient"] = req.Recipient
	}
	var unknown []string
	after["ttl"] = effectiveTTL(req.TTL, defaultTTL)
	if _, err := token.ParseDuration(after["ttl"].(string)); err != nil {
		unknown = append(unknown, "ttl")
	}
	if req.Rotation != nil {
		rot := map[string]any{}
		for key, v := range map[string]string{"interval": req.Rotation.Interval, "overlap": req.Rotation.Overlap} {
			if strings.TrimSpace(v) == "" {
				continue
			}
			rot[key] = v
			if _, err := token.ParseDuration(v); err != nil {
				unknown = append(unknown, "rotation."+key)
			}
		}
		after["rotation"] = rot
	}
	slices.Sort(unknown)
	return gateInput{actions: []string{"create"}, after: after, unknown: unknown}
}

// effectiveTTL is the ttl of a create or renew request: the requested one, else the service's
// default.
func effectiveTTL(requested string, defaultTTL time.Duration) string {
	if strings.TrimSpace(requested) == "" {
		return token.FormatDuration(defaultTTL)
	}
	return requested
}

// tokenValues are the attribute values of an existing token as the policies see them.
func tokenValues(t wire.Token) map[string]any {
	m := map[string]any{
		"id": t.ID, "name": t.Name, "owner": t.Owner, "purpose": t.Purpose,
		"scopes": anyList(t.Scopes), "data_categories": anyList(t.DataCategories),
		"data_subjects": anyList(t.DataSubjects), "audiences": anyList(t.Audiences),
		"status": t.Status, "created_at": t.CreatedAt.UTC().Format(time.RFC3339Nano),
		"expires_at": t.ExpiresAt.UTC().Format(time.RFC3339Nano),
	}
	if t.LastUsedAt != nil {
		m["last_used_at"] = t.LastUsedAt.UTC().Format(time.RFC3339Nano)
	}
	if t.Rotation != nil {
		rot := map[string]any{}
		if t.Rotation.Interval != "" {
			rot["interval"] = t.Rotation.Interval
		}
		if t.Rotation.Overlap != "" {
			rot["overlap"] = t.Rotation.Overlap
		}
		m["rotation"] = rot
	}
	return m
}

// changeInput is the policy input of an in-place change (patch, renew, rotate) from the
// token before and after it, both at instant now.
func (s *Server) changeInput(before, after store.Token, now time.Time) (gateInput, error) {
	b, err := s.wire(before, now)
	if err != nil {
		return gateInput{}, err
	}
	a, err := s.wire(after, now)
	if err != nil {
		return gateInput{}, err
	}
	bv, av := tokenValues(b), tokenValues(a)
	// The ttl the policies judge is the lifetime the token has left, as a create of the
	// changed token would have to ask for it: a change that does not move the expiry keeps
	// it, and a renewal replaces it with the renewal's ttl.
	bv["ttl"] = remainingSeconds(before.ExpiresAt, now)
	av["ttl"] = remainingSeconds(after.ExpiresAt, now)
	return gateInput{actions: []string{"update"}, before: bv, after: av}, nil
}

// remainingSeconds is the lifetime left at now of a token expiring at expires, in whole
// seconds rounded up (so a token created a moment ago with ttl 90d still has 90d); zero or
// negative once it has expired.
func remainingSeconds(expires, now time.Time) int64 {
	d := expires.Sub(now)
	secs := int64(d / time.Second)
	if d%time.Second > 0 {
		secs++
	}
	return secs
}

// anyList is a list of strings as a JSON value; nil stays null (not set).
func anyList(v []string) any {
	if v == nil {
		return nil
	}
	out := make([]any, 0, len(v))
	for _, s := range v {
		out = append(out, s)
	}
	return out
}
