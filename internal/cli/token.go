package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// PLACEHOLDER: replaced by the helper that owns this subcommand.
func newTokenCommand(s *streams) *cobra.Command {
	return &cobra.Command{
		Use: "token",
		RunE: func(*cobra.Command, []string) error {
			return withCode(ExitUsage, errors.New("token: not built yet"))
		},
	}
}
