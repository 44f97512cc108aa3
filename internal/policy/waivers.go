package policy

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
	"unicode"

	yamlv3 "go.yaml.in/yaml/v3"
	"golang.org/x/text/unicode/norm"
	"sigs.k8s.io/yaml"
)

// Rule ids of the findings that waivers themselves produce.
const (
	RuleWaiverExpired = "TOKENGUARD-WAIVER-EXPIRED"
	RuleWaiverUnused  = "TOKENGUARD-WAIVER-UNUSED"
	// RuleWaiverRefused is the blocking finding of a waiver that the waiver policy refuses,
	// at the single-token gates (provider, service); tokenguard check exits 2 instead.
	RuleWaiverRefused = "TOKENGUARD-WAIVER-REFUSED"
)

// Waiver accepts the findings of one rule on the resources matching an address pattern,
// until it expires.
//
// Address is a glob: `*` matches any run of characters, dots and brackets included, so it
// matches within a segment (`tokenguard_api_token.ci_*`) and across segments
// (`module.legacy.*`, `*.billing["eu"]`). Every other character matches itself. Rule is an
// exact rule id, or a glob in the same syntax (`CPRA-XPR-*`).
type Waiver struct {
	Rule       string
	Address    string
	Reason     string
	ApprovedBy string
	// Expires is the last day (UTC) on which the waiver applies.
	Expires time.Time
	// Index is the waiver's position in the file, from 0.
	Index int
	// Line is the line of the waiver's entry in the file (from 1); 0 when unknown.
	Line int
}

// where names the waiver in messages: "waivers.yaml:12" (file and line), or its position.
func (w Waiver) where(source string) string {
	switch {
	case source != "" && w.Line > 0:
		return fmt.Sprintf("%s:%d", source, w.Line)
	case w.Line > 0:
		return fmt.Sprintf("line %d", w.Line)
	case source != "":
		return fmt.Sprintf("%s (waiver %d)", source, w.Index)
	}
	return fmt.Sprintf("waiver %d", w.Index)
}

type waiverFile struct {
	Waivers []struct {
		Rule       string `json:"rule"`
		Address    string `json:"address"`
		Reason     string `json:"reason"`
		ApprovedBy string `json:"approved_by"`
		Expires    string `json:"expires"`
	} `json:"waivers"`
}

// LoadWaivers reads a waivers YAML file.
func LoadWaivers(path string) ([]Waiver, error) {
	src, err := readInputFile(path, maxWaiversBytes)
	if err != nil {
		return nil, fmt.Errorf("waivers file %s: %w", path, err)
	}
	ws, err := ParseWaivers(src)
	var le *lineError
	if errors.As(err, &le) && le.line > 0 {
		return nil, fmt.Errorf("waivers file %s: %s, at %s:%d", path, le.msg, path, le.line)
	}
	if err != nil {
		return nil, fmt.Errorf("waivers file %s: %w", path, err)
	}
	return ws, nil
}

// Size caps of the small documents the checker reads whole: far above any real file, far
// below what would exhaust memory when a user names the wrong file (a disk image, a log).
const (
	maxWaiversBytes  = 8 << 20
	maxDataFileBytes = 256 << 20
)

// readInputFile reads a file the user named, refusing one larger than limit bytes before
// reading it (so a huge or sparse file costs no memory) and reading at most limit+1 bytes
// (so a file that grows, or a device, cannot get past the check). Errors carry no path.
func readInputFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path) //nolint:gosec // the user names the file
	if err != nil {
		return nil, pathErr(err)
	}
	defer func() { _ = f.Close() }()
	if info, err := f.Stat(); err == nil && info.Mode().IsRegular() && info.Size() > limit {
		return nil, fmt.Errorf("file is %d bytes, above the limit of %d MiB: is this the right file?", info.Size(), limit>>20)
	}
	src, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, pathErr(err)
	}
	if int64(len(src)) > limit {
		return nil, fmt.Errorf("file is larger than the limit of %d MiB: is this the right file?", limit>>20)
	}
	return src, nil
}

