package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/spf13/cobra"
)

// envTestCommand is a command tree shaped like the CLI's: the client flags persistent on the
// parent, local flags on the child whose RunE applies the environment.
type envTestCommand struct {
	cf      clientFlags
	listen  string
	workers int
	ratio   float64
	policy  []string
	child   *cobra.Command
}

func newEnvTestCommand(flagEnv map[string]string) (*cobra.Command, *envTestCommand) {
	e := &envTestCommand{}
	root := &cobra.Command{Use: "root", SilenceUsage: true, SilenceErrors: true}
	e.cf.register(root)
	e.child = &cobra.Command{
		Use:  "child",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return applyEnv(cmd, flagEnv) },
	}
	f := e.child.Flags()
	f.StringVar(&e.listen, "listen", "127.0.0.1:8790", "")
	f.IntVar(&e.workers, "workers", 1, "")
	f.Float64Var(&e.ratio, "ratio", 0.5, "")
	f.StringArrayVar(&e.policy, "policy", nil, "")
	root.AddCommand(e.child)
	return root, e
}

var envTestFlags = map[string]string{ //nolint:gosec // G101: flag and variable names, no credential
	"endpoint": "TG_TEST_ENDPOINT", "token": "TG_TEST_TOKEN", "ca-cert": "TG_TEST_CA_CERT",
	"insecure-http": "TG_TEST_INSECURE_HTTP", "listen": "TG_TEST_LISTEN", "workers": "TG_TEST_WORKERS",
	"ratio": "TG_TEST_RATIO", "policy": "TG_TEST_POLICY",
}

