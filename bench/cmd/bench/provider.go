package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	pprofile "github.com/google/pprof/profile"
)

type providerOptions struct {
	resources   int
	parallelism int
	runs        int
	// profile is a directory for CPU profiles of the provider processes: one subdirectory
	// per run, configuration and phase (run1/tokenguard_api_token/plan/provider-<pid>.pprof).
	profile string
}

func (o *providerOptions) flags(fs *flag.FlagSet) {
	fs.IntVar(&o.resources, "resources", 500, "resources per configuration")
	fs.IntVar(&o.parallelism, "parallelism", 10, "terraform -parallelism for both configurations")
	fs.IntVar(&o.runs, "provider-runs", 3, "runs of each configuration, each on a fresh service and state; the fastest plan+apply is kept")
	fs.StringVar(&o.profile, "provider-profile", "", "directory for CPU profiles of every provider process (go tool pprof reads them); empty: none")
}

// tokenAttributes are the attributes of every benchmark token, also fed to terraform_data
// so both configurations carry the same values.
const tokenAttributes = `
  name            = "bench-${count.index}"
  owner           = "team-billing"
  purpose         = "Reads invoice totals for the monthly revenue report"
  scopes          = ["invoices:read"]
  data_categories = ["commercial"]
  audiences       = ["billing-api"]
  ttl             = "30d"
  rotation = {
    interval = "7d"
    overlap  = "1h"
  }
`

// providerRow is terraform plan and apply of one configuration, then a plan of the applied
// configuration, which changes nothing (Terraform refreshes every resource: for tokens, a
// read of each from the service).
type providerRow struct {
	Config   string      `json:"config"`
	Plan     Measurement `json:"plan"`
	Apply    Measurement `json:"apply"`
	NoopPlan Measurement `json:"noop_plan"`
}

func (r providerRow) total() float64 { return r.Plan.WallSeconds + r.Apply.WallSeconds }