// ParseWaivers parses a waivers document:
//
//	waivers:
//	  - rule: CPRA-RET-002
//	    address: module.legacy.tokenguard_api_token.*
//	    reason: Vendor integration cannot rotate before the Q1 migration
//	    approved_by: privacy-office@example.com
//	    expires: 2026-12-31
//
// Every field is required; an error names the entry (from 0) and the field.
func ParseWaivers(src []byte) ([]Waiver, error) {
	var doc waiverFile
	if err := yaml.UnmarshalStrict(src, &doc); err != nil {
		return nil, fmt.Errorf("not a waivers document: %s", oneLine(err))
	}
	lines := waiverLines(src)
	out := make([]Waiver, 0, len(doc.Waivers))
	for i, w := range doc.Waivers {
		line := 0
		if i < len(lines) {
			line = lines[i]
		}
		missing := func(field string) error {
			return &lineError{line: line, msg: fmt.Sprintf("waiver %d: %s is required", i, field)}
		}
		switch {
		case strings.TrimSpace(w.Rule) == "":
			return nil, missing("rule")
		case strings.TrimSpace(w.Address) == "":
			return nil, missing("address")
		case strings.TrimSpace(w.Reason) == "":
			return nil, missing("reason")
		case strings.TrimSpace(w.ApprovedBy) == "":
			return nil, missing("approved_by")
		case strings.TrimSpace(w.Expires) == "":
			return nil, missing("expires")
		}
		exp, err := parseDate(w.Expires)
		if err != nil {
			return nil, &lineError{line: line, msg: fmt.Sprintf("waiver %d: expires %q is not a date: write it as YYYY-MM-DD", i, w.Expires)}
		}
		out = append(out, Waiver{
			Rule: strings.TrimSpace(w.Rule), Address: strings.TrimSpace(w.Address),
			Reason: strings.TrimSpace(w.Reason), ApprovedBy: strings.TrimSpace(w.ApprovedBy),
			Expires: exp, Index: i, Line: line,
		})
	}
	return out, nil
}

// lineError is an error about the entry at a line of the waivers file.
type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string {
	if e.line == 0 {
		return e.msg
	}
	return fmt.Sprintf("line %d: %s", e.line, e.msg)
}

// waiverLines returns the line of each entry of the waivers list, in order (sigs.k8s.io/yaml,
// which decodes the document strictly, keeps no positions).
func waiverLines(src []byte) []int {
	var root yamlv3.Node
	if yamlv3.Unmarshal(src, &root) != nil || len(root.Content) == 0 {
		return nil
	}
	doc := root.Content[0]
	if doc.Kind != yamlv3.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value == "waivers" && doc.Content[i+1].Kind == yamlv3.SequenceNode {
			var lines []int
			for _, item := range doc.Content[i+1].Content {
				lines = append(lines, item.Line)
			}
			return lines
		}
	}
	return nil
}

func parseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, errors.New("not a date")
	}
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
}

// Expired reports whether the waiver no longer applies on the day of now (UTC).
func (w Waiver) Expired(now time.Time) bool {
	y, m, d := now.UTC().Date()
	return w.Expires.Before(time.Date(y, m, d, 0, 0, 0, 0, time.UTC))
}

// WaiverMatchesRule reports whether w's rule pattern covers rule id.
func WaiverMatchesRule(w Waiver, id string) bool { return globMatch(w.Rule, id) }

// Matches reports whether the waiver covers finding f.
func (w Waiver) Matches(f Finding) bool {
	return globMatch(w.Rule, f.RuleID) && globMatch(w.Address, f.Address)
}

