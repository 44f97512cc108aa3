package cli

import (
	"encoding/json"
	"encoding/xml"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// recipeCommands returns the tokenguard check command lines of a CI recipe: the run lines of
// the GitHub workflow's steps, the script lines of the GitLab jobs, without the shell's
// "|| ..." status handling. It also returns the text of the plan step.
func recipeCommands(t *testing.T, path string) (checks [][]string, plan string) {
	t.Helper()
	src, err := os.ReadFile(path) //nolint:gosec // G304: a recipe of the repository
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(src, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var lines []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if run, ok := x["run"].(string); ok {
				lines = append(lines, strings.Split(run, "\n")...)
				if strings.Contains(run, "terraform plan") {
					b, _ := json.Marshal(x)
					plan += string(b)
				}
			}
			if script, ok := x["script"].([]any); ok {
				for _, l := range script {
					s, _ := l.(string)
					lines = append(lines, s)
					if strings.Contains(s, "terraform plan") {
						plan += s
					}
				}
			}
			if vars, ok := x["variables"]; ok {
				b, _ := json.Marshal(vars)
				plan += string(b)
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(doc)
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "tokenguard check") {
			continue
		}
		if i := strings.Index(l, "||"); i >= 0 {
			l = strings.TrimSpace(l[:i])
		}
		checks = append(checks, strings.Fields(l)[2:]) // after "tokenguard check"
	}
	return checks, plan
}

// ciRepo copies testdata/cirepo (infra/ below the root, infra/plan.json as the recipes'
// plan step writes it) to a temporary git work tree and makes it the working directory.
func ciRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("testdata", "cirepo")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o750)
		}
		b, err := os.ReadFile(p) //nolint:gosec // G304: test data
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), b, 0o600) //nolint:gosec // G703: rel lies below testdata/cirepo
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, ".git"), 0o750); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	return dir
}

// TestCIRecipes_runAgainstARepositoryLayout (issue 15 point 3): the tokenguard check commands
// of examples/ci, run from the root of a repository whose configuration is in infra/, give
// SARIF results, annotations and JUnit test cases at infra/tokens.tf line 9, the ttl
// attribute of the finding; and each recipe plans with the provider's gate advisory, so that
// terraform plan writes a plan for the check to judge. (The plan itself is a fixture here:
// running terraform plan needs the provider and a token service.)
func TestCIRecipes_runAgainstARepositoryLayout(t *testing.T) {
	const file, line = "infra/tokens.tf", 9
	recipes := map[string]string{}
	for _, r := range []string{"github/tokenguard.yml", "gitlab/.gitlab-ci.yml"} {
		abs, err := filepath.Abs(filepath.Join("..", "..", "examples", "ci", r))
		if err != nil {
			t.Fatal(err)
		}
		recipes[r] = abs
	}
	ran := 0
	for name, path := range recipes {
		checks, plan := recipeCommands(t, path)
		if len(checks) == 0 {
			t.Fatalf("%s: no tokenguard check command", name)
		}
		if !strings.Contains(plan, "TF_VAR_tokenguard_policy_enforcement") || !strings.Contains(plan, "advisory") {
			t.Errorf("%s: the plan step does not set the provider gate advisory (TF_VAR_tokenguard_policy_enforcement: advisory): %s", name, plan)
		}
		t.Run(name, func(t *testing.T) {
			dir := ciRepo(t)
			for _, args := range checks {
				code, stdout, stderr := runCLI(t, "", append([]string{"check"}, args...)...)
				ran++
				if code != ExitFindings {
					t.Errorf("%v: exit %d, want 1 (the ttl of 400 days blocks); stderr %q", args, code, stderr)
				}
				if strings.Contains(stderr, "warning") {
					t.Errorf("%v: %s", args, stderr)
				}
				out := stdout
				for i, a := range args {
					if (a == "--output" || a == "-o") && i+1 < len(args) {
						b, err := os.ReadFile(filepath.Join(dir, args[i+1])) //nolint:gosec // G304: the report the command wrote
						if err != nil {
							t.Fatal(err)
						}
						out = string(b)
					}
				}
				checkLocation(t, formatOf(args), out, file, line)
			}
		})
	}
	if ran < 4 {
		t.Errorf("%d recipe commands ran, want the 2 of each recipe", ran)
	}
}

