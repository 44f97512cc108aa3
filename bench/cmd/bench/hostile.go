package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/bench/plangen"
)

// hostileCase is one plan shaped to exhaust a checker's memory.
type hostileCase struct {
	Name  string          `json:"name"`
	Shape plangen.Hostile `json:"shape"`
}

// hostileCases: the 3-million-scope token of issue 17, and plans that stay just inside the
// checker's limits per resource change (10,000 values per list, 25,000 per change) while
// holding millions of values in all, one over the limit per change, and a plan of long strings.
var hostileCases = []hostileCase{
	{"one token, 3,000,000 scopes", plangen.Hostile{Tokens: 1, Scopes: 3_000_000}},
	{"300 tokens, 10,000 scopes each", plangen.Hostile{Tokens: 300, Scopes: 10_000}},
	{"120 tokens, 24,000 rotation triggers each", plangen.Hostile{Tokens: 120, Triggers: 24_000}},
	{"one token, 99,000 rotation triggers", plangen.Hostile{Tokens: 1, Triggers: 99_000}},
	{"10 tokens, 5 MB purpose each", plangen.Hostile{Tokens: 10, PurposeBytes: 5_000_000}},
}

// hostileRow is tokenguard check on one hostile plan.
type hostileRow struct {
	Case      hostileCase `json:"case"`
	PlanBytes int         `json:"plan_bytes"`
	Measurement
	// LimitMB is 4x the plan's size plus 64 MB: the most peak RSS issue 17 allows.
	LimitMB float64 `json:"limit_mb"`
	// Refusal is the first line of stderr of an exit 2.
	Refusal string `json:"refusal,omitempty"`
	Met     bool   `json:"met"`
}

type hostileResult struct {
	Host    hostInfo     `json:"host"`
	Rows    []hostileRow `json:"rows"`
	Targets []Target     `json:"targets"`
}

// benchHostile runs tokenguard check on each hostile plan and checks its peak RSS (getrusage
// of the child) against 4x the plan's size plus 64 MB, unless it exits 2 naming a limit.
func benchHostile(ctx context.Context, c config) error {
	tg, err := c.tool("tokenguard")
	if err != nil {
		return err
	}
	dir := filepath.Join(c.work, "hostile")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	res := hostileResult{Host: host()}
	for i, hc := range hostileCases {
		path := filepath.Join(dir, fmt.Sprintf("hostile-%d.json", i))
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		n, err := plangen.WriteHostile(f, hc.Shape)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		errPath := path + ".stderr"
		m, err := runMeasuredStderr(ctx, "tokenguard check", errPath, tg, "check", "--format", "json", path)
		if err != nil {
			return err
		}
		row := hostileRow{Case: hc, PlanBytes: n, Measurement: m, LimitMB: 4*float64(n)/(1<<20) + 64}
		stderr, _ := os.ReadFile(errPath)
		first, _, _ := strings.Cut(strings.TrimSpace(string(stderr)), "\n")
		switch m.ExitCode {
		case 0, 1:
			row.Met = m.PeakRSSMB <= row.LimitMB
		case 2:
			row.Refusal = first
			row.Met = strings.Contains(first, "more than") && m.PeakRSSMB <= row.LimitMB
		default:
			row.Refusal = first
		}
		res.Rows = append(res.Rows, row)
		verdict := fmt.Sprintf("%.0f MB peak RSS for a %.1f MB plan (limit %.0f MB), exit %d", m.PeakRSSMB, float64(n)/1e6, row.LimitMB, m.ExitCode)
		if row.Refusal != "" {
			verdict += ": " + row.Refusal
		}
		t := Target{Goal: hc.Name + ": peak RSS <= 4x plan + 64 MB, or exit 2 naming the limit", Measured: verdict, Met: row.Met,
			Value: m.PeakRSSMB, Required: row.LimitMB}
		if !t.Met {
			t.Miss = fmt.Sprintf("missed: %.0f MB peak RSS, %.0f MB allowed (%.1fx over)", m.PeakRSSMB, row.LimitMB, m.PeakRSSMB/row.LimitMB)
		}
		res.Targets = append(res.Targets, t)
		_ = os.Remove(errPath)
	}
	w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(c.stdout)
	fmt.Fprintln(w, "hostile plan\tplan MB\texit\twall s\tCPU s\tpeak RSS MB\tlimit MB\t")
	for _, r := range res.Rows {
		fmt.Fprintf(w, "%s\t%.1f\t%d\t%.2f\t%.2f\t%.0f\t%.0f\t\n", r.Case.Name, float64(r.PlanBytes)/1e6, r.ExitCode, r.WallSeconds, r.CPUSeconds, r.PeakRSSMB, r.LimitMB)
	}
	_ = w.Flush()
	printTargets(c, res.Targets)
	return writeJSON(c.results, "hostile.json", res)
}

// runMeasuredStderr runs name with args, stdout discarded and stderr written to errPath, and
// returns what it cost whatever its exit code.
func runMeasuredStderr(ctx context.Context, tool, errPath, name string, args ...string) (Measurement, error) {
	f, err := os.Create(errPath)
	if err != nil {
		return Measurement{}, err
	}
	defer func() { _ = f.Close() }()               // stderr of a finished child: nothing left to lose
	cmd := exec.CommandContext(ctx, name, args...) //nolint:gosec // G204: the tokenguard binary the benchmark was given
	cmd.Stderr = f
	start := time.Now()
	err = cmd.Run()
	m := Measurement{Tool: tool, WallSeconds: time.Since(start).Seconds()}
	if cmd.ProcessState == nil {
		return m, fmt.Errorf("%s: %w", tool, err)
	}
	m.ExitCode = cmd.ProcessState.ExitCode()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.CPUSeconds = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
		m.PeakRSSMB = float64(ru.Maxrss) / 1024 // kilobytes on Linux
	}
	return m, nil
}