// ApplyWaivers marks the findings that a current waiver covers as waived, and appends a
// blocking TOKENGUARD-WAIVER-EXPIRED finding per expired waiver (which waives nothing) and a
// TOKENGUARD-WAIVER-UNUSED warning per current waiver that matches no finding. source names
// the waivers file in those findings. The result is sorted.
func ApplyWaivers(findings []Finding, waivers []Waiver, now time.Time, source string) []Finding {
	out := make([]Finding, len(findings), len(findings)+len(waivers))
	copy(out, findings)
	for _, w := range waivers {
		if w.Expired(now) {
			out = append(out, Finding{
				RuleID: RuleWaiverExpired, Severity: SeverityError, Title: "Waiver has expired",
				Address: w.Address, File: source,
				Message: fmt.Sprintf("waiver %d for %s on %s expired on %s (approved by %s); it no longer waives anything",
					w.Index, w.Rule, w.Address, w.Expires.Format("2006-01-02"), w.ApprovedBy),
				Remediation: "Fix the findings it covered, or renew the waiver with a new review and a new expiry date.",
			})
			continue
		}
		used := false
		for i := range findings {
			f := &out[i]
			if !w.Matches(*f) {
				continue
			}
			used = true
			if !f.Waived { // the first matching waiver is the one reported
				f.Waived, f.WaiverReason, f.WaiverApprovedBy = true, w.Reason, w.ApprovedBy
			}
		}
		if !used {
			out = append(out, Finding{
				RuleID: RuleWaiverUnused, Severity: SeverityWarning, Title: "Waiver matches no finding",
				Address: w.Address, File: source,
				Message:     fmt.Sprintf("waiver %d for %s on %s matches no finding", w.Index, w.Rule, w.Address),
				Remediation: "Remove the waiver, or correct its rule id or address pattern.",
			})
		}
	}
	SortFindings(out)
	return out
}

// globMatch matches s against pattern, where `*` matches any run of characters.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, last)
}

// WaiverPolicy governs which waivers are accepted, at every gate (check, provider, service).
// It is data: data.tokenguard.waivers in the bundle's data.json, overridable with --data:
//
//	{"tokenguard": {"waivers": {"max_days": 90, "non_waivable": ["CPRA-DEL-001", "CPRA-SEC-001"]}}}
type WaiverPolicy struct {
	// MaxDays is how far after today a waiver may expire.
	MaxDays int
	// NonWaivable are the rule ids no waiver may cover (a waiver whose rule pattern matches
	// one of them is refused).
	NonWaivable []string
	// RefuseRequestWaivers makes the service gate refuse the waivers a request carries (the
	// ones the provider applied at plan), so that only its own --waivers file waives; data
	// key request_waivers: "refuse" (default "accept").
	RefuseRequestWaivers bool
}

// Waivable reports whether a waiver may cover rule id: false for the non-waivable rules.
func (p WaiverPolicy) Waivable(id string) bool {
	return !slices.Contains(p.NonWaivable, id)
}

// NewWaiver is one waiver from its fields, checked as ParseWaivers checks an entry of the
// waivers file: every field required, expires a date (YYYY-MM-DD). index numbers it in
// messages. The error names the field and what to write.
func NewWaiver(rule, address, reason, approvedBy, expires string, index int) (Waiver, error) {
	for _, f := range []struct{ name, value string }{
		{"rule", rule}, {"address", address}, {"reason", reason}, {"approved_by", approvedBy}, {"expires", expires},
	} {
		if strings.TrimSpace(f.value) == "" {
			return Waiver{}, fmt.Errorf("waiver %d: %s is required", index, f.name)
		}
	}
	exp, err := parseDate(expires)
	if err != nil {
		return Waiver{}, fmt.Errorf("waiver %d: expires is not a date: write it as YYYY-MM-DD", index)
	}
	return Waiver{Rule: strings.TrimSpace(rule), Address: strings.TrimSpace(address), Reason: strings.TrimSpace(reason),
		ApprovedBy: strings.TrimSpace(approvedBy), Expires: exp, Index: index}, nil
}

