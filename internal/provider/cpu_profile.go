package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
)

// EnvCPUProfile names a directory into which the provider process writes a CPU profile of its
// whole life (provider-<pid>.pprof), for `make bench BENCH=provider BENCHFLAGS=-provider-profile=DIR`
// (docs/benchmarks.md). Terraform starts several provider processes per command; each writes
// its own file. Unset, nothing is profiled.
const EnvCPUProfile = "TOKENGUARD_PROVIDER_CPUPROFILE"

// StartCPUProfile starts the CPU profile EnvCPUProfile asks for; stop writes it out. Without
// the variable it does nothing and stop is a no-op.
func StartCPUProfile() (stop func(), err error) {
	dir := os.Getenv(EnvCPUProfile)
	if dir == "" {
		return func() {}, nil
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("provider-%d.pprof", os.Getpid()))) //nolint:gosec // the directory the person profiling names
	if err != nil {
		return func() {}, fmt.Errorf("%s: %w", EnvCPUProfile, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return func() {}, fmt.Errorf("%s: %w", EnvCPUProfile, err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}