func benchProvider(ctx context.Context, c config, o providerOptions) error {
	tg, err := c.tool("tokenguard")
	if err != nil {
		return err
	}
	if _, err := c.tool("terraform-provider-tokenguard"); err != nil {
		return err
	}
	terraform, err := exec.LookPath("terraform")
	if err != nil {
		return fmt.Errorf("terraform not found on PATH: %w", err)
	}
	best := map[string]providerRow{}
	bestPlan := map[string]Measurement{} // fastest plan and no-op plan of each configuration, over the runs
	for run := range max(o.runs, 1) {
		profile := ""
		if o.profile != "" {
			profile = filepath.Join(o.profile, fmt.Sprintf("run%d", run+1))
		}
		rows, err := providerRun(ctx, c, o, tg, terraform, filepath.Join(c.work, "provider"), profile)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if b, ok := best[r.Config]; !ok || r.total() < b.total() {
				best[r.Config] = r
			}
			fmt.Fprintf(c.stdout, "provider: run %d %-22s plan %6.2fs (CPU %5.2fs)  apply %6.2fs  no-op plan %6.2fs (CPU %5.2fs)  load %s\n", run+1, r.Config,
				r.Plan.WallSeconds, r.Plan.CPUSeconds, r.Apply.WallSeconds, r.NoopPlan.WallSeconds, r.NoopPlan.CPUSeconds, host().Load1)
			if r.Plan.ProviderCPUSeconds > 0 {
				fmt.Fprintf(c.stdout, "provider: run %d %-22s provider CPU: plan %.2fs, no-op plan %.2fs (CPU profiles in %s)\n", run+1, r.Config,
					r.Plan.ProviderCPUSeconds, r.NoopPlan.ProviderCPUSeconds, filepath.Join(o.profile, fmt.Sprintf("run%d", run+1)))
			}
			for _, p := range []*struct {
				name string
				m    Measurement
			}{{"plan", r.Plan}, {"no-op plan", r.NoopPlan}} {
				key := r.Config + " " + p.name
				if b, ok := bestPlan[key]; !ok || p.m.WallSeconds < b.WallSeconds {
					bestPlan[key] = p.m
				}
			}
		}
	}
	var rows []providerRow
	for _, name := range []string{"terraform_data", "tokenguard_api_token"} {
		if r, ok := best[name]; ok {
			rows = append(rows, r)
		}
	}
	if len(rows) != 2 {
		return errors.New("provider benchmark incomplete")
	}
	ratio := rows[1].total() / rows[0].total()
	planRatio := func(name string) (wall, cpu float64) {
		d, t := bestPlan["terraform_data "+name], bestPlan["tokenguard_api_token "+name]
		return t.WallSeconds / d.WallSeconds, t.CPUSeconds / d.CPUSeconds
	}
	createWall, createCPU := planRatio("plan")
	noopWall, noopCPU := planRatio("no-op plan")
	targets := []Target{
		atMost(fmt.Sprintf("provider: plan+apply of %d tokens within 2x of %d terraform_data", o.resources, o.resources), ratio, 2, "x"),
		atMost(fmt.Sprintf("provider: plan of %d tokens (create) within 2x of %d terraform_data", o.resources, o.resources), createWall, 2, "x"),
		atMost(fmt.Sprintf("provider: no-op plan of %d existing tokens within 3x of %d terraform_data", o.resources, o.resources), noopWall, 3, "x"),
	}
	targets[1].CPURatio, targets[2].CPURatio = createCPU, noopCPU
	fmt.Fprintln(c.stdout)
	w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "configuration\tresources\tplan s\tapply s\tplan+apply s\tcpu s\tpeak RSS MB (terraform)\tratio\t")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.0f\t%.2fx\t\n", r.Config, o.resources, r.Plan.WallSeconds, r.Apply.WallSeconds, r.total(),
			r.Plan.CPUSeconds+r.Apply.CPUSeconds, max(r.Plan.PeakRSSMB, r.Apply.PeakRSSMB), r.total()/rows[0].total())
	}
	_ = w.Flush()
	fmt.Fprintln(c.stdout)
	w = tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "plan alone (fastest of the runs)\tresources\twall s\tCPU s (terraform + provider)\twall ratio\tCPU ratio\t")
	for _, name := range []string{"plan", "no-op plan"} {
		for _, cfg := range []string{"terraform_data", "tokenguard_api_token"} {
			m, d := bestPlan[cfg+" "+name], bestPlan["terraform_data "+name]
			fmt.Fprintf(w, "%s, %s\t%d\t%.2f\t%.2f\t%.2fx\t%.2fx\t\n", cfg, name, o.resources, m.WallSeconds, m.CPUSeconds, m.WallSeconds/d.WallSeconds, m.CPUSeconds/d.CPUSeconds)
		}
	}
	_ = w.Flush()
	if o.profile != "" {
		// What Terraform itself spends on 500 provider resources (gRPC, msgpack, schema work a
		// built-in resource does not need): the part of the ratio no provider can remove.
		fmt.Fprintln(c.stdout)
		w = tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(w, "tokenguard_api_token (profiled)	CPU s	provider CPU s	Terraform alone CPU s	Terraform alone / terraform_data	")
		for _, name := range []string{"plan", "no-op plan"} {
			m, d := bestPlan["tokenguard_api_token "+name], bestPlan["terraform_data "+name]
			own := m.CPUSeconds - m.ProviderCPUSeconds
			fmt.Fprintf(w, "%s\t%.2f\t%.2f\t%.2f\t%.2fx\t\n", name, m.CPUSeconds, m.ProviderCPUSeconds, own, own/d.CPUSeconds)
		}
		_ = w.Flush()
	}
	printTargets(c, targets)
	return writeJSON(c.results, "provider.json", map[string]any{"host": host(), "resources": o.resources, "parallelism": o.parallelism, "rows": rows, "plans": bestPlan, "targets": targets})
}

