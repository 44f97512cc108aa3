package policy

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Location is where a resource is declared in the configuration.
type Location struct {
	// File is relative to the configuration directory, with forward slashes.
	File string
	Line int
}

// Locations maps resource addresses without instance keys ("module.app.tokenguard_api_token.x")
// to where they are declared.
type Locations map[string]Location

// maxModuleDepth bounds how deep local module calls are followed.
const maxModuleDepth = 16

// maxConfigFileBytes bounds the size of one .tf or .tf.json file read for locations.
const maxConfigFileBytes = 64 << 20

var configSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
	{Type: "resource", LabelNames: []string{"type", "name"}},
	{Type: "module", LabelNames: []string{"name"}},
	{Type: "locals"},
}}

var moduleSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "source"}}}

// LoadConfigDir parses the *.tf and *.tf.json files of dir and, recursively, of the local
// modules it calls (sources starting with ./ or ../), recording where each resource is
// declared. A module directory already on the call chain is not entered again, so symlink
// loops end.
func LoadConfigDir(dir string) (Locations, error) {
	root, err := configRoot(dir)
	if err != nil {
		return nil, err
	}
	l := newConfigLoader(root)
	if err := l.load(root, "", nil); err != nil {
		return nil, err
	}
	return l.locs, nil
}

func configRoot(dir string) (string, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("config directory %s: %w", dir, pathErr(err))
	}
	if !info.IsDir() {
		return "", fmt.Errorf("config directory %s is a file: pass the directory holding the .tf files", dir)
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("config directory %s: %w", dir, err)
	}
	return root, nil
}

func newConfigLoader(root string) *configLoader {
	return &configLoader{root: root, parser: hclparse.NewParser(), locs: Locations{}, attrs: map[string]map[string]int{}, locals: map[string][]string{}}
}

type configLoader struct {
	root   string
	parser *hclparse.Parser
	locs   Locations
	// attrs holds the line of each attribute (dotted path through nested blocks) of each
	// resource declared in HCL syntax.
	attrs map[string]map[string]int
	// called are the resolved directories entered as module calls.
	called map[string]bool
	// locals maps each local value ("local.s", "module.a.local.s") to the references of its
	// definition, root-relative.
	locals map[string][]string
}

