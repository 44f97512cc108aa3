package testenv

import (
	"os"
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