// providerRun starts a fresh tokenguard serve and runs terraform plan and apply of both
// configurations in fresh working directories under dir.
// With profile set, each phase's provider processes write CPU profiles under
// profile/<configuration>/<phase>.
func providerRun(ctx context.Context, c config, o providerOptions, tg, terraform, dir, profile string) ([]providerRow, error) {
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// dev_overrides makes Terraform use the provider built from this repository, without
	// terraform init or a registry; terraform_data is built into Terraform.
	cli := filepath.Join(dir, "terraformrc")
	rc := fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"tokenguard/tokenguard\" = %q\n  }\n  direct {}\n}\n", c.bin)
	if err := os.WriteFile(cli, []byte(rc), 0o600); err != nil {
		return nil, err
	}
	admin := randomSecret()
	srv, err := startServer(ctx, "tokenguard serve", []string{"TOKENGUARD_ADMIN_TOKEN=" + admin}, tg, "serve",
		"--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "tokenguard.db"), "--log-level", "error")
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	env := []string{"TF_CLI_CONFIG_FILE=" + cli, "TF_IN_AUTOMATION=1", "TOKENGUARD_TOKEN=" + admin, "CHECKPOINT_DISABLE=1"}

	configs := []struct{ name, hcl string }{
		{"terraform_data", fmt.Sprintf("resource \"terraform_data\" \"t\" {\n  count = %d\n  input = {%s  }\n}\n", o.resources,
			strings.ReplaceAll(tokenAttributes, "\n  ", "\n    "))},
		{"tokenguard_api_token", fmt.Sprintf(`terraform {
  required_providers {
    tokenguard = {
      source = "tokenguard/tokenguard"
    }
  }
}

provider "tokenguard" {
  endpoint = %q
}

resource "tokenguard_api_token" "t" {
  count = %d
%s}
`, srv.url, o.resources, tokenAttributes)},
	}
	var rows []providerRow
	for _, cfg := range configs {
		wd := filepath.Join(dir, cfg.name)
		if err := os.MkdirAll(wd, 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(wd, "main.tf"), []byte(cfg.hcl), 0o600); err != nil {
			return nil, err
		}
		par := fmt.Sprintf("-parallelism=%d", o.parallelism)
		phaseEnv := func(phase string) ([]string, error) {
			if profile == "" || cfg.name == "terraform_data" {
				return env, nil
			}
			d := filepath.Join(profile, cfg.name, phase)
			if err := os.MkdirAll(d, 0o700); err != nil {
				return nil, err
			}
			return append(slices.Clone(env), "TOKENGUARD_PROVIDER_CPUPROFILE="+d), nil
		}
		env, err := phaseEnv("plan")
		if err != nil {
			return nil, err
		}
		plan, err := runMeasured(ctx, "terraform plan", "", env, []int{0}, terraform, "-chdir="+wd, "plan", "-input=false", "-no-color", "-lock=false", par, "-out=tfplan")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cfg.name, err)
		}
		if plan.ProviderCPUSeconds, err = profiledCPU(profile, cfg.name, "plan"); err != nil {
			return nil, err
		}
		if env, err = phaseEnv("apply"); err != nil {
			return nil, err
		}
		apply, err := runMeasured(ctx, "terraform apply", "", env, []int{0}, terraform, "-chdir="+wd, "apply", "-input=false", "-no-color", "-lock=false", par, "-auto-approve", "tfplan")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cfg.name, err)
		}
		// -detailed-exitcode: 0 is "no changes", which the configuration just applied must give.
		if env, err = phaseEnv("noop-plan"); err != nil {
			return nil, err
		}
		noop, err := runMeasured(ctx, "terraform plan (no-op)", "", env, []int{0}, terraform, "-chdir="+wd, "plan", "-input=false", "-no-color", "-lock=false", par, "-detailed-exitcode")
		if err != nil {
			return nil, fmt.Errorf("%s: the plan after apply: %w", cfg.name, err)
		}
		if noop.ProviderCPUSeconds, err = profiledCPU(profile, cfg.name, "noop-plan"); err != nil {
			return nil, err
		}
		rows = append(rows, providerRow{Config: cfg.name, Plan: plan, Apply: apply, NoopPlan: noop})
	}
	return rows, nil
}

// profiledCPU sums the CPU time sampled in the provider profiles of one phase
// (profile/<configuration>/<phase>/*.pprof); 0 without profiles.
func profiledCPU(profile, config, phase string) (float64, error) {
	if profile == "" {
		return 0, nil
	}
	files, err := filepath.Glob(filepath.Join(profile, config, phase, "*.pprof"))
	if err != nil {
		return 0, err
	}
	var total float64
	for _, name := range files {
		f, err := os.Open(name) //nolint:gosec // a profile this benchmark asked the provider to write
		if err != nil {
			return 0, err
		}
		p, err := pprofile.Parse(f)
		_ = f.Close()
		if err != nil {
			return 0, fmt.Errorf("CPU profile %s: %w", name, err)
		}
		i := slices.IndexFunc(p.SampleType, func(t *pprofile.ValueType) bool { return t.Type == "cpu" && t.Unit == "nanoseconds" })
		if i < 0 {
			return 0, fmt.Errorf("CPU profile %s has no cpu/nanoseconds samples", name)
		}
		for _, s := range p.Sample {
			total += float64(s.Value[i]) / 1e9
		}
	}
	return math.Round(total*1000) / 1000, nil
}