func (l *configLoader) load(dir, prefix string, chain []string) error {
	resolved, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("config directory %s: %w", l.rel(dir), pathErr(err))
	}
	for _, c := range chain {
		if c == resolved {
			return nil
		}
	}
	if len(chain) >= maxModuleDepth {
		return nil
	}
	chain = append(chain, resolved)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("config directory %s: %w", l.rel(dir), pathErr(err))
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && (strings.HasSuffix(e.Name(), ".tf") || strings.HasSuffix(e.Name(), ".tf.json")) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, name := range names {
		path := filepath.Join(dir, name)
		// The HCL parser reads a file whole and reports a failure without its cause: check
		// first, so a symlink loop or a huge file gets an error that says what is wrong.
		info, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("config %s: %w", l.rel(path), pathErr(err))
		}
		if info.Size() > maxConfigFileBytes {
			return fmt.Errorf("config %s is %d bytes, above the limit of %d MiB for a configuration file", l.rel(path), info.Size(), maxConfigFileBytes>>20)
		}
		var f *hcl.File
		var diags hcl.Diagnostics
		if strings.HasSuffix(name, ".json") {
			f, diags = l.parser.ParseJSONFile(path)
		} else {
			f, diags = l.parser.ParseHCLFile(path)
		}
		if diags.HasErrors() {
			return fmt.Errorf("config %s: %s", l.rel(path), firstDiag(diags))
		}
		content, _, diags := f.Body.PartialContent(configSchema)
		if diags.HasErrors() {
			return fmt.Errorf("config %s: %s", l.rel(path), firstDiag(diags))
		}
		for _, b := range content.Blocks {
			switch b.Type {
			case "resource":
				addr := prefix + b.Labels[0] + "." + b.Labels[1]
				if _, dup := l.locs[addr]; !dup {
					l.locs[addr] = Location{File: l.rel(path), Line: b.DefRange.Start.Line}
					if body, ok := b.Body.(*hclsyntax.Body); ok {
						lines := map[string]int{}
						attributeLines(body, "", lines)
						l.attrs[addr] = lines
					}
				}
			case "locals":
				attrs, _ := b.Body.JustAttributes()
				for name, a := range attrs {
					key := prefix + "local." + name
					if _, dup := l.locals[key]; !dup {
						l.locals[key] = traversalRefs(a.Expr.Variables(), prefix)
					}
				}
			case "module":
				src := moduleSource(b)
				if !strings.HasPrefix(src, "./") && !strings.HasPrefix(src, "../") {
					continue
				}
				sub := filepath.Join(dir, filepath.FromSlash(src))
				if info, err := os.Stat(sub); err != nil || !info.IsDir() {
					continue // a missing local module is Terraform's error to report, not ours
				}
				if resolved, err := filepath.EvalSymlinks(sub); err == nil && l.called != nil {
					l.called[resolved] = true
				}
				if err := l.load(sub, prefix+"module."+b.Labels[0]+".", chain); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// traversalRefs renders the variables an expression uses as Terraform writes references in
// plan JSON: the whole attribute path ("tokenguard_api_token.t.secret") and the object it
// starts from ("tokenguard_api_token.t", "module.a.x", "local.s"), with prefix in front.
func traversalRefs(vars []hcl.Traversal, prefix string) []string {
	var out []string
	for _, tr := range vars {
		parts := []string{tr.RootName()}
		for _, step := range tr[1:] {
			a, ok := step.(hcl.TraverseAttr)
			if !ok {
				break
			}
			parts = append(parts, a.Name)
		}
		out = append(out, prefix+strings.Join(parts, "."))
		base := 2
		if parts[0] == "module" || parts[0] == "data" {
			base = 3
		}
		if len(parts) > base {
			out = append(out, prefix+strings.Join(parts[:base], "."))
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// attributeLines records the line of every attribute of body, nested blocks included
// ("rotation.interval"), into lines.
func attributeLines(body *hclsyntax.Body, prefix string, lines map[string]int) {
	for name, a := range body.Attributes {
		lines[prefix+name] = a.SrcRange.Start.Line
	}
	for _, b := range body.Blocks {
		if _, ok := lines[prefix+b.Type]; !ok {
			lines[prefix+b.Type] = b.TypeRange.Start.Line
		}
		attributeLines(b.Body, prefix+b.Type+".", lines)
	}
}

// Config is where the resources of a configuration are declared, down to the attribute.
type Config struct {
	// Root is the root module directory, relative to the directory given (with slashes;
	// "." when it is that directory).
	Root string
	// Resources maps resource addresses without instance keys to their blocks.
	Resources Locations
	// Attributes maps the same addresses to the line of each attribute (dotted paths).
	Attributes map[string]map[string]int
	// Candidates are the root module directories found, when the directory given holds
	// several configurations.
	Candidates []string
	// Locals maps each local value of the root module and its local modules ("local.s",
	// "module.a.local.s") to the references of its definition, root-relative: plan JSON has
	// no locals, so CPRA-SEC-001 follows them through these (see ExpandReferences).
	Locals map[string][]string
}

// LoadConfigTree reads the configuration below dir. When dir holds .tf files it is the
// root module, as for LoadConfigDir. Otherwise the tree below it is searched (hidden
// directories and .terraform skipped) for root modules, directories with .tf files that no
// other directory calls as a local module; the one that declares the most of addresses (the
// resources of the plan) is taken, the first in path order on a tie. File paths are relative
// to dir, so with dir the repository root they are repository-relative (infra/tokens.tf).
func LoadConfigTree(dir string, addresses []string) (*Config, error) {
	root, err := configRoot(dir)
	if err != nil {
		return nil, err
	}
	if hasConfigFiles(root) {
		l := newConfigLoader(root)
		if err := l.load(root, "", nil); err != nil {
			return nil, err
		}
		return &Config{Root: ".", Resources: l.locs, Attributes: l.attrs, Locals: l.locals}, nil
	}
	var dirs []string
	err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil //nolint:nilerr // an unreadable corner of the tree is not the configuration
		}
		if d.IsDir() && p != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() && hasConfigFiles(p) {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("config directory %s: %w", dir, err)
	}
	// A directory another one calls as a local module is not a root.
	called := map[string]bool{}
	for _, d := range dirs {
		l := newConfigLoader(root)
		l.called = called
		if err := l.load(d, "", nil); err != nil {
			return nil, err
		}
	}
	want := map[string]bool{}
	for _, a := range addresses {
		want[StripInstanceKeys(a)] = true
	}
	var best *Config
	bestHits := -1
	cfg := &Config{}
	for _, d := range dirs {
		if resolved, err := filepath.EvalSymlinks(d); err == nil && called[resolved] {
			continue
		}
		l := newConfigLoader(root)
		if err := l.load(d, "", nil); err != nil {
			return nil, err
		}
		rel := l.rel(d)
		cfg.Candidates = append(cfg.Candidates, rel)
		hits := 0
		for a := range l.locs {
			if want[a] {
				hits++
			}
		}
		if hits > bestHits {
			best, bestHits = &Config{Root: rel, Resources: l.locs, Attributes: l.attrs, Locals: l.locals}, hits
		}
	}
	if best == nil {
		return &Config{Root: ".", Resources: Locations{}, Attributes: map[string]map[string]int{}}, nil
	}
	best.Candidates = cfg.Candidates
	return best, nil
}

func hasConfigFiles(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if !e.IsDir() && (strings.HasSuffix(e.Name(), ".tf") || strings.HasSuffix(e.Name(), ".tf.json")) {
			return true
		}
	}
	return false
}

// Apply sets File and Line on each finding whose address (instance keys removed) was found:
// the line of the attribute the finding names (its Field), else of the resource block. A
// non-empty prefix ("infra") is joined in front of each file path.
func (c *Config) Apply(findings []Finding, prefix string) {
	for i := range findings {
		addr := StripInstanceKeys(findings[i].Address)
		loc, ok := c.Resources[addr]
		if !ok {
			continue
		}
		line := loc.Line
		if n := c.Attributes[addr][findings[i].Field]; findings[i].Field != "" && n > 0 {
			line = n
		}
		findings[i].File, findings[i].Line = joinPrefix(prefix, loc.File), line
	}
}

// Matches counts the addresses (instance keys removed) the configuration declares.
func (c *Config) Matches(addresses []string) int {
	n := 0
	for _, a := range addresses {
		if _, ok := c.Resources[StripInstanceKeys(a)]; ok {
			n++
		}
	}
	return n
}

func joinPrefix(prefix, file string) string {
	prefix = strings.Trim(filepath.ToSlash(prefix), "/")
	if prefix == "" || prefix == "." {
		return file
	}
	return prefix + "/" + file
}

// GitPrefix is the path of dir relative to the root of the git work tree that holds it
// (the nearest ancestor with a .git entry), with slashes: "infra" for a checkout's infra/
// directory. It is "" when dir is that root or lies in no git work tree.
func GitPrefix(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	}
	for d := abs; ; {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			rel, err := filepath.Rel(d, abs)
			if err != nil || rel == "." {
				return ""
			}
			return filepath.ToSlash(rel)
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
}

func moduleSource(b *hcl.Block) string {
	content, _, _ := b.Body.PartialContent(moduleSchema)
	attr, ok := content.Attributes["source"]
	if !ok {
		return ""
	}
	v, diags := attr.Expr.Value(nil)
	if diags.HasErrors() || !v.Type().Equals(cty.String) || v.IsNull() || !v.IsKnown() {
		return ""
	}
	return v.AsString()
}

func (l *configLoader) rel(path string) string {
	r, err := filepath.Rel(l.root, path)
	if err != nil {
		return path
	}
	return filepath.ToSlash(r)
}

func firstDiag(diags hcl.Diagnostics) string {
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			line := ""
			if d.Subject != nil {
				line = fmt.Sprintf("line %d: ", d.Subject.Start.Line)
			}
			return line + d.Summary + ": " + d.Detail
		}
	}
	return diags.Error()
}

// Apply sets File and Line on each finding whose address (instance keys removed) was found.
func (l Locations) Apply(findings []Finding) {
	for i := range findings {
		if loc, ok := l[StripInstanceKeys(findings[i].Address)]; ok {
			findings[i].File, findings[i].Line = loc.File, loc.Line
		}
	}
}

// StripInstanceKeys removes count and for_each keys from a resource address:
// `module.app["eu"].tokenguard_api_token.billing[0]` becomes
// `module.app.tokenguard_api_token.billing`. Quoted keys may hold brackets and dots.
func StripInstanceKeys(address string) string {
	var b strings.Builder
	depth, inString, escaped := 0, false, false
	for _, r := range address {
		switch {
		case depth > 0 && inString:
			switch {
			case escaped:
				escaped = false
			case r == '\\':
				escaped = true
			case r == '"':
				inString = false
			}
		case depth > 0 && r == '"':
			inString = true
		case r == '[':
			depth++
		case r == ']' && depth > 0:
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}
