package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The PostgreSQL tests' switches: the server's URL (scripts/pg-test-server.sh sets it), and
// the CI switch that turns a missing server into a failure instead of a skip.
const (
	PostgresURLEnv     = "TOKENGUARD_TEST_POSTGRES_URL"
	RequirePostgresEnv = "TOKENGUARD_REQUIRE_POSTGRES"
)

// PostgresURL returns the URL of the test PostgreSQL server. Without one the test is skipped,
// saying how to start one, or fails when RequirePostgresEnv is 1, so a missing server cannot
// pass as green in CI.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(PostgresURLEnv)
	if u != "" {
		return u
	}
	if os.Getenv(RequirePostgresEnv) == "1" {
		t.Fatalf("%s=1 but %s is not set: start a server with scripts/pg-test-server.sh start", RequirePostgresEnv, PostgresURLEnv)
	}
	t.Skipf("needs PostgreSQL: set %s (scripts/pg-test-server.sh start prints one)", PostgresURLEnv)
	return ""
}

// OwnPostgres starts a PostgreSQL server of the test's own through scripts/pg-test-server.sh
// (with a state file of its own; env adds the script's settings, such as
// TOKENGUARD_PG_MAX_CONNECTIONS=8), stopped when the test ends, and returns its URL and a
// function running the script's other commands on it (stop, halt, resume, pause, unpause),
// which fails the test when one fails and returns what it printed. Where the suite has no
// PostgreSQL it skips or fails as PostgresURL does.
func OwnPostgres(t testing.TB, env ...string) (url string, run func(args ...string) string) {
	t.Helper()
	PostgresURL(t)
	script := filepath.Join(moduleRoot(t), "scripts", "pg-test-server.sh")
	cmdEnv := append(os.Environ(), "TOKENGUARD_PG_STATE="+filepath.Join(t.TempDir(), "pg.state"))
	cmdEnv = append(cmdEnv, env...)
	command := func(args ...string) (string, error) {
		cmd := exec.Command(script, args...) //nolint:gosec // G204: the repository's own script
		cmd.Env = cmdEnv
		out, err := cmd.Output()
		return strings.TrimSpace(string(out)), err
	}
	run = func(args ...string) string {
		t.Helper()
		out, err := command(args...)
		if err != nil {
			t.Fatalf("pg-test-server.sh %s: %v", strings.Join(args, " "), err)
		}
		return out
	}
	url = run("start")
	t.Cleanup(func() {
		// A paused server cannot stop; unpause fails, harmlessly, once the test has stopped
		// the server itself, and stop then finds nothing to do.
		_, _ = command("unpause")
		run("stop")
	})
	return url, run
}
