package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Measurement is the cost of one child process, as the OS accounted it.
type Measurement struct {
	Tool string `json:"tool"`
	// WallSeconds is the elapsed time from start to exit.
	WallSeconds float64 `json:"wall_seconds"`
	// CPUSeconds is user plus system time of the process (and its waited-for children); on
	// a shared machine it is steadier than wall time.
	CPUSeconds float64 `json:"cpu_seconds"`
	// PeakRSSMB is the maximum resident set size (getrusage ru_maxrss).
	PeakRSSMB float64 `json:"peak_rss_mb"`
	ExitCode  int     `json:"exit_code"`
	// ProviderCPUSeconds is the CPU time of the tokenguard provider processes within
	// CPUSeconds, from their CPU profiles (bench provider -provider-profile); 0 when not
	// profiled.
	ProviderCPUSeconds float64 `json:"provider_cpu_seconds,omitempty"`
}

// runMeasured runs name with args, sending stdout to the file out ("" discards it), and
// returns what it cost. okCodes are the exit codes that count as success (a checker exits 1
// when it finds violations).
func runMeasured(ctx context.Context, tool, out string, env []string, okCodes []int, name string, args ...string) (Measurement, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			return Measurement{}, err
		}
		defer f.Close()
		cmd.Stdout = f
	}
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	m := Measurement{Tool: tool, WallSeconds: wall.Seconds()}
	if cmd.ProcessState == nil {
		return m, fmt.Errorf("%s: %w", tool, err)
	}
	m.ExitCode = cmd.ProcessState.ExitCode()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.CPUSeconds = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
		m.PeakRSSMB = float64(ru.Maxrss) / 1024 // kilobytes on Linux
	}
	for _, c := range okCodes {
		if m.ExitCode == c {
			return m, nil
		}
	}
	return m, fmt.Errorf("%s %s exited %d: %s", tool, strings.Join(shortArgs(args), " "), m.ExitCode, lastLines(stderr.String(), 5))
}

func shortArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if filepath.IsAbs(a) {
			a = filepath.Base(a)
		}
		out[i] = a
	}
	return out
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// decodeFloor is the hidden `bench decode-floor FILE` child: it decodes the whole plan with
// encoding/json into an empty interface and nothing else, the floor any Go checker that
// reads the plan with the standard library pays.
func decodeFloor(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: bench decode-floor PLAN.json")
		return 2
	}
	f, err := os.Open(args[0])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer f.Close()
	var v any
	if err := json.NewDecoder(f).Decode(&v); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	rc, _ := v.(map[string]any)["resource_changes"].([]any)
	fmt.Fprintln(stdout, len(rc))
	return 0
}

// writeJSON writes v, indented, to dir/name.
func writeJSON(dir, name string, v any) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name), append(b, '\n'), 0o644)
}

// hostInfo describes the machine a result was measured on.
type hostInfo struct {
	Time   string `json:"time"`
	CPUs   int    `json:"cpus"`
	Load1  string `json:"load_average_1m"`
	Kernel string `json:"kernel"`
}

func host() hostInfo {
	h := hostInfo{Time: time.Now().UTC().Format(time.RFC3339), CPUs: numCPU()}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		h.Load1 = strings.Fields(string(b))[0]
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		h.Kernel = strings.TrimSpace(string(b))
	}
	return h
}

func numCPU() int { return runtime.NumCPU() }
