package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// PLACEHOLDER: replaced by the helper that owns this subcommand.
func newAuditCommand(s *streams) *cobra.Command {
	return &cobra.Command{
		Use: "audit",
		RunE: func(*cobra.Command, []string) error {
			return withCode(ExitUsage, errors.New("audit: not built yet"))
		},
	}
}