func formatOf(args []string) string {
	for i, a := range args {
		if a == "--format" && i+1 < len(args) {
			return args[i+1]
		}
	}
	return "text"
}

// checkLocation checks that a report in format names file and line for its finding.
func checkLocation(t *testing.T, format, out, file string, line int) {
	t.Helper()
	switch format {
	case "sarif":
		var doc struct {
			Runs []struct {
				Results []struct {
					RuleID    string `json:"ruleId"`
					Locations []struct {
						PhysicalLocation struct {
							ArtifactLocation struct {
								URI string `json:"uri"`
							} `json:"artifactLocation"`
							Region struct {
								StartLine int `json:"startLine"`
							} `json:"region"`
						} `json:"physicalLocation"`
					} `json:"locations"`
				} `json:"results"`
			} `json:"runs"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		r := doc.Runs[0].Results
		if len(r) != 1 || len(r[0].Locations) != 1 || r[0].Locations[0].PhysicalLocation.ArtifactLocation.URI != file ||
			r[0].Locations[0].PhysicalLocation.Region.StartLine != line {
			t.Errorf("sarif results %+v, want one at %s line %d", r, file, line)
		}
	case "github":
		want := "::error file=" + file + ",line=" + itoa(line) + ",title=CPRA-RET-002 "
		if !strings.HasPrefix(out, want) {
			t.Errorf("github annotations:\n%s\nwant the first to start %q", out, want)
		}
	case "junit":
		var doc struct {
			Suites []struct {
				Cases []struct {
					Name string `xml:"name,attr"`
					File string `xml:"file,attr"`
					Line int    `xml:"line,attr"`
				} `xml:"testcase"`
			} `xml:"testsuite"`
		}
		if err := xml.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		c := doc.Suites[0].Cases
		if len(c) != 1 || c[0].File != file || c[0].Line != line {
			t.Errorf("junit cases %+v, want one at %s line %d", c, file, line)
		}
	default:
		if !strings.Contains(out, file+":"+itoa(line)) {
			t.Errorf("text report does not name %s:%d:\n%s", file, line, out)
		}
	}
}

// TestCheck_configDirMatchingNothingWarns: a --config-dir that declares none of the checked
// resources (the recipes' old mistake) says so on stderr instead of silently dropping
// locations.
func TestCheck_configDirMatchingNothingWarns(t *testing.T) {
	dir := ciRepo(t)
	other := filepath.Join(dir, "other")
	if err := os.MkdirAll(other, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "main.tf"), []byte("resource \"null_resource\" \"x\" {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, stderr := runCLI(t, "", "check", "--config-dir", "other", "infra/plan.json")
	if !strings.Contains(stderr, "tokenguard: warning: --config-dir other matched none of the 1 resources checked in infra/plan.json (it declares none of them)") {
		t.Errorf("stderr %q", stderr)
	}
	// --config-dir infra: paths are made repository-relative from the git root.
	_, stdout, stderr := runCLI(t, "", "check", "--config-dir", "infra", "infra/plan.json")
	if !strings.Contains(stdout, "infra/tokens.tf:9") || stderr != "" {
		t.Errorf("--config-dir infra: %s %s", stdout, stderr)
	}
	// --path-prefix overrides the git root.
	_, stdout, _ = runCLI(t, "", "check", "--config-dir", "infra", "--path-prefix", "deploy/infra", "infra/plan.json")
	if !strings.Contains(stdout, "deploy/infra/tokens.tf:9") {
		t.Errorf("--path-prefix: %s", stdout)
	}
}
