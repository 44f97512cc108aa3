package cli

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

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
			w := bufio.NewWriter(s.out)
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
				fmt.Fprintf(w, "%s %s.%s (%s:%d)\n", status, strings.TrimPrefix(r.Package, "data."), r.Name, r.File, r.Row)
				if r.Error != "" {
					fmt.Fprintf(w, "     error: %s\n", r.Error)
				}
				if !r.Passed && r.Output != "" {
					for _, line := range strings.Split(strings.TrimRight(r.Output, "\n"), "\n") {
						fmt.Fprintf(w, "     | %s\n", line)
					}
				}
			}
			if coverage {
				fmt.Fprintln(w)
				for _, c := range rep.Coverage {
					fmt.Fprintf(w, "coverage %6.2f%%  %s\n", c.Percent, c.File)
				}
			}
			fmt.Fprintf(w, "\n%d passed, %d failed, %d skipped\n", passed, failed, skipped)
			if err := w.Flush(); err != nil {
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
			tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSEVERITY\tSCOPE\tGATES\tTITLE")
			for _, r := range e.Rules() {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.Severity, r.Scope, strings.Join(r.Gates, ","), r.Title)
			}
			if err := tw.Flush(); err != nil {
				return withCode(ExitUsage, err)
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&dirs, "policy", nil, "directory of extra Rego policies to list too (repeatable)")
	return cmd
}
