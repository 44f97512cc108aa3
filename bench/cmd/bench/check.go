package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/tokenguard/terraform-provider-tokenguard/bench/plangen"
)

type checkOptions struct {
	sizes string
	mixed int
	runs  int
	seed  uint64
	kind  string
	n     int
}

func (o *checkOptions) flags(fs *flag.FlagSet) {
	fs.StringVar(&o.sizes, "sizes", "1000,10000,100000", "comma-separated sizes of the token-only plans")
	fs.IntVar(&o.mixed, "mixed", 100000, "resources of the mixed \"real estate\" plan (2% token-like); 0 skips it")
	fs.IntVar(&o.runs, "runs", 1, "runs per tool and plan; the fastest (by wall time) is kept")
	fs.Uint64Var(&o.seed, "seed", 7, "generator seed")
	fs.StringVar(&o.kind, "kind", "tokens", "gen only: tokens or mixed")
	fs.IntVar(&o.n, "n", 1000, "gen only: resources")
}

// planSpec is one generated plan of the check benchmark.
type planSpec struct {
	Name    string          `json:"name"`
	Options plangen.Options `json:"options"`
}

func tokenPlan(n int, seed uint64) planSpec {
	return planSpec{Name: "tokens-" + size(n), Options: plangen.Options{Resources: n, TokenShare: 1, ExternalShare: 0.1, Seed: seed}}
}

func mixedPlan(n int, seed uint64) planSpec {
	return planSpec{Name: "mixed-" + size(n), Options: plangen.Options{Resources: n, TokenShare: 0.02, ExternalShare: 0.3, Seed: seed}}
}

