package cli

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"golang.org/x/text/unicode/norm"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// hostileTexts are strings a token's text attributes may hold that HCL would read differently
// if written unescaped: template sequences (HCL interpolates "${" and "%{" in every quoted
// string), quotes, backslashes, line breaks, comment and heredoc markers, invisible and
// look-alike characters. Each must read back exactly as the service holds it.
var hostileTexts = []string{
	"${var.secret}",                          // interpolation
	"${file(\"/etc/passwd\")}",               // interpolation calling a function
	"%{ if true }x%{ endif }",                // template directive
	"$${already-escaped} %%{also}",           // escapes of escapes
	"cost: 100% $",                           // lone $ and %
	`say "hi" \ and \n literally`,            // quotes and backslashes
	"line one\nline two\r\n\ttabbed",         // line breaks and a tab
	"end\" \n  purpose = \"injected",         // an attempt to close the string and add an attribute
	"# not a comment // nor this /* or this", // comment markers
	"<<EOF\nheredoc\nEOF",                    // heredoc marker
	"customer:\u200b4411",                    // zero-width space
	"customer:\u202e1144",                    // right-to-left override
	"\u0441ustomer:4411",                     // Cyrillic es, a look-alike of c
	"customer:\u00a04411",                    // no-break space
	"customer:\u20284411",                    // line separator
	"customer:\ufeff4411",                    // byte-order mark
	"customer:\U0001F600",                    // a character outside the BMP
	"caf\u00e9",                              // composed é (NFC)
}

// readBack parses a written resource block and evaluates each attribute without any
// variables or functions, as Terraform would read a literal.
func readBack(t *testing.T, src []byte) map[string]cty.Value {
	t.Helper()
	f, diags := hclsyntax.ParseConfig(src, "tokens.tf", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("the written HCL does not parse: %v\n%s", diags, src)
	}
	body := f.Body.(*hclsyntax.Body)
	if len(body.Blocks) != 1 || len(body.Attributes) != 0 || body.Blocks[0].Type != "resource" {
		t.Fatalf("the written HCL is not exactly one resource block:\n%s", src)
	}
	out := map[string]cty.Value{}
	for name, a := range body.Blocks[0].Body.Attributes {
		v, diags := a.Expr.Value(nil)
		if diags.HasErrors() {
			t.Fatalf("attribute %s does not read back as a literal: %v\n%s", name, diags, src)
		}
		out[name] = v
	}
	return out
}

func stringsOf(t *testing.T, v cty.Value) []string {
	t.Helper()
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		out = append(out, e.AsString())
	}
	slices.Sort(out)
	return out
}

// TestResourceBlock_readsBackExactly: every hostile text, in every text attribute (name,
// owner, purpose, scopes, data_subjects, audiences, label keys and values), reads back from the
// written HCL exactly as the service holds it, and adds no attribute. HCL keeps strings in
// NFC, as the service's composed é is; a decomposed text would read back composed.
func TestResourceBlock_readsBackExactly(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := 0
	for _, s := range hostileTexts {
		tok := wire.Token{
			ID: "tok_x", Name: s, Owner: s, Purpose: s, Scopes: []string{s, "orders:read"},
			DataCategories: []string{}, DataSubjects: []string{s, "customer:4411"}, Audiences: []string{s},
			Labels:    map[string]string{s: s, "env": s},
			CreatedAt: created, ExpiresAt: created.Add(30 * 24 * time.Hour),
			Rotation: &wire.Rotation{Interval: "168h", Overlap: "60m"},
		}
		src := resourceBlock("t", tok)
		got := readBack(t, src)
		wantKeys := []string{"audiences", "data_categories", "data_subjects", "labels", "name", "owner", "purpose", "rotation", "scopes", "ttl"}
		if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, wantKeys) {
			t.Errorf("%q: attributes %v, want %v\n%s", s, keys, wantKeys, src)
		}
		for _, attr := range []string{"name", "owner", "purpose"} {
			if v := got[attr]; v.Type() != cty.String || v.AsString() != s {
				t.Errorf("%q: %s reads back as %#v\n%s", s, attr, v, src)
			}
		}
		for attr, want := range map[string][]string{"scopes": tok.Scopes, "data_subjects": tok.DataSubjects, "audiences": tok.Audiences} {
			want = slices.Sorted(slices.Values(want))
			if g := stringsOf(t, got[attr]); !slices.Equal(g, want) {
				t.Errorf("%q: %s reads back as %q, want %q\n%s", s, attr, g, want, src)
			}
		}
		labels := map[string]string{}
		for k, v := range got["labels"].AsValueMap() {
			labels[k] = v.AsString()
		}
		if !maps.Equal(labels, tok.Labels) {
			t.Errorf("%q: labels read back as %q, want %q\n%s", s, labels, tok.Labels, src)
		}
		if strings.ContainsAny(string(src), "\u200b\u202e\u00a0\u2028\ufeff") {
			t.Errorf("%q: the written HCL holds an invisible character unescaped:\n%s", s, src)
		}
		cases++
	}
	// Label keys that HCL would read as something other than their name when bare.
	for _, k := range []string{"null", "true", "false", "for", "if", "a b", "", "${k}", "env"} {
		tok := wire.Token{Name: "n", Owner: "o", Purpose: "p", Scopes: []string{"s"}, Labels: map[string]string{k: "v"},
			CreatedAt: created, ExpiresAt: created.Add(time.Hour)}
		got := readBack(t, resourceBlock("t", tok))
		if m := got["labels"].AsValueMap(); len(m) != 1 || m[k].AsString() != "v" {
			t.Errorf("label key %q reads back as %#v", k, got["labels"])
		}
		cases++
	}
	// A decomposed text reads back composed: HCL (and Terraform state) keep strings in NFC.
	nfd := norm.NFD.String("caf\u00e9")
	got := readBack(t, resourceBlock("t", wire.Token{Name: nfd, Owner: "o", Purpose: "p", Scopes: []string{"s"}, CreatedAt: created, ExpiresAt: created.Add(time.Hour)}))
	if got["name"].AsString() != norm.NFC.String(nfd) {
		t.Errorf("decomposed name reads back as %q", got["name"].AsString())
	}
	cases++
	t.Logf("%d cases read back exactly", cases)
}

