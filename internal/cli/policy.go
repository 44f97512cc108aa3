package cli

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
)

func newPolicyCommand(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Test and list the CPRA policy bundle",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return withCode(ExitUsage, errors.New("policy needs a subcommand: test or list"))
		},
	}
	cmd.AddCommand(newPolicyTestCommand(s), newPolicyListCommand(s))
	return cmd
}

func newPolicyTestCommand(s *streams) *cobra.Command {
	var (
		coverage bool
		data     []string
	)
	cmd := &cobra.Command{
		Use:   "test [DIR...]",
		Short: "Run the bundled Rego tests and the tests in DIRs",
		Long: `Run the test_ rules of the embedded policy bundle and of each DIR with OPA's tester.
The bundled modules and data are visible to the tests in DIRs, so user policies can be tested
against the same thresholds and vocabulary. Exits 1 when any test fails.`,
		RunE: func(cmd *cobra.Command, dirs []string) error {
			rep, err := policy.RunTests(cmd.Context(), policy.Options{ExtraPolicyDirs: dirs, DataFiles: data}, coverage)
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
			if coverage {
				fmt.Fprintln(&buf)
				for _, c := range rep.Coverage {
					fmt.Fprintf(&buf, "coverage %6.2f%%  %s\n", c.Percent, c.File)
				}
			}
			fmt.Fprintf(&buf, "\n%d passed, %d failed, %d skipped\n", passed, failed, skipped)
			if _, err := s.out.Write(buf.Bytes()); err != nil {
				return withCode(ExitUsage, err)
			}
			if failed > 0 {
				return withCode(ExitFindings, errors.New(""))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&coverage, "coverage", false, "print the coverage of each policy file")
	cmd.Flags().StringArrayVar(&data, "data", nil, "JSON or YAML file merged over the policy data (repeatable)")
	return cmd
}

func newPolicyListCommand(s *streams) *cobra.Command {
	var dirs []string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the policy rules: id, severity, scope, gates and title",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := policy.NewEngine(cmd.Context(), policy.Options{ExtraPolicyDirs: dirs})
			if err != nil {
				return withCode(ExitUsage, err)
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
		},
	}
	cmd.Flags().StringArrayVar(&dirs, "policy", nil, "directory of extra Rego policies to list too (repeatable)")
	return cmd
}
