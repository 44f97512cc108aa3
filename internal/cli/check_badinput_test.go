package cli

import (
	"bytes"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
)

// badInputCase is one hostile or broken input to the CLI: the arguments, the environment,
// the exit code and the text the one-line error must hold.
type badInputCase struct {
	name string
	args []string
	env  map[string]string
	code int
	want string
}

// runBadInputCases runs each case with a --output or database path that must not be created,
// and checks the exit code, a single "tokenguard: " line on stderr naming the problem, an
// empty stdout and that nothing was written. It returns the number of cases run.
func runBadInputCases(t *testing.T, cases []badInputCase, written func() []string) int {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			code, stdout, stderr := runCLI(t, "", tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, stderr)
			}
			if tc.code == ExitUsage {
				if !strings.HasPrefix(stderr, "tokenguard: ") || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.want) {
					t.Errorf("stderr %q, want one line holding %q", stderr, tc.want)
				}
				if stdout != "" {
					t.Errorf("stdout %q, want nothing", stdout)
				}
			} else if !strings.Contains(stdout+stderr, tc.want) {
				t.Errorf("output does not hold %q:\n%s%s", tc.want, stdout, stderr)
			}
			for _, p := range written() {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("%s was written", p)
					_ = os.Remove(p)
				}
			}
		})
	}
	return len(cases)
}