// TestResourceBlock_importsWithoutChange: the written block holds what the provider records at
// import: ttl is the lifetime in its largest exact unit, the rotation in tidy units, no
// overlap when there is none, empty collections of optional attributes left out and an empty
// data_categories written as [].
func TestResourceBlock_importsWithoutChange(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		tok  wire.Token
		want string
	}{
		{wire.Token{Name: "a", Owner: "o", Purpose: "p", Scopes: []string{"s"}, DataCategories: []string{},
			CreatedAt: created, ExpiresAt: created.Add(36 * time.Hour), Rotation: &wire.Rotation{Interval: "168h", Overlap: "0s"}},
			`resource "tokenguard_api_token" "t" {
  name            = "a"
  owner           = "o"
  purpose         = "p"
  scopes          = ["s"]
  data_categories = []
  ttl             = "36h"
  rotation = {
    interval = "7d"
  }
}
`},
		{wire.Token{Name: "b", Owner: "o", Purpose: "p", Scopes: []string{"s2", "s1"}, DataCategories: []string{"commercial"},
			DataSubjects: []string{"tenant:2", "tenant:1"}, CreatedAt: created, ExpiresAt: created.Add(482*time.Hour + 2*time.Second + 400*time.Millisecond)},
			`resource "tokenguard_api_token" "t" {
  name            = "b"
  owner           = "o"
  purpose         = "p"
  scopes          = ["s1", "s2"]
  data_categories = ["commercial"]
  data_subjects   = ["tenant:1", "tenant:2"]
  ttl             = "1735202s"
}
`},
	} {
		if got := string(resourceBlock("t", tc.tok)); got != tc.want {
			t.Errorf("resourceBlock(%s) =\n%s\nwant:\n%s", tc.tok.Name, got, tc.want)
		}
	}
}

