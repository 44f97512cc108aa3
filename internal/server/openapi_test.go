package server_test

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
)

// openAPIDoc is the part of an OpenAPI document these tests read.
type openAPIDoc struct {
	OpenAPI string                                `json:"openapi"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"`
}

// readOpenAPI reads and decodes the OpenAPI document at path.
func readOpenAPI(t *testing.T, path string) ([]byte, openAPIDoc) {
	t.Helper()
	raw, err := os.ReadFile(path) //nolint:gosec // a constant path in this repository
	if err != nil {
		t.Fatalf("reading the OpenAPI document: %v", err)
	}
	var doc openAPIDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s is not valid JSON: %v", path, err)
	}
	return raw, doc
}

// httpMethods are the operation keys of an OpenAPI path item.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// documentedRoutes returns every operation of doc as a mux pattern, e.g. "POST /v1/tokens".
func documentedRoutes(doc openAPIDoc) []string {
	var routes []string
	for path, item := range doc.Paths {
		for key := range item {
			if slices.Contains(httpMethods, key) {
				routes = append(routes, strings.ToUpper(key)+" "+path)
			}
		}
	}
	slices.Sort(routes)
	return routes
}

func TestOpenAPI_documentsEveryRouteAndNothingElse(t *testing.T) {
	svc := servertest.Start(t, servertest.Options{})
	_, doc := readOpenAPI(t, "../../docs/openapi.json")
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("openapi is %q, want 3.1.x", doc.OpenAPI)
	}
	registered := svc.Server.Routes()
	slices.Sort(registered)
	documented := documentedRoutes(doc)
	for _, r := range registered {
		if !slices.Contains(documented, r) {
			t.Errorf("route %q is served but not described in docs/openapi.json: add it, then run `make generate` to copy it to internal/server/openapi.json", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(registered, r) {
			t.Errorf("docs/openapi.json describes %q, which the service does not serve", r)
		}
	}
	if len(registered) < 15 {
		t.Errorf("only %d routes registered: %v", len(registered), registered)
	}
}

func TestOpenAPI_servedWithoutCredentialAndEqualToDocs(t *testing.T) {
	docs, _ := readOpenAPI(t, "../../docs/openapi.json")
	embedded, _ := readOpenAPI(t, "openapi.json")
	if !bytes.Equal(docs, embedded) {
		t.Fatal("internal/server/openapi.json differs from docs/openapi.json: run `make generate` (it copies docs/openapi.json over it)")
	}
	svc := servertest.Start(t, servertest.Options{})
	status, body, hdr := rawDo(t, "GET", svc.URL+"/v1/openapi.json", "", "")
	if status != 200 {
		t.Fatalf("GET /v1/openapi.json without a credential = %d %s, want 200", status, body)
	}
	if ct := hdr.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if !bytes.Equal(body, docs) {
		t.Error("GET /v1/openapi.json does not answer docs/openapi.json")
	}
}

// Every $ref points at a component that exists, so generators and viewers can resolve it.
func TestOpenAPI_referencesResolve(t *testing.T) {
	raw, _ := readOpenAPI(t, "../../docs/openapi.json")
	var root map[string]any
	if err := json.Unmarshal(raw, &root); err != nil {
		t.Fatal(err)
	}
	refs := 0
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				refs++
				if _, ok := lookupPointer(root, ref); !ok {
					t.Errorf("$ref %q does not resolve", ref)
				}
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(root)
	if refs == 0 {
		t.Fatal("no $ref found: the document lost its components")
	}
}

// lookupPointer resolves a local JSON pointer such as "#/components/schemas/Token".
func lookupPointer(root map[string]any, ref string) (any, bool) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, false
	}
	var cur any = root
	for _, part := range strings.Split(rest, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[strings.NewReplacer("~1", "/", "~0", "~").Replace(part)]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// wireCode is one exported Code* constant of the wire package.
type wireCode struct {
	name, value string
	status      string // the HTTP status its doc comment names, e.g. "409"
}

// wireCodes reads every exported Code* string constant declared in the wire package's
// source (not a hand-kept list: a constant added there is seen here), with the HTTP status
// its doc comment starts with ("CodeNameTaken (409): ...").
func wireCodes(t *testing.T) []wireCode {
	t.Helper()
	files, err := filepath.Glob("../wire/*.go")
	if err != nil {
		t.Fatal(err)
	}
	statusOf := regexp.MustCompile(`^Code\w+ \((\d{3})\)`)
	var out []wireCode
	fset := token.NewFileSet()
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.CONST {
				continue
			}
			for _, spec := range gen.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !name.IsExported() || !strings.HasPrefix(name.Name, "Code") {
						continue
					}
					if i >= len(vs.Values) {
						t.Fatalf("%s: %s has no value of its own", file, name.Name)
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("%s: %s is not a string literal: keep error codes literal so this test can read them", file, name.Name)
					}
					value, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					m := statusOf.FindStringSubmatch(vs.Doc.Text())
					if m == nil {
						t.Fatalf("%s: the doc comment of %s does not start with \"%s (NNN):\" naming its HTTP status", file, name.Name, name.Name)
					}
					out = append(out, wireCode{name: name.Name, value: value, status: m[1]})
				}
			}
		}
	}
	return out
}