// writeFile writes content to dir/name and returns the path.
func writeFile(t *testing.T, dir, name string, content []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCheck_badInputCatalogueExitsTwoWithAClearLineAndWritesNothing is the checker's part of
// the bad-input catalogue (issue 8, item 4): garbage, deep nesting, the wrong kind of file,
// symlink loops, broken waivers, data and policies, unknown formats. Every case asks for a
// report file with --output; none may be created.
func TestCheck_badInputCatalogueExitsTwoWithAClearLineAndWritesNothing(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "report.out")
	plan := filepath.Join(checkData, "plan.json")

	garbage := make([]byte, 4096)
	_, _ = rand.NewChaCha8([32]byte{8}).Read(garbage) // reproducible garbage; never fails
	garbage[0] = 0xA8                                 // not a JSON start byte and not the zip magic of a binary plan
	binary := writeFile(t, dir, "garbage.bin", garbage)
	nul := writeFile(t, dir, "nul.json", make([]byte, 1024))
	utf16 := writeFile(t, dir, "utf16.json", []byte("\xff\xfe{\x00}\x00"))
	deepArray := writeFile(t, dir, "deep-array.json", []byte(strings.Repeat("[", 100_000)+strings.Repeat("]", 100_000)))
	deepChange := writeFile(t, dir, "deep-change.json", []byte(`{"format_version":"1.2","resource_changes":[{"type":"tokenguard_api_token","change":`+
		strings.Repeat("[", 100_000)+strings.Repeat("]", 100_000)+`}]}`))
	deepSkipped := writeFile(t, dir, "deep-skipped.json", []byte(`{"format_version":"1.2","planned_values":`+
		strings.Repeat(`{"a":`, 100_000)+"1"+strings.Repeat("}", 100_000)+`}`))
	deepUnclosed := writeFile(t, dir, "deep-unclosed.json", []byte(`{"format_version":"1.2","prior_state":`+strings.Repeat("[", 100_000)))
	state := writeFile(t, dir, "show-state.json", []byte(`{"format_version":"1.0","terraform_version":"1.11.4","values":{"root_module":{"resources":[{"address":"tokenguard_api_token.a","mode":"managed","type":"tokenguard_api_token","name":"a","values":{"secret":"tg_x"}}]}}}`))
	rawState := writeFile(t, dir, "terraform.tfstate", []byte(`{"version":4,"terraform_version":"1.11.4","serial":3,"lineage":"0c1f","outputs":{},"resources":[],"check_results":null}`))
	number := writeFile(t, dir, "number.json", []byte("42"))
	trailing := writeFile(t, dir, "trailing.json", []byte(`{"format_version":"1.2","planned_values":{}} {"again":1}`))
	changesNotArray := writeFile(t, dir, "changes.json", []byte(`{"format_version":"1.2","resource_changes":{"a":1}}`))
	badTimestamp := writeFile(t, dir, "timestamp.json", []byte(`{"format_version":"1.2","planned_values":{},"timestamp":"last tuesday"}`))
	manyScopes := writeFile(t, dir, "many-scopes.json", []byte(`{"format_version":"1.2","resource_changes":[{"address":"tokenguard_api_token.big","type":"tokenguard_api_token","mode":"managed","change":{"actions":["create"],"after":{"scopes":[`+
		strings.TrimSuffix(strings.Repeat(`"s",`, policy.MaxListValues+1), ",")+`]}}}]}`))
	changeNotObject := writeFile(t, dir, "change.json", []byte(`{"format_version":"1.2","resource_changes":[{"address":"tokenguard_api_token.a","type":"tokenguard_api_token","mode":"managed","change":"create"}]}`))

	selfLoop := filepath.Join(dir, "selfloop")
	if err := os.Symlink("selfloop", selfLoop); err != nil {
		t.Fatal(err)
	}
	tfLoop := filepath.Join(dir, "tfloop")
	if err := os.Mkdir(tfLoop, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, l := range [][2]string{{"b.tf", "a.tf"}, {"a.tf", "b.tf"}} {
		if err := os.Symlink(l[0], filepath.Join(tfLoop, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	configFile := writeFile(t, dir, "main.tf", []byte("resource \"tokenguard_api_token\" \"a\" {}\n"))
	writeFile(t, dir, "badhcl/main.tf", []byte("resource \"tokenguard_api_token\" \"a\" {\n  purpose = \n}\n"))

	malformed := writeFile(t, dir, "malformed.yaml", []byte("waivers: [\n"))
	unknownKey := writeFile(t, dir, "unknown.yaml", []byte("waivers:\n  - rule: CPRA-MIN-001\n    address: x\n    reason: r\n    approved_by: a\n    expires: 2027-01-01\n    colour: blue\n"))
	topUnknown := writeFile(t, dir, "top.yaml", []byte("waiver:\n  - rule: CPRA-MIN-001\n"))
	badDate := writeFile(t, dir, "date.yaml", []byte("waivers:\n  - rule: CPRA-MIN-001\n    address: x\n    reason: r\n    approved_by: a\n    expires: 31/12/2027\n"))
	binaryWaivers := writeFile(t, dir, "binary.yaml", garbage)
	notList := writeFile(t, dir, "notlist.yaml", []byte("waivers: everything\n"))

	dataBinary := writeFile(t, dir, "data.bin", []byte("\x00\x01\x02binary"))
	dataYAML := writeFile(t, dir, "data.yaml", []byte("tokenguard: [thresholds\n"))
	dataJSON := writeFile(t, dir, "data.json", []byte(`{"tokenguard": {"thresholds": `))
	dataEmpty := writeFile(t, dir, "empty.json", nil)
	dataArray := writeFile(t, dir, "array.json", []byte(`[1, 2]`))
	dataTokenguardList := writeFile(t, dir, "tokenguard-list.json", []byte(`{"tokenguard": [1, 2]}`))

	regoDir := filepath.Join(dir, "policies")
	writeFile(t, dir, "policies/ok.rego", []byte("package extra.ok\n\nok := true\n"))
	writeFile(t, dir, "policies/broken.rego", []byte("package extra.broken\n\nimport rego.v1\n\ndeny contains msg if {\n  msg := \n}\n"))
	regoFile := writeFile(t, dir, "single.rego", []byte("package x\n"))

	cases := []badInputCase{
		{"binary garbage", []string{"check", binary}, nil, 2, binary + ": input is not JSON: invalid character"},
		{"NUL bytes", []string{"check", nul}, nil, 2, nul + ": input is not JSON"},
		{"UTF-16 with BOM", []string{"check", utf16}, nil, 2, utf16 + ": input is UTF-16 (little-endian, with a byte order mark), not UTF-8: re-encode it as UTF-8"}, // issue 15: says how to fix it,
		{"100k nested arrays", []string{"check", deepArray}, nil, 2, deepArray + ": input is not a Terraform plan: expected a JSON object, found an array"},
		{"100k nested arrays in a token change", []string{"check", deepChange}, nil, 2, "exceeded max depth"},
		{"100k nested objects in a skipped section", []string{"check", deepSkipped}, nil, 2, "exceeded max depth"},
		{"100k unclosed arrays", []string{"check", deepUnclosed}, nil, 2, deepUnclosed + ": input is"},
		{"terraform show -json of a state", []string{"check", state}, nil, 2, "input is a Terraform state file, not a plan"},
		{"raw terraform.tfstate", []string{"check", rawState}, nil, 2, "is a Terraform state file, not a plan"},
		{"a JSON number", []string{"check", number}, nil, 2, "expected a JSON object, found a number"},
		{"data after the plan", []string{"check", trailing}, nil, 2, "unexpected data after the plan object"},
		{"resource_changes not an array", []string{"check", changesNotArray}, nil, 2, "plan resource_changes is an object, expected an array"},
		{"timestamp not a time", []string{"check", badTimestamp}, nil, 2, `plan timestamp "last tuesday" is not an RFC 3339 time`},
		{"change not an object", []string{"check", changeNotObject}, nil, 2, "tokenguard_api_token.a"},
		{"a list over the limit", []string{"check", manyScopes}, nil, 2, "a list holds more than 10000 values"},
		{"config dir is a symlink loop", []string{"check", "--config-dir", selfLoop, plan}, nil, 2, "config directory " + selfLoop + ": too many levels of symbolic links"},
		{"config .tf files are a symlink loop", []string{"check", "--config-dir", tfLoop, plan}, nil, 2, "config a.tf: too many levels of symbolic links"},
		{"config dir is a file", []string{"check", "--config-dir", configFile, plan}, nil, 2, "config directory " + configFile + " is a file"},
		{"config with an HCL syntax error", []string{"check", "--config-dir", filepath.Join(dir, "badhcl"), plan}, nil, 2, "config main.tf: line 2"},
		{"waivers malformed YAML", []string{"check", "--waivers", malformed, plan}, nil, 2, "waivers file " + malformed + ": not a waivers document"},
		{"waivers unknown key", []string{"check", "--waivers", unknownKey, plan}, nil, 2, `unknown field "colour"`},
		{"waivers unknown top-level key", []string{"check", "--waivers", topUnknown, plan}, nil, 2, `unknown field "waiver"`},
		{"waiver date not a date", []string{"check", "--waivers", badDate, plan}, nil, 2, `waiver 0: expires "31/12/2027" is not a date: write it as YYYY-MM-DD`},
		{"waivers binary garbage", []string{"check", "--waivers", binaryWaivers, plan}, nil, 2, "waivers file " + binaryWaivers + ": not a waivers document"},
		{"waivers not a list", []string{"check", "--waivers", notList, plan}, nil, 2, "waivers file " + notList + ": not a waivers document"},
		{"waivers file is a directory", []string{"check", "--waivers", dir, plan}, nil, 2, "waivers file " + dir + ": is a directory"},
		{"data binary", []string{"check", "--data", dataBinary, plan}, nil, 2, "data file " + dataBinary + ": not valid YAML"},
		{"data YAML syntax error", []string{"check", "--data", dataYAML, plan}, nil, 2, "data file " + dataYAML + ": not valid YAML"},
		{"data truncated JSON", []string{"check", "--data", dataJSON, plan}, nil, 2, "data file " + dataJSON + ": not valid JSON"},
		{"data empty", []string{"check", "--data", dataEmpty, plan}, nil, 2, "data file " + dataEmpty + ": is empty"},
		{"data top-level array", []string{"check", "--data", dataArray, plan}, nil, 2, "data file " + dataArray + ": must hold an object at the top level"},
		{"data tokenguard not an object", []string{"check", "--data", dataTokenguardList, plan}, nil, 2, "data file " + dataTokenguardList + ": \"tokenguard\" must be an object"},
		{"data is a directory", []string{"check", "--data", dir, plan}, nil, 2, "data file " + dir + ": is a directory"},
		{"policy with a Rego syntax error", []string{"check", "--policy", regoDir, plan}, nil, 2, "broken.rego:7: rego_parse_error"},
		{"policy is a file", []string{"check", "--policy", regoFile, plan}, nil, 2, regoFile},
		{"unknown format", []string{"check", "--format", "yaml", plan}, nil, 2, `--format: unknown format "yaml": use one of github, json, junit, markdown, sarif, text`},
		{"empty format", []string{"check", "--format", "", plan}, nil, 2, `--format: unknown format ""`},
		{"format in capitals", []string{"check", "--format", "JSON", plan}, nil, 2, `--format: unknown format "JSON"`},
		{"unknown flag", []string{"check", "--strict", plan}, nil, 2, "unknown flag: --strict"},
		{"stdin twice", []string{"check", "-", "-"}, nil, 2, "check reads stdin (-) once"}, // issue 15: several plans are allowed, stdin once
	}
	// A policy file the process cannot read: root reads anything, so only as another user.
	if os.Geteuid() != 0 {
		unreadable := writeFile(t, dir, "unreadable.json", []byte("{}"))
		if err := os.Chmod(unreadable, 0); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, badInputCase{"unreadable plan", []string{"check", unreadable}, nil, 2, "plan file " + unreadable + ": permission denied"})
	}
	for i := range cases {
		cases[i].args = append([]string{cases[i].args[0], "--output", out}, cases[i].args[1:]...)
	}
	n := runBadInputCases(t, cases, func() []string { return []string{out} })
	t.Logf("checker bad-input cases: %d", n)
}

// TestCheck_expiredWaiverIsABlockingFindingNotAnInputError: an expired waiver is valid input
// that no longer waives anything, so it is reported as a finding (exit 1), in every format.
func TestCheck_expiredWaiverIsABlockingFindingNotAnInputError(t *testing.T) {
	waivers := writeFile(t, t.TempDir(), "w.yaml", []byte("waivers:\n  - rule: CPRA-MIN-001\n    address: '*'\n    reason: vendor migration\n    approved_by: privacy-office@example.com\n    expires: 2020-01-01\n"))
	code, stdout, stderr := runCLI(t, "", "check", now, "--format", "json", "--waivers", waivers, filepath.Join(checkData, "compliant.json"))
	if code != ExitFindings || stderr != "" {
		t.Fatalf("exit %d, stderr %q; want 1 and nothing on stderr", code, stderr)
	}
	r := decodeReport(t, stdout)
	if len(r.Findings) != 1 || r.Findings[0].RuleID != "TOKENGUARD-WAIVER-EXPIRED" || !r.Findings[0].Blocking ||
		!strings.Contains(r.Findings[0].Message, "expired on 2020-01-01") {
		t.Fatalf("findings %+v, want exactly one blocking TOKENGUARD-WAIVER-EXPIRED", r.Findings)
	}
}

// TestCheck_hugeSparseFilesAreRefusedWithoutReadingThemIntoMemory runs the built binary on a
// 1 GiB sparse file as the plan, as the waivers file, as a --data file and as a .tf file in
// --config-dir, and checks each exits 2 with a clear line while the process's peak resident
// memory stays far below the file's size.
func TestCheck_hugeSparseFilesAreRefusedWithoutReadingThemIntoMemory(t *testing.T) {
	bin := tokenguardBinary(t)
	dir := t.TempDir()
	sparse := func(name string, prefix string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(p) //nolint:gosec // the test's own file
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(prefix); err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(1 << 30); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		return p
	}
	plan := filepath.Join("testdata", "check", "compliant.json")
	bigPlan := sparse("big.json", "")
	bigStringPlan := sparse("bigstring.json", `{"format_version":"1.2","planned_values":{"root_module":{"x":"`)
	bigWaivers := sparse("big.yaml", "")
	bigData := sparse("data.json", "")
	bigConfig := sparse("config/main.tf", "")
	const maxRSSKiB = 256 << 10 // 256 MiB: a quarter of the file; the binary needs about 40 MiB
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"plan", []string{bigPlan}, bigPlan + ": input is not JSON"},
		{"plan with an unterminated string", []string{bigStringPlan}, bigStringPlan + ": input is not valid JSON: invalid character '\\x00' in string literal"},
		{"waivers", []string{"--waivers", bigWaivers, plan}, "waivers file " + bigWaivers + ": file is 1073741824 bytes, above the limit of 8 MiB"},
		{"data", []string{"--data", bigData, plan}, "data file " + bigData + ": file is 1073741824 bytes, above the limit of 256 MiB"},
		{"config", []string{"--config-dir", filepath.Dir(bigConfig), plan}, "config main.tf is 1073741824 bytes, above the limit of 64 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, append([]string{"check"}, tc.args...)...) //nolint:gosec // the binary this test built
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if cmd.ProcessState == nil {
				t.Fatalf("did not run: %v", err)
			}
			if code := cmd.ProcessState.ExitCode(); code != ExitUsage {
				t.Errorf("exit %d, want 2 (stderr %q)", code, stderr.String())
			}
			if got := stderr.String(); !strings.HasPrefix(got, "tokenguard: ") || strings.Count(got, "\n") != 1 || !strings.Contains(got, tc.want) {
				t.Errorf("stderr %q, want one line holding %q", got, tc.want)
			}
			ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
			if !ok {
				t.Fatal("no rusage for the process")
			}
			if ru.Maxrss <= 0 || ru.Maxrss > maxRSSKiB {
				t.Errorf("peak RSS %d KiB, want (0, %d]", ru.Maxrss, maxRSSKiB)
			}
			t.Logf("peak RSS %d KiB", ru.Maxrss)
		})
	}
}