func TestApplyEnv_commandLineWinsAndTheEnvironmentFillsTheRest(t *testing.T) {
	t.Setenv("TG_TEST_ENDPOINT", "https://env.example")
	t.Setenv("TG_TEST_TOKEN", "tgc_from_env")
	t.Setenv("TG_TEST_CA_CERT", "") // empty: as if unset
	t.Setenv("TG_TEST_INSECURE_HTTP", "true")
	t.Setenv("TG_TEST_LISTEN", "127.0.0.1:9999")
	t.Setenv("TG_TEST_WORKERS", "7")
	t.Setenv("TG_TEST_POLICY", "env-policies")
	root, e := newEnvTestCommand(envTestFlags)
	root.SetArgs([]string{"child", "--endpoint", "https://cli.example", "--listen", "127.0.0.1:1234", "--policy", "cli-policies"})
	if err := root.Execute(); err != nil {
		t.Fatalf("Execute: %v", err)
	}
	got := map[string]any{
		"endpoint": e.cf.endpoint, "token": e.cf.token, "ca-cert": e.cf.caCert, "insecure-http": e.cf.insecureHTTP,
		"listen": e.listen, "workers": e.workers, "ratio": e.ratio, "policy": e.policy,
	}
	want := map[string]any{ //nolint:gosec // G101: a fake credential of a command that contacts nothing
		"endpoint": "https://cli.example", "token": "tgc_from_env", "ca-cert": "", "insecure-http": true,
		"listen": "127.0.0.1:1234", "workers": 7, "ratio": 0.5, "policy": []string{"cli-policies"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("flag values = %v, want %v", got, want)
	}
	// Changed keeps meaning "given on the command line".
	for name, want := range map[string]bool{"endpoint": true, "listen": true, "policy": true, "token": false, "insecure-http": false, "workers": false, "ca-cert": false} {
		if changed := e.child.Flags().Changed(name); changed != want {
			t.Errorf("--%s Changed = %v, want %v", name, changed, want)
		}
	}
	// A second pass over the environment leaves the command line's values alone.
	t.Setenv("TG_TEST_ENDPOINT", "https://other.example")
	if err := applyEnv(e.child, envTestFlags); err != nil {
		t.Fatalf("second applyEnv: %v", err)
	}
	if e.cf.endpoint != "https://cli.example" {
		t.Errorf("after a second pass --endpoint = %q, want the command line's https://cli.example", e.cf.endpoint)
	}
}

func TestApplyEnv_invalidValueNamesTheVariableAndFlagButNotTheValue(t *testing.T) {
	const secretish = "tgc_looks-like-a-credential-0123456789" //nolint:gosec // G101: a fake value that must not be echoed
	cases := []struct{ env, want string }{
		{"TG_TEST_INSECURE_HTTP", "TG_TEST_INSECURE_HTTP (for --insecure-http): must be true or false"},
		{"TG_TEST_WORKERS", "TG_TEST_WORKERS (for --workers): must be a whole number"},
		{"TG_TEST_RATIO", "TG_TEST_RATIO (for --ratio): is not a valid float64 value"},
	}
	for _, tc := range cases {
		t.Run(tc.env, func(t *testing.T) {
			t.Setenv(tc.env, secretish)
			root, _ := newEnvTestCommand(envTestFlags)
			root.SetArgs([]string{"child"})
			err := root.Execute()
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != ExitUsage {
				t.Fatalf("Execute = %v, want a usage error (exit %d)", err, ExitUsage)
			}
			if err.Error() != tc.want {
				t.Errorf("error = %q, want %q", err, tc.want)
			}
		})
	}
}

// The real commands: the value of a bad variable is not echoed, and the command line wins.
func TestServeAndToken_environmentThroughTheRealCommands(t *testing.T) {
	const secretish = "tgc_looks-like-a-credential-0123456789" //nolint:gosec // G101: a fake value that must not be echoed
	for _, env := range []string{"TOKENGUARD_ENDPOINT", "TOKENGUARD_CA_CERT", "TOKENGUARD_INSECURE_HTTP", "TOKENGUARD_LOG_LEVEL",
		"TOKENGUARD_AUTH_FAILURES_PER_MINUTE", "TOKENGUARD_DB", "TOKENGUARD_KEY_FILE", "TOKENGUARD_LISTEN"} {
		t.Setenv(env, "")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "tokens.db")
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"serve int from env", map[string]string{"TOKENGUARD_AUTH_FAILURES_PER_MINUTE": secretish},
			[]string{"serve", "--db", db, "--listen", "127.0.0.1:0"},
			"tokenguard: TOKENGUARD_AUTH_FAILURES_PER_MINUTE (for --auth-failures-per-minute): must be a whole number\n"},
		{"serve flag wins over env", map[string]string{"TOKENGUARD_LOG_LEVEL": "debug"},
			[]string{"serve", "--db", db, "--listen", "127.0.0.1:0", "--log-level", "loud"},
			"tokenguard: --log-level \"loud\": use debug, info, warn or error\n"},
		{"token bool from env", map[string]string{"TOKENGUARD_TOKEN": "tgc_x", "TOKENGUARD_INSECURE_HTTP": secretish},
			[]string{"token", "list"},
			"tokenguard: TOKENGUARD_INSECURE_HTTP (for --insecure-http): must be true or false\n"},
		{"token flag wins over env", map[string]string{"TOKENGUARD_TOKEN": "tgc_x", "TOKENGUARD_ENDPOINT": "http://127.0.0.1:1"}, //nolint:gosec // G101: a fake credential; the command stops before contacting anything
			[]string{"token", "list", "--endpoint", "notaurl"},
			"tokenguard: tokenguard client: endpoint \"notaurl\" is not an absolute URL such as https://tokens.example.com\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			code, stdout, stderr := runCLI(t, "", tc.args...)
			if code != ExitUsage {
				t.Errorf("exit code = %d, want %d; stderr: %s", code, ExitUsage, stderr)
			}
			if stderr != tc.want {
				t.Errorf("stderr = %q, want %q", stderr, tc.want)
			}
			if strings.Contains(stdout+stderr, secretish) {
				t.Errorf("output echoes the environment value: %q", stdout+stderr)
			}
		})
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Errorf("directory after refused starts: %v entries, err %v; want nothing written", len(entries), err)
	}
}

