package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// PLACEHOLDER: replaced by the helper that owns this subcommand.
func newCheckCommand(s *streams) *cobra.Command {
	return &cobra.Command{
		Use: "check",
		RunE: func(*cobra.Command, []string) error {
			return withCode(ExitUsage, errors.New("check: not built yet"))
		},
	}
}