func size(n int) string {
	if n >= 1000 && n%1000 == 0 {
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}

// generate writes the plan to the work directory unless the same plan is already there.
func generate(c config, p planSpec) (string, plangen.Stats, error) {
	path := filepath.Join(c.work, fmt.Sprintf("%s-seed%d.json", p.Name, p.Options.Seed))
	statsPath := path + ".stats"
	var st plangen.Stats
	if b, err := os.ReadFile(statsPath); err == nil && json.Unmarshal(b, &st) == nil {
		if fi, err := os.Stat(path); err == nil && fi.Size() == int64(st.Bytes) {
			return path, st, nil
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return "", st, err
	}
	st, err = plangen.Write(f, p.Options)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", st, fmt.Errorf("generating %s: %w", p.Name, err)
	}
	b, _ := json.Marshal(st)
	return path, st, os.WriteFile(statsPath, b, 0o644)
}

func genOne(c config, o checkOptions) error {
	p := tokenPlan(o.n, o.seed)
	if o.kind == "mixed" {
		p = mixedPlan(o.n, o.seed)
	}
	path, st, err := generate(c, p)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%s: %d resources, %d tokenguard tokens, %d external tokens, %.1f MB\n", path, st.Resources, st.Tokenguard, st.External, float64(st.Bytes)/1e6)
	return nil
}

// checkRow is one tool on one plan.
type checkRow struct {
	Measurement
	// Findings counts findings per rule id (nil for the decode floor).
	Findings map[string]int `json:"findings,omitempty"`
	Total    int            `json:"findings_total"`
}

// checkPlanResult is every tool on one plan.
type checkPlanResult struct {
	Plan  planSpec      `json:"plan"`
	Stats plangen.Stats `json:"stats"`
	Rows  []checkRow    `json:"rows"`
}

func (r checkPlanResult) row(tool string) *checkRow {
	for i := range r.Rows {
		if r.Rows[i].Tool == tool {
			return &r.Rows[i]
		}
	}
	return nil
}

// Target is one goal of issue 7 and how the run measured against it.
type Target struct {
	Goal     string  `json:"goal"`
	Measured string  `json:"measured"`
	Met      bool    `json:"met"`
	Value    float64 `json:"value"`
	Required float64 `json:"required"`
	// Miss says by how much a missed target is missed ("" when met).
	Miss string `json:"miss,omitempty"`
	// CPURatio is the same ratio in CPU time (user+system), where it applies.
	CPURatio float64 `json:"cpu_ratio,omitempty"`
}

func atLeast(goal string, value, required float64, unit string) Target {
	t := Target{Goal: goal, Value: value, Required: required, Met: value >= required,
		Measured: fmt.Sprintf("%.2f%s", value, unit)}
	if !t.Met && value > 0 {
		t.Miss = fmt.Sprintf("missed: %.2f%s measured, %.2f%s required (%.1fx short)", value, unit, required, unit, required/value)
	}
	return t
}

func atMost(goal string, value, limit float64, unit string) Target {
	t := Target{Goal: goal, Value: value, Required: limit, Met: value <= limit,
		Measured: fmt.Sprintf("%.2f%s", value, unit)}
	if !t.Met && limit > 0 {
		t.Miss = fmt.Sprintf("missed: %.2f%s measured, at most %.2f%s allowed (%.1fx over)", value, unit, limit, unit, value/limit)
	}
	return t
}

const (
	toolTokenguard = "tokenguard check"
	toolConftest   = "conftest test"
	toolOPA        = "opa eval"
	toolFloor      = "encoding/json decode"
)

func benchCheck(ctx context.Context, c config, o checkOptions) error {
	tg, err := c.tool("tokenguard")
	if err != nil {
		return err
	}
	conftest, err := c.tool("conftest")
	if err != nil {
		return err
	}
	opa, err := c.tool("opa")
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(c.peer, "cpra.rego")); err != nil {
		return fmt.Errorf("peer policy: %w (run from bench/ or pass -peer)", err)
	}
	var specs []planSpec
	for _, s := range strings.Split(o.sizes, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return fmt.Errorf("-sizes: %q is not a positive number", s)
		}
		specs = append(specs, tokenPlan(n, o.seed))
	}
	if o.mixed > 0 {
		specs = append(specs, mixedPlan(o.mixed, o.seed))
	}
	var results []checkPlanResult
	var errs []error
	for _, spec := range specs {
		path, st, err := generate(c, spec)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "check: %s (%d resources, %d token-like, %.0f MB)\n", spec.Name, st.Resources, st.Tokenguard+st.External, float64(st.Bytes)/1e6)
		res := checkPlanResult{Plan: spec, Stats: st}
		out := filepath.Join(c.work, spec.Name+".out")
		type step struct {
			tool  string
			ok    []int
			name  string
			args  []string
			count func(string) (map[string]int, error)
		}
		steps := []step{
			{toolTokenguard, []int{0, 1}, tg, []string{"check", "--format", "json", path}, countTokenguard},
			{toolConftest, []int{0, 1}, conftest, []string{"test", "--no-color", "--output", "json", "--policy", c.peer, "--namespace", "main", path}, countConftest},
			{toolOPA, []int{0}, opa, []string{"eval", "--format", "json", "--data", c.peer, "--input", path, "data.main.deny"}, countOPA},
			{toolFloor, []int{0}, self, []string{"decode-floor", path}, nil},
		}
		for _, s := range steps {
			var best *checkRow
			for range max(o.runs, 1) {
				m, err := runMeasured(ctx, s.tool, out, nil, s.ok, s.name, s.args...)
				if err != nil {
					return fmt.Errorf("%s on %s: %w", s.tool, spec.Name, err)
				}
				if best == nil || m.WallSeconds < best.WallSeconds {
					best = &checkRow{Measurement: m}
				}
			}
			if s.count != nil {
				if best.Findings, err = s.count(out); err != nil {
					return fmt.Errorf("%s on %s: reading its findings: %w", s.tool, spec.Name, err)
				}
				for _, n := range best.Findings {
					best.Total += n
				}
			}
			res.Rows = append(res.Rows, *best)
			fmt.Fprintf(c.stdout, "  %-22s %8.2fs wall %8.2fs cpu %8.0f MB  %d findings\n", s.tool, best.WallSeconds, best.CPUSeconds, best.PeakRSSMB, best.Total)
		}
		_ = os.Remove(out)
		if err := sameFindings(res); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", spec.Name, err))
		}
		results = append(results, res)
	}
	targets := checkTargets(results)
	printCheck(c, results, targets)
	if err := writeJSON(c.results, "check.json", map[string]any{"host": host(), "plans": results, "targets": targets}); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// sameFindings is the correctness gate: all three checkers must report the same number of
