// Package cli implements the tokenguard command line: one file per subcommand,
// wired explicitly, with Run returning the process exit code.
package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes shared by every subcommand.
const (
	ExitOK       = 0 // success, or no blocking findings
	ExitFindings = 1 // blocking findings, or a failed verification
	ExitUsage    = 2 // usage or input error
)

// exitError carries an exit code through cobra's error return.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// withCode wraps err so Run exits with code.
func withCode(code int, err error) error { return &exitError{code: code, err: err} }

// streams are the standard streams a command reads and writes.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

// Main runs the CLI on the process's arguments and streams, cancelling on SIGINT or SIGTERM.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return RunContext(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
}

// Run runs the CLI with args (without the program name) and returns the exit code.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return RunContext(context.Background(), args, stdin, stdout, stderr)
}

// RunContext is Run with a context that stops long-running commands such as serve.
func RunContext(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	s := &streams{in: stdin, out: stdout, err: stderr}
	root := newRootCommand(s)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	// The exit code carries the outcome; if stderr cannot take the message there is nowhere
	// left to report that.
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			_, _ = fmt.Fprintf(stderr, "tokenguard: %v\n", ee.err)
		}
		return ee.code
	}
	_, _ = fmt.Fprintf(stderr, "tokenguard: %v\n", err)
	return ExitUsage
}

func newRootCommand(s *streams) *cobra.Command {
	root := &cobra.Command{
		Use:           "tokenguard",
		Short:         "CPRA-governed API tokens: the token service, the plan checker and the admin CLI",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newVersionCommand(s),
		newServeCommand(s),
		newTokenCommand(s),
		newAuditCommand(s),
		newCredentialCommand(s),
		newInventoryCommand(s),
		newReportCommand(s),
		newEraseCommand(s),
		newAccessCommand(s),
		newAdminCommand(s),
		newCheckCommand(s),
		newPolicyCommand(s),
	)
	refuseUnknownSubcommands(root)
	nameExpectedArguments(root)
	plainBooleanFlagsInHelp(root)
	return root
}

// nameExpectedArguments makes a wrong number of arguments say which command wanted what,
// with its usage line ("tokenguard token show: accepts 1 arg(s), received 0; usage:
// tokenguard token show ID [flags]"), instead of cobra's bare count.
func nameExpectedArguments(c *cobra.Command) {
	for _, sub := range c.Commands() {
		nameExpectedArguments(sub)
	}
	if c.Args == nil {
		return
	}
	args := c.Args
	c.Args = func(cmd *cobra.Command, a []string) error {
		if err := args(cmd, a); err != nil {
			return withCode(ExitUsage, fmt.Errorf("%s: %w; usage: %s", cmd.CommandPath(), err, cmd.UseLine()))
		}
		return nil
	}
}

// plainBooleanFlagsInHelp keeps boolean flags in help and usage text as "--json", as people
// type them: pflag 1.1 prints them as "--json[=true|false]". The suffix is replaced by spaces
// of the same width, so the description column stays aligned.
func plainBooleanFlagsInHelp(root *cobra.Command) {
	const suffix = "[=true|false]"
	blank := strings.Repeat(" ", len(suffix))
	rewrite := func(c *cobra.Command, write func()) {
		out := c.OutOrStdout()
		var b bytes.Buffer
		c.SetOut(&b)
		write()
		c.SetOut(out)
		_, _ = io.WriteString(out, strings.ReplaceAll(b.String(), suffix, blank))
	}
	help, usage := root.HelpFunc(), root.UsageFunc()
	root.SetHelpFunc(func(c *cobra.Command, args []string) {
		rewrite(c, func() { help(c, args) })
	})
	root.SetUsageFunc(func(c *cobra.Command) error {
		var err error
		rewrite(c, func() { err = usage(c) })
		return err
	})
}

// refuseUnknownSubcommands makes every command group (a command with subcommands and no action
// of its own) answer an unknown subcommand with a usage error (exit 2) instead of cobra's
// default of printing help and succeeding; the group alone still prints its help.
func refuseUnknownSubcommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		refuseUnknownSubcommands(sub)
	}
	if !c.HasSubCommands() || c.Run != nil || c.RunE != nil {
		return
	}
	c.Args = cobra.ArbitraryArgs
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		return withCode(ExitUsage, fmt.Errorf("unknown command %q for %q: run '%s --help' for the list", args[0], cmd.CommandPath(), cmd.CommandPath()))
	}
}
