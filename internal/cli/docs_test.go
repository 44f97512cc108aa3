package cli

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
)

// repoRoot is the repository root, seen from this package's directory.
const repoRoot = "../.."

// documents are the pages whose words are promises: the README and everything under docs/.
func documents(t *testing.T) map[string]string {
	t.Helper()
	docs := map[string]string{}
	read := func(path string) {
		b, err := os.ReadFile(path) //nolint:gosec // G304: a page of the repository's documentation
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(repoRoot, path)
		docs[rel] = string(b)
	}
	read(filepath.Join(repoRoot, "README.md"))
	err := filepath.WalkDir(filepath.Join(repoRoot, "docs"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".md") {
			read(path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

var (
	fence      = regexp.MustCompile("(?s)```[a-z]*\n(.*?)```")
	codeSpan   = regexp.MustCompile("`([^`\n]+)`")
	invocation = regexp.MustCompile(`(?:^\s*|&&\s*|\|\s*|\$\s+|\$\(\s*|bin/)tokenguard((?: [a-z][a-z-]*)+)((?: [^|;&#)]*)?)`)
	flagName   = regexp.MustCompile(`(?:^|\s)--([a-z][a-z0-9-]*)`)
)

// codeFragments returns every inline code span and every line of every fenced block of a page.
func codeFragments(page string) []string {
	var frags []string
	for _, m := range fence.FindAllStringSubmatch(page, -1) {
		frags = append(frags, strings.Split(m[1], "\n")...)
	}
	for _, m := range codeSpan.FindAllStringSubmatch(fence.ReplaceAllString(page, ""), -1) {
		frags = append(frags, m[1])
	}
	return frags
}

// TestDocs_everyDocumentedCommandAndFlagExists fails when the README or a page under docs/
// shows `tokenguard <subcommand> --flag` for a subcommand or flag the CLI does not have.
func TestDocs_everyDocumentedCommandAndFlagExists(t *testing.T) {
	root := newRootCommand(&streams{})
	checked := 0
	for page, text := range documents(t) {
		for _, frag := range codeFragments(text) {
			for _, m := range invocation.FindAllStringSubmatch(frag, -1) {
				words := strings.Fields(m[1])
				cmd, rest, err := root.Find(words)
				if err != nil || cmd == root {
					continue // prose such as "tokenguard makes", not an invocation
				}
				if len(rest) > 0 && cmd.HasSubCommands() {
					t.Errorf("%s: `tokenguard %s`: %q is not a subcommand of %q", page, m[1][1:], rest[0], cmd.CommandPath())
					continue
				}
				for _, f := range flagName.FindAllStringSubmatch(m[2], -1) {
					checked++
					if !hasFlag(cmd, f[1]) {
						t.Errorf("%s: `%s` shows --%s, which %q does not have", page, strings.TrimSpace(m[0]), f[1], cmd.CommandPath())
					}
				}
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d documented flags found: the scan no longer reads the documentation", checked)
	}
}

func hasFlag(cmd *cobra.Command, name string) bool {
	if name == "help" {
		return true
	}
	return cmd.Flags().Lookup(name) != nil || cmd.InheritedFlags().Lookup(name) != nil || cmd.PersistentFlags().Lookup(name) != nil
}

// TestDocs_everyDocumentedEnvironmentVariableIsRead fails when a page names a TOKENGUARD_*
// variable that no source file, script or make target reads.
func TestDocs_everyDocumentedEnvironmentVariableIsRead(t *testing.T) {
	var sources strings.Builder
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name == ".git" || name == "docs" || name == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(path); ext == ".go" || ext == ".sh" || d.Name() == "GNUmakefile" || d.Name() == "run" {
			b, err := os.ReadFile(path) //nolint:gosec // G304: a source file of the repository
			if err != nil {
				return err
			}
			sources.Write(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	src := sources.String()
	variable := regexp.MustCompile(`\bTOKENGUARD_[A-Z0-9_]*[A-Z0-9]\b`)
	seen := map[string]bool{}
	for page, text := range documents(t) {
		for _, v := range variable.FindAllString(text, -1) {
			if seen[page+v] {
				continue
			}
			seen[page+v] = true
			if !strings.Contains(src, `"`+v+`"`) && !strings.Contains(src, v+"=") && !strings.Contains(src, "${"+v) && !strings.Contains(src, "$"+v) {
				t.Errorf("%s names %s, which nothing in the repository reads", page, v)
			}
		}
	}
	if len(seen) < 5 {
		t.Fatalf("only %d documented variables found: the scan no longer reads the documentation", len(seen))
	}
}

// TestDocs_everyDocumentedRuleIDExists fails when a page names a CPRA-* rule id that the
// embedded bundle does not hold.
func TestDocs_everyDocumentedRuleIDExists(t *testing.T) {
	e, err := policy.NewEngine(context.Background(), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, r := range e.Rules() {
		known[r.ID] = true
	}
	ruleID := regexp.MustCompile(`\bCPRA-[A-Z]{3}-[0-9]{3}\b`)
	found := 0
	for page, text := range documents(t) {
		for _, id := range ruleID.FindAllString(text, -1) {
			found++
			if !known[id] {
				t.Errorf("%s names %s, which is not a rule of the embedded bundle", page, id)
			}
		}
	}
	if found < 20 {
		t.Fatalf("only %d rule ids found in the documentation: the scan no longer reads it", found)
	}
}

// TestDocs_everyNamedTestExists fails when the README or a page under docs/ names a test
// (the proof of a promise) that no _test.go file declares. A name ending in "_" names a
// family of tests and needs at least one of them.
func TestDocs_everyNamedTestExists(t *testing.T) {
	declared := map[string]bool{}
	decl := regexp.MustCompile(`(?m)^func (Test[A-Za-z0-9_]+)\(`)
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, "_test.go") {
			b, err := os.ReadFile(path) //nolint:gosec // G304: a test file of the repository
			if err != nil {
				return err
			}
			for _, m := range decl.FindAllStringSubmatch(string(b), -1) {
				declared[m[1]] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	named := regexp.MustCompile(`\bTest[A-Z][A-Za-z0-9_]+`)
	found := 0
	for page, text := range documents(t) {
		for _, name := range named.FindAllString(text, -1) {
			found++
			if declared[name] {
				continue
			}
			family := false
			if strings.HasSuffix(name, "_") {
				for d := range declared {
					if strings.HasPrefix(d, name) {
						family = true
						break
					}
				}
			}
			if !family {
				t.Errorf("%s names %s, which no test file declares: the promise it proves has no test", page, name)
			}
		}
	}
	if found < 50 {
		t.Fatalf("only %d test names found in the documentation: the scan no longer reads it", found)
	}
}