// TestCLI_badFlagsAndEnvironmentExitTwoAndWriteNothing is the CLI part of the bad-input
// catalogue: missing and invalid flags and environment variables of serve, token, erase and
// inventory. Each must exit 2 with one line naming the flag or variable, before contacting a
// service or creating the database, the key file or an export.
func TestCLI_badFlagsAndEnvironmentExitTwoAndWriteNothing(t *testing.T) {
	for _, env := range []string{"TOKENGUARD_ENDPOINT", "TOKENGUARD_TOKEN", "TOKENGUARD_CA_CERT", "TOKENGUARD_INSECURE_HTTP",
		"TOKENGUARD_LISTEN", "TOKENGUARD_DB", "TOKENGUARD_KEY_FILE", "TOKENGUARD_DEFAULT_TTL", "TOKENGUARD_MAX_TTL",
		"TOKENGUARD_TLS_CERT", "TOKENGUARD_TLS_KEY", "TOKENGUARD_ENV", "TOKENGUARD_LOG_LEVEL", "TOKENGUARD_ADMIN_TOKEN",
		"TOKENGUARD_POLICY", "TOKENGUARD_POLICY_DATA", "TOKENGUARD_WAIVERS"} {
		t.Setenv(env, "")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "tokens.db")
	key := filepath.Join(dir, "tokens.key")
	export := filepath.Join(dir, "erased.json")
	notPEM := writeFile(t, dir, "ca.pem", []byte("not a certificate\n"))
	serve := func(args ...string) []string {
		return append([]string{"serve", "--db", db, "--key-file", key, "--listen", "127.0.0.1:0"}, args...)
	}
	// A loopback port nothing listens on: a command that wrongly got as far as the network
	// fails with exit 1 and "connection refused", which the cases below do not accept.
	endpoint := "http://" + freeLoopbackAddress(t)
	withToken := map[string]string{"TOKENGUARD_TOKEN": "tgc_bad_input_credential", "TOKENGUARD_ENDPOINT": endpoint} //nolint:gosec // G101: a made-up credential no service knows
	create := []string{"token", "create", "--name", "n", "--owner", "o@example.com", "--purpose", "Nightly export of invoice totals", "--scope", "invoices:read", "--no-personal-data"}
	cases := []badInputCase{
		{"serve listen not host:port", serve("--listen", "nonsense"), nil, 2, `--listen "nonsense": use host:port`},
		{"serve listen on all interfaces without TLS", serve("--listen", "0.0.0.0:0"), nil, 2, "--listen 0.0.0.0:0 is not a loopback address"},
		{"serve TLS cert without key", serve("--tls-cert", notPEM), nil, 2, "--tls-cert and --tls-key go together"},
		{"serve log level", serve("--log-level", "loud"), nil, 2, `--log-level "loud": use debug, info, warn or error`},
		{"serve db in a missing directory", []string{"serve", "--db", "/nonexistent/dir/x.db", "--listen", "127.0.0.1:0"}, nil, 2, "--db /nonexistent/dir/x.db: the directory /nonexistent/dir does not exist"},
		{"serve log level from env", serve(), map[string]string{"TOKENGUARD_LOG_LEVEL": "verbose"}, 2, `--log-level "verbose": use debug, info, warn or error`},
		{"serve default ttl", serve("--default-ttl", "forever"), nil, 2, `--default-ttl: invalid duration "forever"`},
		{"serve negative max ttl", serve("--max-ttl", "-1d"), nil, 2, `--max-ttl: invalid duration "-1d": must be positive`},
		{"serve default above max", serve("--default-ttl", "100d", "--max-ttl", "90d"), nil, 2, "--default-ttl 100d is longer than --max-ttl 90d"},
		{"serve max ttl from env", serve(), map[string]string{"TOKENGUARD_MAX_TTL": "soon"}, 2, `--max-ttl: invalid duration "soon"`},
		{"serve unknown flag", serve("--port", "8790"), nil, 2, "unknown flag: --port"},
		{"serve policy enforcement", serve("--policy-enforcement", "strict"), nil, 2, `--policy-enforcement "strict": use mandatory, advisory or off`},
		{"serve existing", serve("--existing", "ratchet"), nil, 2, `--existing "ratchet": use block or warn`},
		{"serve auth failures not a number", serve("--auth-failures-per-minute", "ten"), nil, 2, `invalid argument "ten" for "--auth-failures-per-minute"`},
		{"serve stray argument", serve("extra"), nil, 2, `unknown command "extra" for "tokenguard serve"`},
		{"token without a credential", []string{"token", "list", "--endpoint", endpoint}, nil, 2, "no API credential: set TOKENGUARD_TOKEN (or --token)"},
		{"token endpoint not a URL", []string{"token", "list", "--endpoint", "notaurl"}, withToken, 2, `endpoint "notaurl" is not an absolute URL`},
		{"token endpoint from env not a URL", []string{"token", "list"}, map[string]string{"TOKENGUARD_TOKEN": "tgc_x", "TOKENGUARD_ENDPOINT": "::"}, 2, `endpoint "::" is not an absolute URL`},
		{"token endpoint scheme", []string{"token", "list", "--endpoint", "ftp://tokens.example.com"}, withToken, 2, `endpoint scheme "ftp" is not supported`},
		{"token plain http to a non-loopback host", []string{"token", "list", "--endpoint", "http://10.1.2.3:8790"}, withToken, 2, "uses plain http on a non-loopback host"},
		{"token insecure-http env not a boolean", []string{"token", "list"}, map[string]string{"TOKENGUARD_TOKEN": "tgc_x", "TOKENGUARD_INSECURE_HTTP": "maybe"}, 2, "TOKENGUARD_INSECURE_HTTP (for --insecure-http): must be true or false"},
		{"token CA file missing", []string{"token", "list", "--ca-cert", filepath.Join(dir, "none.pem")}, withToken, 2, "--ca-cert: open " + filepath.Join(dir, "none.pem") + ": no such file or directory"},
		{"token CA file not PEM", []string{"token", "list", "--ca-cert", notPEM}, withToken, 2, "CA certificate PEM holds no certificate"},
		{"token CA env not PEM", []string{"token", "list"}, map[string]string{"TOKENGUARD_TOKEN": "tgc_x", "TOKENGUARD_ENDPOINT": endpoint, "TOKENGUARD_CA_CERT": notPEM}, 2, "CA certificate PEM holds no certificate"},
		{"token create without data categories", create[:len(create)-1], withToken, 2, "declare the personal data the token reaches"},
		{"token create unknown flag", append(create, "--colour", "blue"), withToken, 2, "unknown flag: --colour"},
		{"token create list flag not a number", []string{"token", "list", "--limit", "many"}, withToken, 2, `invalid argument "many" for "--limit"`},
		{"token revoke without an id", []string{"token", "revoke"}, withToken, 2, "accepts 1 arg(s), received 0"},
		{"token show two ids", []string{"token", "show", "tok_a", "tok_b"}, withToken, 2, "accepts 1 arg(s), received 2"},
		{"erase without subject or export", []string{"erase"}, withToken, 2, "give --subject SUBJECT to send a deletion request, or --export FILE"},
		{"erase without a credential", []string{"erase", "--subject", "customer:1", "--endpoint", endpoint}, nil, 2, "no API credential"},
		{"erase export without a credential", []string{"erase", "--export", export, "--endpoint", endpoint}, nil, 2, "no API credential"},
		{"erase endpoint not a URL", []string{"erase", "--subject", "customer:1", "--endpoint", "notaurl"}, withToken, 2, `endpoint "notaurl" is not an absolute URL`},
		{"erase export endpoint empty", []string{"erase", "--export", export, "--endpoint", ""}, map[string]string{"TOKENGUARD_TOKEN": "tgc_x"}, 2, "endpoint is required"},
		{"inventory without a credential", []string{"inventory", "--endpoint", endpoint}, nil, 2, "no API credential"},
		{"inventory endpoint not a URL", []string{"inventory", "--endpoint", "notaurl"}, withToken, 2, `endpoint "notaurl" is not an absolute URL`},
		{"inventory state missing", []string{"inventory", "--state", filepath.Join(dir, "none.tfstate")}, withToken, 2, "--state: open " + filepath.Join(dir, "none.tfstate") + ": no such file or directory"},
		{"inventory state not JSON", []string{"inventory", "--state", notPEM}, withToken, 2, notPEM + " is not JSON from terraform show -json"},
		{"inventory unknown flag", []string{"inventory", "--format", "xml"}, withToken, 2, "unknown flag: --format"},
		{"unknown command", []string{"frobnicate"}, nil, 2, `unknown command "frobnicate" for "tokenguard"`},
	}
	n := runBadInputCases(t, cases, func() []string { return []string{db, key, export, db + "-wal", db + "-shm"} })
	t.Logf("CLI bad-input cases: %d", n)
}

// freeLoopbackAddress returns a loopback address on which nothing listens.
func freeLoopbackAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}
