package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// PLACEHOLDER: replaced by the helper that owns this subcommand.
func newServeCommand(s *streams) *cobra.Command {
	return &cobra.Command{
		Use: "serve",
		RunE: func(*cobra.Command, []string) error {
			return withCode(ExitUsage, errors.New("serve: not built yet"))
		},
	}
}
