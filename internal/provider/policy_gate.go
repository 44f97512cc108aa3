package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// Policy enforcement modes of the provider's policy block.
const (
	enforcementMandatory = "mandatory" // error-severity findings fail plan and apply
	enforcementAdvisory  = "advisory"  // findings are warnings; plan and apply go on
	enforcementOff       = "off"       // the bundle is not evaluated
)

// registryAddress is the provider's registry address, as plan JSON names it.
const registryAddress = "registry.terraform.io/tokenguard/tokenguard"

// policyModel is the provider's policy block.
type policyModel struct {
	Enforcement types.String `tfsdk:"enforcement"`
	Paths       types.List   `tfsdk:"paths"`
	DataFile    types.String `tfsdk:"data_file"`
	WaiversFile types.String `tfsdk:"waivers_file"`
	Existing    types.String `tfsdk:"existing"`
}

// policyGate evaluates the CPRA bundle on one planned token: the provider gate. It is built in
// the provider's Configure and shared with every resource through providerData.
type policyGate struct {
	mode        string
	engine      *policy.Engine // nil when mode is off
	waivers     []policy.Waiver
	waiversFile string
	// existingWarn is policy.existing = "warn", the ratchet: a blocking finding on an attribute
	// the plan does not change, of a token that already exists, is a warning (policy.OnUnchanged).
	existingWarn bool
	// serviceRules are the ids of the rules the token service's gate also judges (METADATA
	// gates include service): advisory findings on them do not let the apply through there.
	serviceRules map[string]bool
	now          func() time.Time
}

// engineCache compiles the bundle once per provider process and policy configuration: a
// provider process plans every resource of a run, and Configure may run more than once.
type engineCache struct {
	mu      sync.Mutex
	engines map[string]*policy.Engine
}

// get returns the engine for the extra policy directories and data file, compiling it on
// first use.
func (c *engineCache) get(ctx context.Context, paths []string, dataFile string, now func() time.Time) (*policy.Engine, error) {
	return c.getWithSubjects(ctx, paths, dataFile, nil, now)
}

// getWithSubjects is get with the erased data subjects the token service reported: nil when
// they were not fetched (the data file alone decides), else merged with the data file's own
// list. The key holds a hash of the merged list, so an erase recorded since the last compile
// gives a new engine; the engine of an older list for the same configuration is dropped.
func (c *engineCache) getWithSubjects(ctx context.Context, paths []string, dataFile string, serviceSubjects []string, now func() time.Time) (*policy.Engine, error) {
	var subjects []string
	if serviceSubjects != nil {
		subjects = mergeSubjects(dataFileSubjects(dataFile), serviceSubjects)
	}
	base := strings.Join(paths, "\x00") + "\x01" + dataFile + "\x02"
	key := base + subjectsHash(subjects)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.engines[key]; ok {
		return e, nil
	}
	// The engine keeps its verdicts for the provider process: Terraform plans each token in
	// its own call, and most tokens of a configuration share most of what the rules read.
	opts := policy.Options{ExtraPolicyDirs: paths, Now: now, Gate: policy.GateProvider, KeepVerdicts: true}
	if dataFile != "" {
		opts.DataFiles = []string{dataFile}
	}
	e, err := compileWithSubjects(ctx, opts, subjects)
	if err != nil {
		return nil, err
	}
	if c.engines == nil {
		c.engines = map[string]*policy.Engine{}
	}
	for k := range c.engines {
		if strings.HasPrefix(k, base) {
			delete(c.engines, k) // compiled for an older list of erased subjects
		}
	}
	c.engines[key] = e
	return e, nil
}

