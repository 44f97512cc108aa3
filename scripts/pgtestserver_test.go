//go:build !windows

package scripts

import (
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPGTestServer_picksPortBelowEphemeralRange starts pg-test-server.sh's throwaway
// PostgreSQL several times and checks every port is below Linux's ephemeral range
// (32768 and up), where a client socket could take the port and a restarted server could
// not bind it again.
func TestPGTestServer_picksPortBelowEphemeralRange(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starting PostgreSQL takes seconds")
	}
	if _, err := exec.LookPath("initdb"); err != nil {
		t.Skip("initdb is not on PATH: no PostgreSQL to start")
	}
	for i := range 3 {
		state := filepath.Join(t.TempDir(), "pg.state")
		env := append(exec.Command("true").Environ(), "TOKENGUARD_PG_STATE="+state)
		start := exec.Command("./pg-test-server.sh", "start")
		start.Env = env
		out, err := start.Output()
		stop := exec.Command("./pg-test-server.sh", "stop")
		stop.Env = env
		t.Cleanup(func() { _ = stop.Run() })
		if err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
		u, err := url.Parse(strings.TrimSpace(string(out)))
		if err != nil {
			t.Fatalf("start %d printed %q, not a URL: %v", i, out, err)
		}
		port, err := strconv.Atoi(u.Port())
		if err != nil {
			t.Fatalf("start %d: URL %q has no numeric port", i, u.Redacted())
		}
		if port < 1024 || port >= 32768 {
			t.Errorf("start %d: port %d is outside 1024-32767", i, port)
		}
	}
}
