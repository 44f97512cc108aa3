package cli

import (
	"bytes"
	"strings"
	"testing"
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
