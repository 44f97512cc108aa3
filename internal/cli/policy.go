package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
)

func newPolicyCommand(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Test, list and show the CPRA policy bundle",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return withCode(ExitUsage, errors.New("policy needs a subcommand: test, list or show"))
		},
	}
	cmd.AddCommand(newPolicyTestCommand(s), newPolicyListCommand(s), newPolicyShowCommand(s))
	return cmd
}

func newPolicyTestCommand(s *streams) *cobra.Command {
	var o policyTestOptions
	cmd := &cobra.Command{
		Use:   "test [DIR...]",
		Short: "Run the bundled Rego tests and the tests in DIRs",
		Long: `Run the test_ rules of the embedded policy bundle and of each DIR with OPA's tester.
The bundled modules and data are visible to the tests in DIRs, so user policies can be tested
against the same thresholds and vocabulary. Exits 1 when any test fails.

Like opa test and conftest verify, it prints only the failing tests (with their error and
output) and a one-line summary; -v prints every test, passed and skipped ones too.`,
		RunE: func(cmd *cobra.Command, dirs []string) error {
			o.dirs = dirs
			return runPolicyTest(cmd.Context(), s, o)
		},
	}
	cmd.Flags().BoolVar(&o.coverage, "coverage", false, "print the coverage of each policy file")
	cmd.Flags().BoolVarP(&o.verbose, "verbose", "v", false, "print every test, not only the failing ones")
	cmd.Flags().StringArrayVar(&o.data, "data", nil, "JSON or YAML file merged over the policy data (repeatable)")
	return cmd
}