// UsedWaivers are the waivers of ws that waived one of findings (the result of
// ApplyGovernedWaiversToToken for the token at addresses, owned by owner): current, accepted
// by p, naming the token, and covering a waived finding's rule. The provider sends them with
// its requests so that the service gate can honour them too.
func UsedWaivers(findings []Finding, ws []Waiver, now time.Time, addresses []string, p WaiverPolicy, owner string) []Waiver {
	owners := map[string]string{}
	for _, a := range addresses {
		owners[a] = owner
	}
	var out []Waiver
	for _, w := range ws {
		if w.Expired(now) || p.Refusal(w, now, owners) != "" ||
			!slices.ContainsFunc(addresses, func(a string) bool { return globMatch(w.Address, a) }) {
			continue
		}
		if slices.ContainsFunc(findings, func(f Finding) bool { return f.Waived && globMatch(w.Rule, f.RuleID) }) {
			out = append(out, w)
		}
	}
	return out
}

// DefaultWaiverPolicy is the policy of the shipped data.json: waivers expire within 90 days;
// an erased subject's token (CPRA-DEL-001) and a secret in a clear output (CPRA-SEC-001) are
// never waived.
var DefaultWaiverPolicy = WaiverPolicy{MaxDays: 90, NonWaivable: []string{"CPRA-DEL-001", "CPRA-SEC-001"}}

// waiverPolicyOf reads data.tokenguard.waivers, each key defaulting to DefaultWaiverPolicy.
func waiverPolicyOf(data map[string]any) (WaiverPolicy, error) {
	p := WaiverPolicy{MaxDays: DefaultWaiverPolicy.MaxDays, NonWaivable: slices.Clone(DefaultWaiverPolicy.NonWaivable)}
	tg, _ := data["tokenguard"].(map[string]any)
	raw, ok := tg["waivers"]
	if !ok || raw == nil {
		return p, nil
	}
	w, ok := raw.(map[string]any)
	if !ok {
		return p, errors.New(`policy data: tokenguard.waivers must be an object such as {"max_days": 90, "non_waivable": ["CPRA-DEL-001"]}`)
	}
	if v, ok := w["max_days"]; ok {
		n := asInt(v)
		if n == nil || *n < 1 || *n > 3660 {
			return p, fmt.Errorf("policy data: tokenguard.waivers.max_days is %v: use a whole number of days from 1 to 3660", v)
		}
		p.MaxDays = int(*n)
	}
	if v, ok := w["request_waivers"]; ok {
		switch v {
		case "accept":
		case "refuse":
			p.RefuseRequestWaivers = true
		default:
			return p, fmt.Errorf(`policy data: tokenguard.waivers.request_waivers is %v: use "accept" or "refuse"`, v)
		}
	}
	if v, ok := w["non_waivable"]; ok {
		l, ok := v.([]any)
		if !ok {
			return p, errors.New("policy data: tokenguard.waivers.non_waivable must be a list of rule ids")
		}
		p.NonWaivable = []string{}
		for _, e := range l {
			id, ok := e.(string)
			if !ok || strings.TrimSpace(id) == "" {
				return p, errors.New("policy data: tokenguard.waivers.non_waivable must be a list of rule ids")
			}
			p.NonWaivable = append(p.NonWaivable, id)
		}
	}
	return p, nil
}

// WaiverPolicy returns the engine's waiver policy (its data's tokenguard.waivers).
func (e *Engine) WaiverPolicy() WaiverPolicy {
	return WaiverPolicy{MaxDays: e.waiverPolicy.MaxDays, NonWaivable: slices.Clone(e.waiverPolicy.NonWaivable),
		RefuseRequestWaivers: e.waiverPolicy.RefuseRequestWaivers}
}