// configurePolicy builds the gate from the provider's policy block. A nil gate with no error
// diagnostics means the block is not known yet (values known only after apply). subjects
// fetches the erased data subjects from the token service for CPRA-DEL-001; nil when the
// provider has no client (the gate then knows only the data file's subjects).
func configurePolicy(ctx context.Context, cfg types.Object, cache *engineCache, now func() time.Time, subjects subjectSource, diags *diag.Diagnostics) *policyGate {
	if cfg.IsUnknown() {
		return nil
	}
	var m policyModel
	if !cfg.IsNull() {
		diags.Append(cfg.As(ctx, &m, defaultObjectAsOptions)...)
		if diags.HasError() {
			return nil
		}
	}
	if m.Enforcement.IsUnknown() || m.Paths.IsUnknown() || m.DataFile.IsUnknown() || m.WaiversFile.IsUnknown() || m.Existing.IsUnknown() {
		diags.AddAttributeError(path.Root("policy"), "Unknown Policy Configuration",
			"The provider's policy block depends on values known only after apply. Set enforcement, existing, paths, "+
				"data_file and waivers_file from literals or input variables so every plan is checked against the same policies.")
		return nil
	}
	g := &policyGate{mode: enforcementMandatory, now: now, existingWarn: m.Existing.ValueString() == policy.ExistingWarn}
	if !m.Enforcement.IsNull() {
		g.mode = m.Enforcement.ValueString()
	}
	if g.mode == enforcementOff {
		return g
	}
	var paths []string
	if !m.Paths.IsNull() {
		diags.Append(m.Paths.ElementsAs(ctx, &paths, false)...)
		if diags.HasError() {
			return nil
		}
	}
	erased := fetchErasedSubjects(ctx, subjects, g.mode, diags)
	if diags.HasError() {
		return nil
	}
	engine, err := cache.getWithSubjects(ctx, paths, m.DataFile.ValueString(), erased, now)
	if err != nil {
		diags.AddAttributeError(path.Root("policy"), "Invalid Policy Configuration",
			"The CPRA policies could not be loaded: "+err.Error()+". Fix the policy files named in policy.paths "+
				"or policy.data_file (the same files `tokenguard check --policy --data` accepts), or remove them from the block.")
		return nil
	}
	g.engine = engine
	g.serviceRules = map[string]bool{}
	for _, r := range engine.Rules() {
		if slices.Contains(r.Gates, policy.GateService) {
			g.serviceRules[r.ID] = true
		}
	}
	if file := m.WaiversFile.ValueString(); file != "" {
		ws, err := policy.LoadWaivers(file)
		if err != nil {
			diags.AddAttributeError(path.Root("policy").AtName("waivers_file"), "Invalid Policy Waivers",
				err.Error()+". Use the waivers format of `tokenguard check --waivers`: a waivers list of rule, address, "+
					"reason, approved_by and expires (YYYY-MM-DD).")
			return nil
		}
		g.waivers, g.waiversFile = ws, file
	}
	return g
}

// gateStage tells the gate whether it runs while planning or applying.
type gateStage int

const (
	// atPlan reports every finding: errors (mandatory) and warnings.
	atPlan gateStage = iota
	// atApply re-evaluates with the final values and reports only blocking findings: the
	// others were shown at plan, or depend on values that were unknown then.
	atApply
	// atPlanUndeclared is a plan of a token whose declaration (its configuration) did not
	// change: a no-op, or a replacement or rotation the provider decided (expired, revoked
	// outside Terraform, rotation due). Blocking findings are warnings here and block at apply,
	// before anything is issued or changed. Terraform runs such a plan to refresh before
	// `terraform destroy` and gives up the destroy on any error, and a provider is not told
	// which plan it is in: the gate must not stop the destroy of a token that breaks a rule
	// (after an erasure or a policy change), since only what exists after a plan is judged.
	atPlanUndeclared
)

// plannedToken is one planned tokenguard_api_token change in the shape of a plan JSON change.
type plannedToken struct {
	actions []string
	before  tftypes.Value // the prior state; null for a create
	after   tftypes.Value // the planned state
}