func newPolicyListCommand(s *streams) *cobra.Command {
	var o policyRulesOptions
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the policy rules: id, severity, scope, gates and title",
		Long: `List the policy rules. --format json prints every rule's metadata (id, title,
description, severity, citation, provisions, thresholds with their basis, adds, remediation,
scope, applies_to, gates, package, file, reads)
as a JSON array, for tools and documentation.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPolicyList(cmd.Context(), s, o)
		},
	}
	cmd.Flags().StringArrayVar(&o.dirs, "policy", nil, "directory of extra Rego policies to list too (repeatable)")
	cmd.Flags().StringVar(&o.format, "format", "text", "output format: text or json")
	return cmd
}

func newPolicyShowCommand(s *streams) *cobra.Command {
	var o policyRulesOptions
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one rule: metadata, provisions with pinpoints, thresholds with their basis, remediation",
		Example: `  tokenguard policy show CPRA-RET-002
  tokenguard policy show --format json CPRA-XPR-004`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return withCode(ExitUsage, fmt.Errorf("policy show takes one rule id (see tokenguard policy list), got %d", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.id = args[0]
			return runPolicyShow(cmd.Context(), s, o)
		},
	}
	cmd.Flags().StringArrayVar(&o.dirs, "policy", nil, "directory of extra Rego policies to look in too (repeatable)")
	cmd.Flags().StringVar(&o.format, "format", "text", "output format: text or json")
	return cmd
}

type policyTestOptions struct {
	coverage, verbose bool
	dirs, data        []string
}

// runPolicyTest runs the Rego tests of the bundle and of o.dirs and prints the failures (every
// test with o.verbose) and a summary.
func runPolicyTest(ctx context.Context, s *streams, o policyTestOptions) error {
	rep, err := policy.RunTests(ctx, policy.Options{ExtraPolicyDirs: o.dirs, DataFiles: o.data}, o.coverage)
	if err != nil {
		return withCode(ExitUsage, err)
	}
	// Built in memory (printing into a bytes.Buffer cannot fail) and written once.
	var buf bytes.Buffer
	passed, failed, skipped := 0, 0, 0
	for _, r := range rep.Results {
		status := "PASS"
		switch {
		case r.Skipped:
			status = "SKIP"
			skipped++
		case r.Passed:
			passed++
		default:
			status = "FAIL"
			failed++
		}
		if status != "FAIL" && !o.verbose {
			continue
		}
		fmt.Fprintf(&buf, "%s %s.%s (%s:%d)\n", status, strings.TrimPrefix(r.Package, "data."), r.Name, r.File, r.Row)
		if r.Error != "" {
			fmt.Fprintf(&buf, "     error: %s\n", r.Error)
		}
		if !r.Passed && r.Output != "" {
			for _, line := range strings.Split(strings.TrimRight(r.Output, "\n"), "\n") {
				fmt.Fprintf(&buf, "     | %s\n", line)
			}
		}
	}
	if o.coverage {
		if buf.Len() > 0 {
			fmt.Fprintln(&buf)
		}
		for _, c := range rep.Coverage {
			fmt.Fprintf(&buf, "coverage %6.2f%%  %s\n", c.Percent, c.File)
		}
	}
	if buf.Len() > 0 {
		fmt.Fprintln(&buf)
	}
	fmt.Fprintf(&buf, "%d passed, %d failed, %d skipped\n", passed, failed, skipped)
	if _, err := s.out.Write(buf.Bytes()); err != nil {
		return withCode(ExitUsage, err)
	}
	if failed > 0 {
		return withCode(ExitFindings, errors.New(""))
	}
	return nil
}

// policyRulesOptions are the options of policy list and policy show.
type policyRulesOptions struct {
	dirs   []string
	format string
	id     string // policy show: the rule id asked for
}

// runPolicyList prints every rule of the bundle and of o.dirs.
func runPolicyList(ctx context.Context, s *streams, o policyRulesOptions) error {
	if o.format != "text" && o.format != "json" {
		return withCode(ExitUsage, fmt.Errorf("--format %q: use text or json", o.format))
	}
	e, err := policy.NewEngine(ctx, policy.Options{ExtraPolicyDirs: o.dirs})
	if err != nil {
		return withCode(ExitUsage, err)
	}
	if o.format == "json" {
		return writeJSON(s, e.Rules())
	}
	var rows bytes.Buffer
	fmt.Fprintln(&rows, "ID\tSEVERITY\tSCOPE\tGATES\tTITLE")
	for _, r := range e.Rules() {
		fmt.Fprintf(&rows, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.Severity, r.Scope, strings.Join(r.Gates, ","), r.Title)
	}
	if err := writeTable(s.out, &rows); err != nil {
		return withCode(ExitUsage, err)
	}
	return nil
}

// runPolicyShow prints the rule o.id.
func runPolicyShow(ctx context.Context, s *streams, o policyRulesOptions) error {
	if o.format != "text" && o.format != "json" {
		return withCode(ExitUsage, fmt.Errorf("--format %q: use text or json", o.format))
	}
	e, err := policy.NewEngine(ctx, policy.Options{ExtraPolicyDirs: o.dirs})
	if err != nil {
		return withCode(ExitUsage, err)
	}
	id := strings.TrimSpace(o.id)
	for _, r := range e.Rules() {
		if !strings.EqualFold(r.ID, id) {
			continue
		}
		if o.format == "json" {
			return writeJSON(s, r)
		}
		var b bytes.Buffer
		fmt.Fprintf(&b, "%s  %s\n\n", r.ID, r.Title)
		row := func(k, v string) {
			if v != "" {
				fmt.Fprintf(&b, "%-12s %s\n", k+":", v)
			}
		}
		row("severity", r.Severity)
		row("scope", r.Scope)
		row("applies to", strings.Join(r.AppliesTo, ", "))
		row("gates", strings.Join(r.Gates, ", "))
		row("citation", r.Citation)
		row("basis", r.Basis)
		row("source", r.File)
		if len(r.Provisions) > 0 {
			b.WriteString("\nProvisions (what the law says):\n")
			for _, p := range r.Provisions {
				fmt.Fprintf(&b, "  %s: %s\n", p.Cite, p.Paraphrase)
			}
		}
		if len(r.Thresholds) > 0 {
			b.WriteString("\nThresholds:\n")
			for _, t := range r.Thresholds {
				fmt.Fprintf(&b, "  %s: %s\n", t.Name, t.Basis)
			}
		}
		if r.Adds != "" {
			fmt.Fprintf(&b, "\nWhat tokenguard adds: %s\n", r.Adds)
		}
		if r.Description != "" {
			fmt.Fprintf(&b, "\n%s\n", r.Description)
		}
		if r.Remediation != "" {
			fmt.Fprintf(&b, "\nRemediation: %s\n", r.Remediation)
		}
		if _, err := s.out.Write(b.Bytes()); err != nil {
			return withCode(ExitUsage, err)
		}
		return nil
	}
	return withCode(ExitUsage, fmt.Errorf("no rule %q in the policy bundle: run tokenguard policy list for the rule ids", id))
}

// writeJSON writes v as indented JSON to the command's output.
func writeJSON(s *streams, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return withCode(ExitUsage, err)
	}
	if _, err := s.out.Write(append(b, '\n')); err != nil {
		return withCode(ExitUsage, err)
	}
	return nil
}