// Refusal says why the waiver policy refuses a waiver; "" when it is accepted. owners maps
// the addresses of the tokens being judged to their owners, for the rule that a waiver's
// approver is not the owner of a token it covers; now is today. An expired waiver is not
// refused: it waives nothing and is a finding of its own (TOKENGUARD-WAIVER-EXPIRED).
func (p WaiverPolicy) Refusal(w Waiver, now time.Time, owners map[string]string) string {
	if strings.Contains(w.Rule, "*") && strings.Contains(w.Address, "*") {
		return fmt.Sprintf("it has wildcards in both rule (%s) and address (%s): name the rule, or the resources, exactly", w.Rule, w.Address)
	}
	for _, id := range p.NonWaivable {
		if globMatch(w.Rule, id) {
			return fmt.Sprintf("its rule %s covers %s, which the waiver policy says cannot be waived (data.tokenguard.waivers.non_waivable): fix the finding instead", w.Rule, id)
		}
	}
	y, m, d := now.UTC().Date()
	limit := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).AddDate(0, 0, p.MaxDays)
	if w.Expires.After(limit) {
		return fmt.Sprintf("it expires on %s, more than %d days from today (data.tokenguard.waivers.max_days): set expires on or before %s and review it again then",
			w.Expires.Format("2006-01-02"), p.MaxDays, limit.Format("2006-01-02"))
	}
	approver := normalizeIdentity(w.ApprovedBy)
	addrs := make([]string, 0, len(owners))
	for a := range owners {
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	for _, a := range addrs {
		if owners[a] != "" && normalizeIdentity(owners[a]) == approver && globMatch(w.Address, a) {
			return fmt.Sprintf("it is approved by the owner of %s, which it covers: a waiver needs a reviewer other than the token's owner", a)
		}
	}
	return ""
}

// normalizeIdentity folds an approver or owner for comparison: trimmed and case-insensitive
// as the renewal rule compares reviewer and owner, and further NFKC-normalised with
// invisible format characters (zero-width spaces and joiners, bidi marks) removed, so that
// "ｔｅａｍ-finance" or "team\u200b-finance" is the owner team-finance.
func normalizeIdentity(s string) string {
	s = norm.NFKC.String(s)
	s = strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, s)
	return strings.ToLower(strings.TrimSpace(s))
}

// GovernWaivers checks every waiver against the policy; the first refused one is an error
// naming the file and line and why (tokenguard check exits 2 on it).
func GovernWaivers(ws []Waiver, p WaiverPolicy, now time.Time, source string, owners map[string]string) error {
	for _, w := range ws {
		if why := p.Refusal(w, now, owners); why != "" {
			return fmt.Errorf("%s: waiver %d (%s on %s) is refused: %s", w.where(source), w.Index, w.Rule, w.Address, why)
		}
	}
	return nil
}

// ApplyGovernedWaiversToToken is ApplyWaiversToToken under the waiver policy, for the
// single-token gates (provider, service): a refused waiver that names the token waives
// nothing and adds a blocking TOKENGUARD-WAIVER-REFUSED finding naming file:line and why.
// owner is the token's owner ("" when unknown).
func ApplyGovernedWaiversToToken(findings []Finding, waivers []Waiver, now time.Time, source string, addresses []string, p WaiverPolicy, owner string) []Finding {
	owners := map[string]string{}
	for _, a := range addresses {
		owners[a] = owner
	}
	var accepted []Waiver
	var refused []Finding
	for _, w := range waivers {
		why := p.Refusal(w, now, owners)
		if why == "" {
			accepted = append(accepted, w)
			continue
		}
		if !slices.ContainsFunc(addresses, func(a string) bool { return globMatch(w.Address, a) }) {
			continue // another resource's waiver: not this token's concern
		}
		refused = append(refused, Finding{
			RuleID: RuleWaiverRefused, Severity: SeverityError, Title: "Waiver is refused by the waiver policy",
			Address: addresses[0], File: source, Line: w.Line,
			Message:     fmt.Sprintf("waiver %d (%s on %s) at %s is refused: %s", w.Index, w.Rule, w.Address, w.where(source), why),
			Remediation: "Correct the waiver so the waiver policy accepts it, or fix the findings it was meant to cover.",
		})
	}
	out := ApplyWaiversToToken(findings, accepted, now, source, addresses)
	out = append(out, refused...)
	SortFindings(out)
	return out
}

// TokenOwner returns the owner a planned tokenguard token declares ("" when it declares none).
func TokenOwner(after map[string]any) string {
	s, _ := after["owner"].(string)
	return s
}