// TestInventory_generateConfigOut: --generate-config-out writes one resource block per import
// block, at the same address, with the token's data subjects; it refuses an existing file
// (even with --force), the file of --generate-imports, and use without --generate-imports,
// before writing anything.
func TestInventory_generateConfigOut(t *testing.T) {
	w := newInventoryWorld(t)
	c := w.svc.Client(t)
	hostile, err := c.CreateToken(context.Background(), wire.CreateTokenRequest{
		Name: "subjects-${x}", Owner: "team-%{ if true }x%{ endif }", Purpose: "export \"quoted\" ${var.secret} invoices to the EU",
		Scopes: []string{"invoices:read"}, DataCategories: []string{"commercial"},
		DataSubjects: []string{"customer:4411", "customer:${x}", "\u0441ustomer:4411"}, TTL: "30d",
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	imports, config := filepath.Join(dir, "imports.tf"), filepath.Join(dir, "tokens.tf")
	code, _, errs := runSubcommand(t, newInventoryCommand, "inventory", "--state", w.state, "--generate-imports", imports, "--generate-config-out", config)
	if code != 0 {
		t.Fatalf("--generate-config-out = %d %s", code, errs)
	}
	if !strings.Contains(errs, "wrote 4 import block(s) to "+imports+" and their resource blocks to "+config) ||
		!strings.Contains(errs, "next: terraform plan") {
		t.Errorf("stderr = %q", errs)
	}
	src, err := os.ReadFile(config) //nolint:gosec // G304: the file the test just had written
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclsyntax.ParseConfig(src, "tokens.tf", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("tokens.tf does not parse: %v\n%s", diags, src)
	}
	var addrs []string
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		addrs = append(addrs, b.Labels[0]+"."+b.Labels[1])
		if b.Labels[1] != "subjects_x" {
			continue
		}
		subjects, d := b.Body.Attributes["data_subjects"].Expr.Value(nil)
		if d.HasErrors() || !slices.Equal(stringsOf(t, subjects), slices.Sorted(slices.Values(hostile.DataSubjects))) {
			t.Errorf("data_subjects of the token read back as %#v (%v), want %q", subjects, d, hostile.DataSubjects)
		}
		for attr, want := range map[string]string{"name": hostile.Name, "owner": hostile.Owner, "purpose": hostile.Purpose} {
			if v, d := b.Body.Attributes[attr].Expr.Value(nil); d.HasErrors() || v.AsString() != want {
				t.Errorf("%s reads back as %#v (%v), want %q", attr, v, d, want)
			}
		}
	}
	var importAddrs []string
	for _, b := range parseImports(t, imports) {
		importAddrs = append(importAddrs, b.to)
	}
	slices.Sort(addrs)
	slices.Sort(importAddrs)
	if !slices.Equal(addrs, importAddrs) || len(addrs) != 4 {
		t.Errorf("resource blocks at %v, import blocks to %v: want the same four addresses\n%s", addrs, importAddrs, src)
	}

	// Refusals, before any file is written or changed.
	if err := os.WriteFile(filepath.Join(dir, "mine.tf"), []byte("# mine\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--generate-config-out", filepath.Join(dir, "new.tf")}, "--generate-config-out needs --generate-imports"},
		{[]string{"--generate-imports", filepath.Join(dir, "i2.tf"), "--generate-config-out", filepath.Join(dir, "mine.tf"), "--force"}, "mine.tf already exists, and it is never overwritten"},
		{[]string{"--generate-imports", filepath.Join(dir, "same.tf"), "--generate-config-out", filepath.Join(dir, ".", "same.tf")}, "name the same file"},
		{[]string{"--generate-imports", imports, "--generate-config-out", filepath.Join(dir, "new.tf")}, "imports.tf already exists: pass --force"},
	} {
		code, out, errs := runSubcommand(t, newInventoryCommand, append([]string{"inventory", "--state", w.state}, tc.args...)...)
		if code != ExitUsage || out != "" || !strings.Contains(errs, tc.want) {
			t.Errorf("inventory %v = %d %q %q; want exit 2 with %q", tc.args, code, out, errs, tc.want)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "mine.tf")); err != nil || string(b) != "# mine\n" { //nolint:gosec // G304: the test's file
		t.Errorf("an existing --generate-config-out file was changed: %q (%v)", b, err)
	}
	for _, name := range []string{"new.tf", "i2.tf", "same.tf"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			t.Errorf("a refused run wrote %s", name)
		}
	}
}

// TestComment_keepsServiceTextOnOneVisibleLine: a comment line written from service text stays
// one line, and invisible characters (which could hide or reorder what a reviewer reads) are
// shown as escapes.
func TestComment_keepsServiceTextOnOneVisibleLine(t *testing.T) {
	for in, want := range map[string]string{
		"orders-sync":                  "orders-sync",
		"a\nb\rc\td":                   "a b c d",
		"a\u2028b\u2029c":              "a b c",
		"admin\u202e\u2066x":           `admin\u202e\u2066x`,
		"cus\u200btomer":               `cus\u200btomer`,
		"no\u00a0break":                `no\u00a0break`,
		"\u0441yrillic look-alike é ✓": "\u0441yrillic look-alike é ✓",
	} {
		if got := comment(in); got != want {
			t.Errorf("comment(%q) = %q, want %q", in, got, want)
		}
	}
}
