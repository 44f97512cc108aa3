package server_test

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
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