// check evaluates the bundle on the change and adds one diagnostic per finding. It returns
// the waivers that waived a finding, for the request to the service (one verdict across
// gates: the service honours them under its own waiver policy).
func (g *policyGate) check(ctx context.Context, s schema.Schema, c plannedToken, stage gateStage, diags *diag.Diagnostics) []wire.Waiver {
	if g == nil || g.mode == enforcementOff || g.engine == nil {
		return nil
	}
	tc, err := tokenChange(c)
	if err != nil {
		diags.AddError("Policy Input Not Built",
			"The planned token could not be converted to the policy input: "+err.Error()+". This is a bug in the tokenguard provider: please report it.")
		return nil
	}
	// Checked at whole seconds (plan JSON's timestamp has no finer precision, and every rule's
	// threshold is in seconds or coarser), so the tokens planned within one second share the
	// engine's kept verdicts (policy.Options.KeepVerdicts).
	now := g.now().UTC().Truncate(time.Second)
	tok := policy.NormalizeToken(tc, now)
	findings, err := g.engine.EvaluateTokens(ctx, []policy.Token{tok}, policy.PlanFacts{Timestamp: &now})
	if err != nil {
		diags.AddError("Policy Evaluation Failed",
			"The CPRA policies could not be evaluated on this token: "+err.Error()+". Fix the policies in policy.paths, "+
				"or set policy.enforcement = \"off\" while they are repaired.")
		return nil
	}
	name := ""
	if n, ok := tc.After["name"].(string); ok {
		name = n
	}
	addrs := policy.TokenAddresses(name)
	for i := range findings {
		findings[i].Address = addrs[0]
	}
	wp := g.engine.WaiverPolicy()
	findings = policy.ApplyGovernedWaiversToToken(findings, g.waivers, now, g.waiversFile, addrs, wp, policy.TokenOwner(tc.After))
	for _, f := range findings {
		g.report(ctx, s, f, stage, g.existingWarn && policy.OnUnchanged(tc, f), diags)
	}
	var used []wire.Waiver
	for _, w := range policy.UsedWaivers(findings, g.waivers, now, addrs, wp, policy.TokenOwner(tc.After)) {
		used = append(used, wire.Waiver{Rule: w.Rule, Address: w.Address, Reason: w.Reason, ApprovedBy: w.ApprovedBy,
			Expires: w.Expires.Format("2006-01-02")})
	}
	return used
}

// report adds the diagnostic of one finding, on the attribute the finding names.
// existing is true when the finding is on an attribute the plan leaves as it was and
// policy.existing is "warn": then it warns at plan and does not block at apply.
func (g *policyGate) report(ctx context.Context, s schema.Schema, f policy.Finding, stage gateStage, existing bool, diags *diag.Diagnostics) {
	blocking := g.mode == enforcementMandatory && f.Severity == policy.SeverityError && !f.Waived && !existing
	if stage == atApply && !blocking {
		return
	}
	if stage == atPlanUndeclared {
		blocking = false // warned now, blocked at apply: see atPlanUndeclared
	}
	waivable := g.engine.WaiverPolicy().Waivable(f.RuleID)
	summary, detail := findingText(f, g.mode, stage, g.serviceRules[f.RuleID], waivable)
	if existing && g.mode == enforcementMandatory && f.Severity == policy.SeverityError && !f.Waived {
		detail = existingText(f, detail, waivable)
	}
	p, onAttribute := findingPath(ctx, s, f.Field)
	switch {
	case blocking && onAttribute:
		diags.AddAttributeError(p, summary, detail)
	case blocking:
		diags.AddError(summary, detail)
	case onAttribute:
		diags.AddAttributeWarning(p, summary, detail)
	default:
		diags.AddWarning(summary, detail)
	}
}

// findingText renders a finding as a diagnostic: a static summary, and a detail with rule id,
// title, message, citation, remediation and what to do next. Policy messages never contain a
// secret (policies/README.md), and the waiver text is the practitioner's own.
func findingText(f policy.Finding, mode string, stage gateStage, serviceJudges, waivable bool) (summary, detail string) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %s.", f.RuleID, f.Title, strings.TrimSuffix(f.Message, "."))
	if f.Citation != "" {
		fmt.Fprintf(&b, "\n\nCitation: %s", f.Citation)
	}
	if f.Remediation != "" {
		fmt.Fprintf(&b, "\nFix: %s", f.Remediation)
	}
	b.WriteString("\n\n")
	switch {
	case f.Waived:
		summary = "CPRA Policy Finding Waived"
		fmt.Fprintf(&b, "Waived by policy.waivers_file (approved by %s: %s). The provider sends this waiver with its request, and the "+
			"token service honours it under its own waiver policy, so the apply goes ahead too (unless the service's waiver policy "+
			"refuses it: then the apply fails with 422 TOKENGUARD-WAIVER-REFUSED before anything changes). Fix it before the waiver expires.",
			f.WaiverApprovedBy, f.WaiverReason)
	case f.RuleID == policy.RuleWaiverExpired:
		summary = "CPRA Policy Waiver Expired"
		b.WriteString(nextStep(f, mode, stage, serviceJudges, true))
	default:
		summary = "CPRA Policy Violation"
		b.WriteString(nextStep(f, mode, stage, serviceJudges, waivable))
	}
	return summary, b.String()
}