func TestAdminTokenFile_writesOnceWithMode0600AndReusesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.db.admin-token")
	first, err := adminTokenFile(path)
	if err != nil {
		t.Fatalf("adminTokenFile: %v", err)
	}
	if !strings.HasPrefix(first, "tgc_") {
		t.Errorf("secret %q does not look like a credential secret", first)
	}
	b, err := os.ReadFile(path) //nolint:gosec // G304: a file in the test's temporary directory
	if err != nil || string(b) != first+"\n" {
		t.Fatalf("file holds %q (%v), want the secret and a newline", b, err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("file mode: %v, %v; want 0600", info, err)
	}
	again, err := adminTokenFile(path)
	if err != nil || again != first {
		t.Errorf("second call = %q, %v; want the first secret again", again, err)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil || len(entries) != 1 {
		t.Errorf("directory holds %d entries (%v), want only the admin token file", len(entries), err)
	}
}

func TestAdminTokenFile_refusesAnEmptyFileAndADirectoryInTheWayWithoutRemovingThem(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.admin-token")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := adminTokenFile(empty); err == nil || err.Error() != empty+" exists but is empty: delete it and start again" {
		t.Errorf("empty file: error = %v, want the exists-but-empty error", err)
	}
	if _, err := os.Stat(empty); err != nil {
		t.Errorf("the operator's empty file is gone: %v", err)
	}
	inTheWay := filepath.Join(dir, "dir.admin-token")
	if err := os.Mkdir(inTheWay, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := adminTokenFile(inTheWay)
	if err == nil || !strings.HasPrefix(err.Error(), "reading "+inTheWay+": ") || !errors.Is(err, syscall.EISDIR) {
		t.Errorf("directory in the way: error = %v, want reading %s: ... is a directory", err, inTheWay)
	}
	if info, err := os.Stat(inTheWay); err != nil || !info.IsDir() {
		t.Errorf("the directory in the way was touched: %v, %v", info, err)
	}
}

// adminTokenChildEnv tells the re-executed test binary to run adminTokenFile under a file
// size limit. A limit is what makes a write fail as root too (root ignores permissions).
const adminTokenChildEnv = "TOKENGUARD_TEST_ADMIN_TOKEN_FSIZE_PATH"

// A write that fails half-way (here: the file size limit, RLIMIT_FSIZE, cut at 8 bytes)
// leaves neither the admin token file nor a temporary file behind, so the next start writes a
// fresh secret instead of refusing an empty or partial file.
func TestAdminTokenFile_failedWriteLeavesNothingAndTheNextStartWorks(t *testing.T) {
	if path := os.Getenv(adminTokenChildEnv); path != "" {
		adminTokenFileUnderSizeLimit(path)
		return
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "tokens.db.admin-token")
	cmd := exec.Command(os.Args[0], "-test.run=^TestAdminTokenFile_failedWriteLeavesNothingAndTheNextStartWorks$") //nolint:gosec // this test binary
	cmd.Env = append(os.Environ(), adminTokenChildEnv+"="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	t.Logf("child: %s", out)
	want := "adminTokenFile: writing " + path + ": write "
	if !strings.Contains(string(out), want) || !strings.Contains(string(out), "file too large") {
		t.Fatalf("child output:\n%s\nwant a line with %q and \"file too large\"", out, want)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("after the failed write the directory holds %v, want nothing", names)
	}
	secret, err := adminTokenFile(path)
	if err != nil {
		t.Fatalf("the next start: %v", err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != secret+"\n" { //nolint:gosec // G304: a file in the test's temporary directory
		t.Errorf("the next start wrote %q (%v), want its secret", b, err)
	}
}

// adminTokenFileUnderSizeLimit is the child side: it lowers this process's file size limit to
// 8 bytes, shorter than any secret, and prints what adminTokenFile returns. Go ignores
// SIGXFSZ, so the write fails with EFBIG instead of killing the process.
func adminTokenFileUnderSizeLimit(path string) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		fmt.Println("getrlimit:", err)
		return
	}
	lim.Cur = 8
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		fmt.Println("setrlimit:", err)
		return
	}
	secret, err := adminTokenFile(path)
	if err != nil {
		fmt.Println("adminTokenFile:", err)
		return
	}
	fmt.Printf("adminTokenFile succeeded (a secret of %d bytes): the size limit did not stop the write\n", len(secret))
}
