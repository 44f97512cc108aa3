package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// applyEnv sets each flag of flagEnv (flag name to environment variable) that was not given
// on the command line from its environment variable, when that is set and not empty. The flag
// may be the command's own or a persistent flag it inherits (the client flags of token,
// audit, report, ...).
//
// A flag given on the command line wins over the environment. pflag records exactly that in
// Flag.Changed, so the environment value goes through the flag's Value and leaves Changed
// alone: marking it (as FlagSet.Set does) would make an environment value look typed on the
// command line to every later reader, and a second pass over the environment (another
// variable for the same flag, a second call) would take it for the operator's choice.
//
// An invalid value is named by its variable and flag but never echoed: it may be a
// credential (TOKENGUARD_TOKEN) or a URL with a password (TOKENGUARD_DB).
func applyEnv(cmd *cobra.Command, flagEnv map[string]string) error {
	for name, env := range flagEnv {
		f := cmd.Flags().Lookup(name)
		if f == nil {
			f = cmd.InheritedFlags().Lookup(name)
		}
		if f == nil || f.Changed {
			continue
		}
		if v, ok := os.LookupEnv(env); ok && v != "" {
			// pflag's error repeats the value, so it is not wrapped.
			if err := f.Value.Set(v); err != nil {
				return withCode(ExitUsage, fmt.Errorf("%s (for --%s): %s", env, name, envValueHint(f.Value.Type())))
			}
		}
	}
	return nil
}

// envValueHint says what an environment variable for a flag of pflag type typ must hold.
func envValueHint(typ string) string {
	switch typ {
	case "bool":
		return "must be true or false"
	case "int":
		return "must be a whole number"
	default:
		return "is not a valid " + typ + " value"
	}
}