// existingText is the detail of a finding the ratchet (policy.existing = "warn") turned into a
// warning: the rule text, then what happens at apply instead of the mandatory next step.
func existingText(f policy.Finding, detail string, waivable bool) string {
	head, _, _ := strings.Cut(detail, "\n\nPolicy enforcement is mandatory")
	head, _, _ = strings.Cut(head, "\n\nThe token's configuration did not change")
	what := "this token's " + f.Field
	if f.Field == "" {
		what = "this token"
	}
	return head + "\n\nThe plan does not change " + what + " and policy.existing is \"warn\", so this existing finding " +
		"only warns: the provider does not block the apply (the token service still judges any change it is sent with its " +
		"own policies). A new token, or a change to " + what + ", that breaks " + f.RuleID + " is blocked. Fix it" + orWaiver(f, waivable, true)
}

// nextStep says what happens at apply. serviceJudges is true when the token service's gate
// judges the rule too: then an advisory provider does not make the apply go through (issue
// 21: one verdict across gates).
func nextStep(f policy.Finding, mode string, stage gateStage, serviceJudges, waivable bool) string {
	if f.Severity != policy.SeverityError {
		return "This rule advises and does not block. `tokenguard check` reports it too."
	}
	if mode == enforcementAdvisory && serviceJudges {
		return "Policy enforcement is advisory in the provider, so the plan goes on, but the apply will not unless the token " +
			"service lets it: the service judges " + f.RuleID + " on every create, update, renew and rotate, and under its " +
			"default mandatory enforcement refuses the change with 422 policy_violation unless the finding is fixed or waived " +
			"in the service's waivers. `tokenguard check` in CI blocks on this rule too. Fix the configuration" + orWaiver(f, waivable, false)
	}
	if mode == enforcementAdvisory {
		return "Policy enforcement is advisory and the token service does not judge " + f.RuleID + ", so Terraform continues " +
			"and the apply goes ahead; `tokenguard check` in CI still blocks on this rule. " +
			"Fix the configuration" + orWaiver(f, waivable, false)
	}
	when := "Terraform stops here"
	switch stage {
	case atApply:
		when = "the token is not created or changed"
	case atPlanUndeclared:
		return "The token's configuration did not change, so this plan only warns (it never blocks `terraform destroy`); " +
			"policy enforcement is mandatory, so applying a change to this token fails before anything is issued or changed. " +
			"Fix the configuration, or remove the resource" + orWaiver(f, waivable, true)
	}
	return "Policy enforcement is mandatory, so " + when + ". Fix the configuration" + orWaiver(f, waivable, true)
}

// orWaiver ends the advice on a finding: the waiver that would accept it, or, for a rule the
// waiver policy lists as non-waivable, that no waiver can (issue 21: such rules say so).
func orWaiver(f policy.Finding, waivable, long bool) string {
	switch {
	case !waivable:
		return ". " + f.RuleID + " cannot be waived: the waiver policy lists it in data.tokenguard.waivers.non_waivable, so " +
			"no gate (provider, tokenguard check, token service) accepts a waiver for it."
	case long:
		return ", or record a reviewed waiver for rule " + f.RuleID + " on " + f.Address + " in the provider's policy.waivers_file."
	}
	return ", or record a waiver for " + f.RuleID + "."
}