// findings for every rule id.
func sameFindings(r checkPlanResult) error {
	ref := r.row(toolTokenguard)
	var diffs []string
	for _, tool := range []string{toolConftest, toolOPA} {
		other := r.row(tool)
		ids := map[string]bool{}
		for id := range ref.Findings {
			ids[id] = true
		}
		for id := range other.Findings {
			ids[id] = true
		}
		for _, id := range slices.Sorted(maps.Keys(ids)) {
			if ref.Findings[id] != other.Findings[id] {
				diffs = append(diffs, fmt.Sprintf("%s: tokenguard %d, %s %d", id, ref.Findings[id], tool, other.Findings[id]))
			}
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("FINDINGS DIFFER between the checkers, the timings are not comparable:\n  %s", strings.Join(diffs, "\n  "))
	}
	return nil
}

func countTokenguard(path string) (map[string]int, error) {
	var rep struct {
		Findings []struct {
			RuleID string `json:"rule_id"`
			Waived bool   `json:"waived"`
		} `json:"findings"`
	}
	if err := readJSON(path, &rep); err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, f := range rep.Findings {
		if !f.Waived {
			out[f.RuleID]++
		}
	}
	return out, nil
}

func countConftest(path string) (map[string]int, error) {
	var rep []struct {
		Failures []struct {
			Msg string `json:"msg"`
		} `json:"failures"`
	}
	if err := readJSON(path, &rep); err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, r := range rep {
		for _, f := range r.Failures {
			out[ruleOf(f.Msg)]++
		}
	}
	return out, nil
}

func countOPA(path string) (map[string]int, error) {
	var rep struct {
		Result []struct {
			Expressions []struct {
				Value []string `json:"value"`
			} `json:"expressions"`
		} `json:"result"`
	}
	if err := readJSON(path, &rep); err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, r := range rep.Result {
		for _, e := range r.Expressions {
			for _, m := range e.Value {
				out[ruleOf(m)]++
			}
		}
	}
	return out, nil
}

// ruleOf is the rule id a peer message starts with ("CPRA-MIN-001: ...").
func ruleOf(msg string) string {
	id, _, _ := strings.Cut(msg, ":")
	return id
}

func readJSON(path string, v any) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return json.NewDecoder(f).Decode(v)
}