// TestOpenAPI_listsEveryErrorCodeAndNoOther keeps the ErrorCode schema of docs/openapi.json
// equal to the wire package's Code* constants: every code listed with a description naming
// the status the constant's doc names, no code the service does not have, and every status a
// code comes with declared by some operation.
func TestOpenAPI_listsEveryErrorCodeAndNoOther(t *testing.T) {
	codes := wireCodes(t)
	if len(codes) < 20 {
		t.Fatalf("read only %d Code* constants from internal/wire: the reader lost them", len(codes))
	}
	raw, doc := readOpenAPI(t, "../../docs/openapi.json")
	var root struct {
		Components struct {
			Schemas struct {
				ErrorCode struct {
					Enum         []string          `json:"enum"`
					Descriptions map[string]string `json:"x-enumDescriptions"`
				}
				Error struct {
					Properties struct {
						Error struct {
							Properties struct {
								Code struct {
									Ref string `json:"$ref"`
								} `json:"code"`
							} `json:"properties"`
						} `json:"error"`
					} `json:"properties"`
				}
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &root); err != nil {
		t.Fatal(err)
	}
	if ref := root.Components.Schemas.Error.Properties.Error.Properties.Code.Ref; ref != "#/components/schemas/ErrorCode" {
		t.Errorf("Error.error.code is %q, want a $ref to #/components/schemas/ErrorCode", ref)
	}
	schema := root.Components.Schemas.ErrorCode
	listed := map[string]bool{}
	for _, c := range schema.Enum {
		if listed[c] {
			t.Errorf("ErrorCode lists %q twice", c)
		}
		listed[c] = true
	}
	statuses := map[string]bool{}
	for _, item := range doc.Paths {
		for key, op := range item {
			if !slices.Contains(httpMethods, key) {
				continue
			}
			var o struct {
				Responses map[string]json.RawMessage `json:"responses"`
			}
			if err := json.Unmarshal(op, &o); err != nil {
				t.Fatal(err)
			}
			for status := range o.Responses {
				statuses[status] = true
			}
		}
	}
	known := map[string]bool{}
	for _, c := range codes {
		known[c.value] = true
		if !listed[c.value] {
			t.Errorf("wire.%s = %q is missing from components.schemas.ErrorCode.enum in docs/openapi.json", c.name, c.value)
		}
		desc := schema.Descriptions[c.value]
		if !strings.HasPrefix(desc, c.status+": ") || len(desc) < len(c.status)+20 {
			t.Errorf("x-enumDescriptions[%q] = %q, want a description starting %q (the status wire.%s names)", c.value, desc, c.status+": ", c.name)
		}
		// 405 is answered by the router for any route and any method it does not serve;
		// no operation can declare the methods it lacks.
		if c.status != "405" && !statuses[c.status] {
			t.Errorf("wire.%s comes with %s, which no operation in docs/openapi.json declares", c.name, c.status)
		}
	}
	// The guide's table of codes by status says the same.
	guide, err := os.ReadFile("../../templates/guides/token-api-reference.md.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(guide), "\n") {
		if m := regexp.MustCompile(`^\| (\d{3}) \| (.*)\|$`).FindStringSubmatch(line); m != nil {
			rows[m[1]] = m[2]
		}
	}
	for _, c := range codes {
		if !strings.Contains(rows[c.status], "`"+c.value+"`") {
			t.Errorf("the error table of templates/guides/token-api-reference.md.tmpl lacks `%s` on its %s row", c.value, c.status)
		}
	}
	for _, c := range schema.Enum {
		if !known[c] {
			t.Errorf("docs/openapi.json lists error code %q, which the wire package does not define", c)
		}
	}
	for c := range schema.Descriptions {
		if !known[c] {
			t.Errorf("x-enumDescriptions describes %q, which the wire package does not define", c)
		}
	}
}