// findingPath maps a finding's dotted field ("ttl", "rotation.interval") to the resource
// attribute; ok is false for "", for fields that are not attributes of the resource, and for
// sensitive attributes (data_subjects), whose findings go on the resource.
func findingPath(ctx context.Context, s schema.Schema, field string) (path.Path, bool) {
	if field == "" {
		return path.Empty(), false
	}
	parts := strings.Split(field, ".")
	p := path.Root(parts[0])
	for _, part := range parts[1:] {
		p = p.AtName(part)
	}
	a, d := s.AttributeAtPath(ctx, p)
	if d.HasError() {
		return path.Empty(), false
	}
	if a.IsSensitive() {
		// On the attribute, Terraform would print its configuration line, value included,
		// under the diagnostic: a sensitive attribute's finding goes on the resource.
		return path.Empty(), false
	}
	return p, true
}

// tokenChange builds the policy input of a planned change exactly as the check gate reads it
// from plan JSON: attribute values as JSON values, unknown values absent from after and
// listed by dotted path, and the sensitive attribute secret listed as sensitive.
func tokenChange(c plannedToken) (policy.TokenChange, error) {
	unknown := map[string]bool{}
	after, err := jsonValue(c.after, "", unknown)
	if err != nil {
		return policy.TokenChange{}, err
	}
	tc := policy.TokenChange{
		Type: policy.TokenguardType, Actions: slices.Clone(c.actions),
		Unknown: sortedTrue(unknown), Sensitive: []string{"secret"},
	}
	tc.After, _ = after.(map[string]any)
	if !c.before.IsNull() {
		before, err := jsonValue(c.before, "", map[string]bool{})
		if err != nil {
			return policy.TokenChange{}, err
		}
		tc.Before, _ = before.(map[string]any)
	}
	name, _ := tc.After["name"].(string)
	tc.Address = policy.TokenAddresses(name)[0]
	tc.Name = strings.TrimPrefix(tc.Address, policy.TokenguardType+".")
	tc.Provider = registryAddress
	return tc, nil
}

// omitted marks a value that is unknown and therefore left out of its parent.
type omitted struct{}

// jsonValue converts a Terraform value to the value `terraform show -json` prints: strings,
// json.Number, bools, []any for lists and sets, map[string]any for maps and objects, nil for
// null. Unknown values are recorded in unknown by dotted path and left out; a list or set
// with an unknown element is recorded and left out as a whole, as in after_unknown.
func jsonValue(v tftypes.Value, at string, unknown map[string]bool) (any, error) {
	if !v.IsKnown() {
		if at != "" {
			unknown[at] = true
		}
		return omitted{}, nil
	}
	if v.IsNull() {
		return nil, nil
	}
	typ := v.Type()
	switch {
	case typ.Is(tftypes.String):
		var s string
		err := v.As(&s)
		return s, err
	case typ.Is(tftypes.Bool):
		var b bool
		err := v.As(&b)
		return b, err
	case typ.Is(tftypes.Number):
		n := new(big.Float)
		if err := v.As(&n); err != nil {
			return nil, err
		}
		return json.Number(n.Text('f', -1)), nil
	case typ.Is(tftypes.List{}), typ.Is(tftypes.Set{}), typ.Is(tftypes.Tuple{}):
		var elems []tftypes.Value
		if err := v.As(&elems); err != nil {
			return nil, err
		}
		out := make([]any, 0, len(elems))
		for _, e := range elems {
			if !e.IsFullyKnown() {
				unknown[at] = true
				return omitted{}, nil
			}
			x, err := jsonValue(e, at, unknown)
			if err != nil {
				return nil, err
			}
			out = append(out, x)
		}
		return out, nil
	case typ.Is(tftypes.Map{}), typ.Is(tftypes.Object{}):
		var elems map[string]tftypes.Value
		if err := v.As(&elems); err != nil {
			return nil, err
		}
		out := make(map[string]any, len(elems))
		for k, e := range elems {
			sub := k
			if at != "" {
				sub = at + "." + k
			}
			x, err := jsonValue(e, sub, unknown)
			if err != nil {
				return nil, err
			}
			if _, skip := x.(omitted); !skip {
				out[k] = x
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("attribute %q has the unsupported type %s", at, typ)
}

func sortedTrue(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
