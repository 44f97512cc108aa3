package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// PLACEHOLDER: replaced by the helper that owns this subcommand.
func newPolicyCommand(s *streams) *cobra.Command {
	return &cobra.Command{
		Use: "policy",
		RunE: func(*cobra.Command, []string) error {
			return withCode(ExitUsage, errors.New("policy: not built yet"))
		},
	}
}
