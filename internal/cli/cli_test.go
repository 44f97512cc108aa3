package cli

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestRun_unknownSubcommandIsAUsageError(t *testing.T) {
	cases := []struct {
		args     []string
		wantCode int
		wantErr  string
	}{
		{[]string{"token", "get"}, ExitUsage, `unknown command "get" for "tokenguard token"`},
		{[]string{"policy", "lint"}, ExitUsage, `unknown command "lint" for "tokenguard policy"`},
		{[]string{"bogus"}, ExitUsage, `unknown command "bogus" for "tokenguard"`},
		{[]string{"token"}, ExitOK, ""},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Run(c.args, strings.NewReader(""), &out, &errOut)
			if code != c.wantCode {
				t.Fatalf("exit code = %d, want %d (stderr %q)", code, c.wantCode, errOut.String())
			}
			if c.wantErr == "" {
				if errOut.Len() != 0 || !strings.Contains(out.String(), "Usage:") {
					t.Fatalf("a bare command group should print its help: stdout %q, stderr %q", out.String(), errOut.String())
				}
				return
			}
			if got := strings.TrimSpace(errOut.String()); !strings.Contains(got, c.wantErr) || strings.Count(got, "\n") != 0 {
				t.Fatalf("stderr = %q, want one line containing %q", got, c.wantErr)
			}
		})
	}
}

// everyCommand walks the command tree below c.
func everyCommand(c *cobra.Command, visit func(*cobra.Command)) {
	visit(c)
	for _, sub := range c.Commands() {
		everyCommand(sub, visit)
	}
}

// flagLine matches a line of the Flags: section up to its description.
var flagLine = regexp.MustCompile(`^(\s*(?:-[a-z], )?--[a-z][a-z0-9-]*(?: [a-zA-Z]+)?\s+)\S`)

func TestRun_helpShowsBooleanFlagsAsTyped(t *testing.T) {
	root := newRootCommand(&streams{})
	helped := 0
	everyCommand(root, func(c *cobra.Command) {
		args := append(strings.Fields(strings.TrimPrefix(c.CommandPath(), "tokenguard")), "--help")
		var out, errOut bytes.Buffer
		if code := Run(args, strings.NewReader(""), &out, &errOut); code != ExitOK {
			t.Errorf("%s --help = %d %s", c.CommandPath(), code, errOut.String())
			return
		}
		helped++
		if strings.Contains(out.String(), "[=true|false]") {
			t.Errorf("%s --help shows [=true|false]:\n%s", c.CommandPath(), out.String())
		}
		if !strings.Contains(out.String(), "  -h, --help ") {
			t.Errorf("%s --help does not list -h, --help:\n%s", c.CommandPath(), out.String())
		}
	})
	if helped < 20 {
		t.Fatalf("only %d commands printed help", helped)
	}
	// The description column stays aligned: every flag line's description starts in one column.
	var out bytes.Buffer
	Run([]string{"inventory", "--help"}, strings.NewReader(""), &out, &out)
	_, flags, _ := strings.Cut(out.String(), "\nFlags:\n")
	flags, _, _ = strings.Cut(flags, "\n\n")
	col := -1
	for _, line := range strings.Split(strings.Trim(flags, "\n"), "\n") {
		m := flagLine.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("not a flag line: %q", line)
			continue
		}
		j := len(m[1])
		if col == -1 {
			col = j
		} else if j != col {
			t.Errorf("flag description at column %d, want %d: %q", j, col, line)
		}
	}
}

func TestRun_wrongArgumentCountNamesCommandAndUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	code := Run([]string{"token", "show"}, strings.NewReader(""), &out, &errOut)
	want := "tokenguard: tokenguard token show: accepts 1 arg(s), received 0; usage: tokenguard token show ID [flags]\n"
	if code != ExitUsage || errOut.String() != want {
		t.Fatalf("token show = %d %q, want 2 %q", code, errOut.String(), want)
	}
}

// goDurationDefault matches a flag default printed the Go way, "1m0s" or "1h0m0s", where
// HCL and the rest of the CLI write "1m" and "1h".
var goDurationDefault = regexp.MustCompile(`\(default "?\d+(?:h\d+m)?(?:m\d+s)?"?\)`)

// TestRun_helpPrintsDurationDefaultsInTheShortestExactForm: no --help shows a default like
// 1m0s; serve's --audit-checkpoint-interval and --token-retention show 1m and 90d.
func TestRun_helpPrintsDurationDefaultsInTheShortestExactForm(t *testing.T) {
	everyCommand(newRootCommand(&streams{}), func(c *cobra.Command) {
		var out bytes.Buffer
		Run(append(strings.Fields(strings.TrimPrefix(c.CommandPath(), "tokenguard")), "--help"), strings.NewReader(""), &out, &out)
		for _, line := range strings.Split(out.String(), "\n") {
			if m := goDurationDefault.FindString(line); m != "" && (strings.Contains(m, "m0s") || strings.Contains(m, "h0m")) {
				t.Errorf("%s --help prints a Go-style duration %s:\n%s", c.CommandPath(), m, line)
			}
		}
	})
	var out bytes.Buffer
	Run([]string{"serve", "--help"}, strings.NewReader(""), &out, &out)
	for _, want := range []string{`(env TOKENGUARD_AUDIT_CHECKPOINT_INTERVAL) (default "1m")`, `(env TOKENGUARD_TOKEN_RETENTION) (default "90d")`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("serve --help lacks %q:\n%s", want, out.String())
		}
	}
}
