package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/report"
)

type checkOptions struct {
	format, output, configDir, waivers, failOn, now, existing string
	// pathPrefix is joined in front of configuration file paths; nil: the config
	// directory's path below its git work tree's root.
	pathPrefix     *string
	data, policies []string
	service        clientFlags // --service: erased subjects from a token service
	connectService connectFunc // the client of --service
	plans          []string    // the PLAN arguments
}

func newCheckCommand(s *streams) *cobra.Command {
	var o checkOptions
	cmd := &cobra.Command{
		Use:   "check [flags] PLAN...",
		Short: "Check a Terraform plan's tokens against the CPRA policies",
		Long: `Check every token-like resource change of a Terraform plan (tokenguard_api_token and the
tokens and keys of other providers) against the embedded CPRA policy bundle.

PLAN is the JSON of "terraform show -json tfplan", "-" to read it from stdin, or a binary plan
file (tokenguard then runs "terraform show -json" with the terraform on PATH, in --config-dir
when given). Several plans are checked in one run and reported together.

--config-dir names the configuration: its root module directory, or a directory above it
(the repository root), below which the root module that declares the plan's resources is
found. Findings get the file and the line of the attribute they are about; file paths are
relative to the repository root (the git work tree holding --config-dir), or prefixed with
--path-prefix.

Exit codes: 0 no blocking findings, 1 blocking findings, 2 usage or input error.`,
		Example: `  terraform plan -out=tfplan && terraform show -json tfplan > plan.json
  tokenguard check plan.json
  tokenguard check --format sarif --output tokenguard.sarif --config-dir . tfplan`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return withCode(ExitUsage, errors.New("check takes one or more PLAN arguments (plan JSON files, - for stdin, or binary plan files), got none"))
			}
			stdin := 0
			for _, a := range args {
				if a == "-" {
					stdin++
				}
			}
			if stdin > 1 {
				return withCode(ExitUsage, errors.New("check reads stdin (-) once: name it one time"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("path-prefix") {
				p, _ := cmd.Flags().GetString("path-prefix")
				o.pathPrefix = &p
			}
			o.plans = args
			o.connectService = o.service.connector(cmd)
			return runCheck(cmd.Context(), s, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.format, "format", "text", "output format: "+strings.Join(report.Names(), ", "))
	f.StringVarP(&o.output, "output", "o", "", "write the report to FILE instead of stdout")
	f.StringVar(&o.configDir, "config-dir", "", "Terraform configuration: the root module directory, or a directory above it such as the repository root; findings get the file and the line of the attribute")
	f.String("path-prefix", "", "joined in front of configuration file paths in findings (default: the path of --config-dir below the root of its git work tree, so paths are repository-relative)")
	f.StringVar(&o.waivers, "waivers", "", "YAML file of waivers: rule, address (a glob: * matches any characters, dots and brackets too), reason, approved_by, expires (YYYY-MM-DD)")
	f.StringVar(&o.failOn, "fail-on", policy.SeverityError, "lowest severity that fails the check: error or warning")
	f.StringArrayVar(&o.data, "data", nil, `JSON or YAML file merged over the policy data, e.g. {"tokenguard": {"thresholds": {"ttl_max_days": 60}}} (repeatable)`)
	f.StringArrayVar(&o.policies, "policy", nil, "directory of extra Rego policies with METADATA rule ids (repeatable)")
	f.StringVar(&o.service.endpoint, "service", "", "token service URL: merge its erased subjects (data.tokenguard.erased_subjects) for CPRA-DEL-001; needs --token")
	f.StringVar(&o.service.token, "token", "", "API credential for --service; prefer the environment variable (env TOKENGUARD_TOKEN)")
	f.StringVar(&o.service.caCert, "ca-cert", "", "PEM file of a CA to trust for --service (env TOKENGUARD_CA_CERT)")
	f.StringVar(&o.existing, "existing", policy.ExistingBlock, "findings on what the plan leaves as it was: block (default), or warn (the ratchet: an error finding on an attribute the plan does not change, of a token that already exists, is reported as a warning; new tokens and changed attributes still block)")
	f.StringVar(&o.now, "now", "", "RFC 3339 time used as today for waiver expiry and for plans without a timestamp (testing)")
	_ = f.MarkHidden("now")
	return cmd
}

// checkGCPercent is the garbage collector target of the check command (GOGC=200).
const checkGCPercent = 200

// runCheck checks the plans of o against the policy bundle and writes the report.
func runCheck(ctx context.Context, s *streams, o checkOptions) error {
	if o.service.endpoint != "" {
		file, cleanup, err := erasedSubjectsDataFile(ctx, o.connectService)
		if err != nil {
			return err
		}
		defer cleanup()
		o.data = append(o.data, file) // last: its erased_subjects list replaces one from --data
	}
	format, err := report.Get(o.format)
	if err != nil {
		return withCode(ExitUsage, fmt.Errorf("--format: %w", err))
	}
	if o.failOn != policy.SeverityError && o.failOn != policy.SeverityWarning {
		return withCode(ExitUsage, fmt.Errorf("--fail-on %q: use error or warning", o.failOn))
	}
	if o.existing != policy.ExistingBlock && o.existing != policy.ExistingWarn {
		return withCode(ExitUsage, fmt.Errorf("--existing %q: use block or warn", o.existing))
	}
	clock := time.Now
	if o.now != "" {
		t, err := time.Parse(time.RFC3339, o.now)
		if err != nil {
			return withCode(ExitUsage, fmt.Errorf("--now %q: use an RFC 3339 time such as 2026-11-27T12:00:00Z", o.now))
		}
		clock = func() time.Time { return t }
	}
	var waivers []policy.Waiver
	if o.waivers != "" {
		if waivers, err = policy.LoadWaivers(o.waivers); err != nil {
			return withCode(ExitUsage, err)
		}
	}
	if o.configDir != "" {
		if _, err := os.Stat(o.configDir); err != nil { // before the plan is read: a typo fails fast
			return withCode(ExitUsage, fmt.Errorf("config directory %s: %w", o.configDir, unwrapPath(err)))
		}
	}
	if os.Getenv("GOGC") == "" {
		// Checking allocates many short-lived OPA values; collecting half as often cuts
		// about a tenth of the CPU time at 100k tokens, for peak RSS 489 -> 565 MB there
		// (docs/benchmarks.md). An explicit GOGC wins; the old setting is restored.
		defer debug.SetGCPercent(debug.SetGCPercent(checkGCPercent))
	}
	engine, err := policy.NewEngine(ctx, policy.Options{ExtraPolicyDirs: o.policies, DataFiles: o.data, Now: clock})
	if err != nil {
		return withCode(ExitUsage, err)
	}

	prefix := ""
	if o.pathPrefix != nil {
		prefix = *o.pathPrefix
	} else if o.configDir != "" {
		prefix = policy.GitPrefix(o.configDir)
	}
	var findings []policy.Finding
	var resources []string
	owners := map[string]string{}
	for _, planArg := range o.plans {
		res, err := checkPlan(ctx, s, engine, planArg, o.configDir, o.existing)
		if err != nil {
			return err
		}
		if cfg := res.Config; cfg != nil {
			cfg.Apply(res.Findings, prefix)
			if len(res.Resources) > 0 && cfg.Matches(res.Resources) == 0 {
				where := "it declares none of them"
				if len(cfg.Resources) == 0 {
					where = "it holds no resource blocks"
				}
				_, _ = fmt.Fprintf(s.err, "tokenguard: warning: --config-dir %s matched none of the %d resources checked in %s (%s), so findings carry no file or line: pass the root module directory Terraform planned, or a directory above it\n",
					o.configDir, len(res.Resources), planArg, where)
			}
		}
		findings = append(findings, res.Findings...)
		resources = append(resources, res.Resources...)
		maps.Copy(owners, res.Owners)
	}
	policy.SortFindings(findings)
	if o.waivers != "" {
		// The waiver policy (data.tokenguard.waivers) is the one the provider and the service
		// apply: a refused waiver is an input error naming file:line, never silently dropped.
		if err := policy.GovernWaivers(waivers, engine.WaiverPolicy(), clock(), o.waivers, owners); err != nil {
			return withCode(ExitUsage, err)
		}
		findings = policy.ApplyWaivers(findings, waivers, clock(), o.waivers)
	}
	rep := report.Report{Findings: findings, Rules: engine.Rules(), Resources: resources, FailOn: o.failOn}

	if o.output != "" {
		var buf bytes.Buffer
		if err := format.Write(&buf, rep); err != nil {
			return withCode(ExitUsage, fmt.Errorf("writing report: %w", err))
		}
		if err := os.WriteFile(o.output, buf.Bytes(), 0o644); err != nil { //nolint:gosec // reports are meant to be read by CI
			return withCode(ExitUsage, fmt.Errorf("--output %s: %w", o.output, unwrapPath(err)))
		}
	} else {
		rep.Color = o.format == "text" && isTerminal(s.out) && os.Getenv("NO_COLOR") == ""
		if err := format.Write(s.out, rep); err != nil {
			return withCode(ExitUsage, fmt.Errorf("writing report: %w", err))
		}
	}
	if rep.Summary().Blocking > 0 {
		return withCode(ExitFindings, errors.New(""))
	}
	return nil
}

// checkPlan reads and evaluates one plan argument.
func checkPlan(ctx context.Context, s *streams, engine *policy.Engine, planArg, configDir, existing string) (policy.Result, error) {
	in, name, cleanup, err := openPlan(ctx, s, planArg, configDir)
	if err != nil {
		return policy.Result{}, withCode(ExitUsage, err)
	}
	po := policy.PlanOptions{Existing: existing}
	if configDir != "" {
		po.Config = func(addresses []string) (*policy.Config, error) {
			return policy.LoadConfigTree(configDir, addresses)
		}
	}
	res, err := engine.EvaluatePlanWith(ctx, in, po)
	if cerr := cleanup(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return policy.Result{}, withCode(ExitUsage, fmt.Errorf("%s: %w", name, err))
	}
	return res, nil
}

// zipMagic starts every binary Terraform plan file (a zip archive).
var zipMagic = []byte("PK\x03\x04")

// openPlan opens the plan argument: a JSON file, "-" for stdin, or a binary plan that is
// converted with `terraform show -json`. cleanup waits for terraform and reports its failure.
func openPlan(ctx context.Context, s *streams, arg, configDir string) (r io.Reader, name string, cleanup func() error, err error) {
	noop := func() error { return nil }
	var br *bufio.Reader
	if arg == "-" {
		name = "stdin"
		br = bufio.NewReader(s.in)
	} else {
		name = arg
		info, err := os.Stat(arg)
		if err != nil {
			return nil, "", nil, fmt.Errorf("plan file %s: %w", arg, unwrapPath(err))
		}
		if info.IsDir() {
			return nil, "", nil, fmt.Errorf("%s is a directory: pass a plan JSON file (terraform show -json tfplan > plan.json) or a binary plan file", arg)
		}
		f, err := os.Open(arg) //nolint:gosec // the user names the plan to read
		if err != nil {
			return nil, "", nil, fmt.Errorf("plan file %s: %w", arg, unwrapPath(err))
		}
		br = bufio.NewReader(f)
		noop = f.Close
	}
	head, _ := br.Peek(len(zipMagic))
	if !bytes.Equal(head, zipMagic) {
		return br, name, noop, nil
	}
	defer func() { _ = noop() }()
	return showBinaryPlan(ctx, br, arg, name, configDir)
}

// showBinaryPlan runs `terraform show -json` on a binary plan and streams its output.
func showBinaryPlan(ctx context.Context, br *bufio.Reader, arg, name, configDir string) (io.Reader, string, func() error, error) {
	tf, err := exec.LookPath("terraform")
	if err != nil {
		return nil, "", nil, fmt.Errorf("%s is a binary plan file and terraform is not on PATH: install Terraform, or pass the output of terraform show -json", name)
	}
	path := arg
	var tmp string
	if arg == "-" {
		f, err := os.CreateTemp("", "tokenguard-plan-*.tfplan")
		if err != nil {
			return nil, "", nil, fmt.Errorf("saving the binary plan from stdin: %w", err)
		}
		tmp = f.Name()
		_, err = io.Copy(f, br)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(tmp)
			return nil, "", nil, fmt.Errorf("saving the binary plan from stdin: %w", err)
		}
		path = tmp
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	cmd := exec.CommandContext(ctx, tf, "show", "-json", "-no-color", path) //nolint:gosec // runs the terraform found on PATH on the user's plan
	if configDir != "" {
		cmd.Dir = configDir
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", nil, fmt.Errorf("running terraform show -json %s: %w", name, err)
	}
	var (
		once    sync.Once
		waitErr error
	)
	wait := func() error {
		once.Do(func() {
			_, _ = io.Copy(io.Discard, out)
			err := cmd.Wait()
			if tmp != "" {
				_ = os.Remove(tmp)
			}
			if err != nil {
				msg := firstLine(stderr.String())
				if msg == "" {
					msg = err.Error()
				}
				waitErr = fmt.Errorf("terraform show -json failed: %s", msg)
			}
		})
		return waitErr
	}
	return &waitOnEOF{r: out, wait: wait}, name + " (terraform show -json)", wait, nil
}

// waitOnEOF reports terraform's own failure instead of the truncated JSON it leaves behind.
type waitOnEOF struct {
	r    io.Reader
	wait func() error
}

func (w *waitOnEOF) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if errors.Is(err, io.EOF) {
		if werr := w.wait(); werr != nil {
			return n, werr
		}
	}
	return n, err
}

// firstLine picks terraform's first error line ("Error: ..."), else its first non-blank line.
func firstLine(s string) string {
	first := ""
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(strings.Trim(line, "╷│╵ \t\r"))
		if strings.HasPrefix(line, "Error:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "Error:"))
		}
		if first == "" {
			first = line
		}
	}
	return first
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// isTerminal reports whether w is a terminal, for colour.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) //nolint:gosec // file descriptors fit in int
}
