package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

// Version is set at build time with -ldflags "-X .../internal/cli.Version=...".
var Version = "dev"

func newVersionCommand(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the tokenguard version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVersion(cmd.Context(), s)
		},
	}
}

// runVersion prints the version the binary was built with.
func runVersion(_ context.Context, s *streams) error {
	_, err := fmt.Fprintf(s.out, "tokenguard %s\n", Version)
	return err
}
