package server_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// fuzzRoutes are the request decoders FuzzRequestDecoders drives, picked by the fuzzed byte.
var fuzzRoutes = []struct{ method, path, contentType string }{
	{"POST", "/v1/tokens", "application/json"},
	{"PATCH", "/v1/tokens/{id}", "application/json"},
	{"POST", "/v1/tokens/{id}/rotate", "application/json"},
	{"POST", "/v1/tokens/{id}/renew", "application/json"},
	{"POST", "/v1/introspect", "application/json"},
	{"POST", "/v1/introspect", "application/x-www-form-urlencoded"},
	{"POST", "/v1/credentials", "application/json"},
	{"POST", "/v1/tokens/{id}/revoke", "application/json"},
}

// FuzzRequestDecoders sends fuzzed bodies to the API's request decoders on a real service
// (SQLite store, in-process handler) and checks every answer is either a success with a JSON
// body or a 4xx in the one error shape: never a 5xx, never a panic. The revoke route gets a
// token of its own so the others keep a live token. Seeds: testdata/fuzz/FuzzRequestDecoders.
func FuzzRequestDecoders(f *testing.F) {
	svc := servertest.Start(f, servertest.Options{AuthFailuresPerMinute: -1})
	ctx := context.Background()
	admin := svc.Client(f)
	live, err := admin.CreateToken(ctx, compliantRequest("fuzz-live"), "")
	if err != nil {
		f.Fatal(err)
	}
	doomed, err := admin.CreateToken(ctx, compliantRequest("fuzz-revoke"), "")
	if err != nil {
		f.Fatal(err)
	}
	handler := svc.Server.Handler()
	f.Add(byte(0), `{"name":"n","owner":"o","purpose":"export invoices nightly to the ledger","scopes":["a"],"data_categories":[]}`)
	f.Fuzz(func(t *testing.T, route byte, body string) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		id := live.ID
		if strings.HasSuffix(rt.path, "/revoke") {
			id = doomed.ID
		}
		req := httptest.NewRequest(rt.method, strings.Replace(rt.path, "{id}", id, 1), strings.NewReader(body))
		req.Header.Set("Content-Type", rt.contentType)
		req.Header.Set("Authorization", "Bearer "+svc.AdminToken)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		out := rec.Body.Bytes()
		switch {
		case rec.Code >= 500:
			t.Fatalf("%s %s with %q: %d %s\nlog:\n%s", rt.method, rt.path, body, rec.Code, out, svc.Logs.String())
		case rec.Code >= 400:
			var eb wire.ErrorBody
			var top map[string]json.RawMessage
			oauth := rt.path == "/v1/introspect" || rt.path == "/v1/revoke" // RFC 6749's shape (issue 16)
			if json.Unmarshal(out, &top) != nil || (!oauth && len(top) != errorShapeKeys(top)) ||
				decodeErrorBodyFor(rt.path, out, &eb) != nil || eb.Error.Code == "" || eb.Error.Message == "" {
				t.Fatalf("%s %s with %q: %d answer %s is not the error shape", rt.method, rt.path, body, rec.Code, out)
			}
		case rec.Code >= 200 && rec.Code < 300:
			if !json.Valid(out) {
				t.Fatalf("%s %s with %q: %d answer is not JSON: %s", rt.method, rt.path, body, rec.Code, out)
			}
		default:
			t.Fatalf("%s %s with %q: unexpected status %d", rt.method, rt.path, body, rec.Code)
		}
		if strings.Contains(string(out), svc.AdminToken) {
			t.Fatalf("%s %s answer echoes the caller's credential: %s", rt.method, rt.path, out)
		}
	})
}
