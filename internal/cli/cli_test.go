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