func checkTargets(results []checkPlanResult) []Target {
	var out []Target
	var perToken, perTokenCPU []float64
	var perTokenNames []string
	for _, r := range results {
		tg, cf, fl := r.row(toolTokenguard), r.row(toolConftest), r.row(toolFloor)
		tokens := r.Stats.Tokenguard + r.Stats.External
		switch {
		case r.Plan.Name == "tokens-100k":
			out = append(out,
				withCPU(
					atLeast("100k-token plan: tokenguard check >= 5x faster than conftest (wall)", cf.WallSeconds/tg.WallSeconds, 5, "x"), cf.CPUSeconds/tg.CPUSeconds),
				atMost("100k-token plan: tokenguard peak RSS <= 1/4 of conftest's", tg.PeakRSSMB/cf.PeakRSSMB, 0.25, "x"),
				withCPU(atMost("100k-token plan: tokenguard check within 3x of the encoding/json decode floor (wall)", tg.WallSeconds/fl.WallSeconds, 3, "x"), tg.CPUSeconds/fl.CPUSeconds))
		case r.Plan.Name == "mixed-100k":
			out = append(out, withCPU(atLeast("100k mixed plan: tokenguard check >= 10x faster than conftest (wall)", cf.WallSeconds/tg.WallSeconds, 10, "x"), cf.CPUSeconds/tg.CPUSeconds))
		}
		if strings.HasPrefix(r.Plan.Name, "tokens-") && tokens > 0 {
			perToken = append(perToken, tg.WallSeconds/float64(tokens)*1e6)
			perTokenCPU = append(perTokenCPU, tg.CPUSeconds/float64(tokens)*1e6)
			perTokenNames = append(perTokenNames, r.Plan.Name)
		}
	}
	if len(perToken) >= 2 {
		lo, hi := slices.Min(perToken), slices.Max(perToken)
		t := atMost("cost grows linearly: tokenguard time per resource within 1.5x across sizes", hi/lo, 1.5, "x")
		parts := make([]string, len(perToken))
		for i := range perToken {
			parts[i] = fmt.Sprintf("%s %.1fµs", perTokenNames[i], perToken[i])
		}
		t.Measured = fmt.Sprintf("%.2fx (%s)", hi/lo, strings.Join(parts, ", "))
		if t.Miss != "" {
			t.Miss += " (" + strings.Join(parts, ", ") + ")"
			// Say which way: a larger plan dearer per resource grows faster than linearly; a
			// smaller one dearer (fixed start-up cost, views evaluated once and then reused)
			// grows slower.
			if slices.Index(perToken, hi) < slices.Index(perToken, lo) {
				t.Miss += "; the smaller plan costs more per resource: cost grows less than linearly"
			} else {
				t.Miss += "; the larger plan costs more per resource: cost grows faster than linearly"
			}
		}
		out = append(out, withCPU(t, slices.Max(perTokenCPU)/slices.Min(perTokenCPU)))
	}
	return out
}

// withCPU adds the same ratio measured in CPU time, which a busy machine disturbs less.
func withCPU(t Target, cpuRatio float64) Target {
	t.CPURatio = cpuRatio
	suffix := fmt.Sprintf(" [in CPU time: %.2fx]", cpuRatio)
	t.Measured += suffix
	if t.Miss != "" {
		t.Miss += suffix
	}
	return t
}

func printCheck(c config, results []checkPlanResult, targets []Target) {
	w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(c.stdout)
	fmt.Fprintln(w, "plan\ttool\tfindings\twall s\tcpu s\tpeak RSS MB\tµs/resource\tconftest÷tool (wall)\tconftest÷tool (cpu)\ttool÷conftest (RSS)\t")
	for _, r := range results {
		cf := r.row(toolConftest)
		for _, row := range r.Rows {
			findings := "-"
			if row.Findings != nil {
				findings = strconv.Itoa(row.Total)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%.2f\t%.2f\t%.0f\t%.1f\t%.2fx\t%.2fx\t%.2fx\t\n", r.Plan.Name, row.Tool, findings,
				row.WallSeconds, row.CPUSeconds, row.PeakRSSMB, row.WallSeconds/float64(r.Stats.Resources)*1e6,
				cf.WallSeconds/row.WallSeconds, cf.CPUSeconds/row.CPUSeconds, row.PeakRSSMB/cf.PeakRSSMB)
		}
	}
	_ = w.Flush()
	printTargets(c, targets)
}

func printTargets(c config, targets []Target) {
	if len(targets) == 0 {
		return
	}
	fmt.Fprintln(c.stdout)
	for _, t := range targets {
		status := "MET   "
		detail := t.Measured
		if !t.Met {
			status = "MISSED"
			if t.Miss != "" {
				detail = t.Miss
			}
		}
		fmt.Fprintf(c.stdout, "%s %s: %s\n", status, t.Goal, detail)
	}
	fmt.Fprintln(c.stdout)
}
