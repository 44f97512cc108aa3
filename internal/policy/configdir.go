package policy

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
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
}}

var moduleSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "source"}}}

// LoadConfigDir parses the *.tf and *.tf.json files of dir and, recursively, of the local
// modules it calls (sources starting with ./ or ../), recording where each resource is
// declared. A module directory already on the call chain is not entered again, so symlink
// loops end.
func LoadConfigDir(dir string) (Locations, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("config directory %s: %w", dir, pathErr(err))
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("config directory %s is a file: pass the directory holding the .tf files", dir)
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("config directory %s: %w", dir, err)
	}
	locs := Locations{}
	l := &configLoader{root: root, parser: hclparse.NewParser(), locs: locs}
	if err := l.load(root, "", nil); err != nil {
		return nil, err
	}
	return locs, nil
}

type configLoader struct {
	root   string
	parser *hclparse.Parser
	locs   Locations
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
				if err := l.load(sub, prefix+"module."+b.Labels[0]+".", chain); err != nil {
					return err
				}
			}
		}
	}
	return nil
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
