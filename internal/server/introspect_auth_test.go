package server_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// Introspection reads its body before it checks the credential (so one read transaction can
// do both); a request whose credential does not authenticate must still be answered 401
// whatever its body, and an authenticated one as before.
func TestIntrospect_credentialIsCheckedWhateverTheBody(t *testing.T) {
	ctx := context.Background()
	svc := servertest.Start(t, servertest.Options{AuthFailuresPerMinute: -1})
	tok, err := svc.Client(t).CreateToken(ctx, compliantRequest("introspect-auth"), "")
	if err != nil {
		t.Fatal(err)
	}
	_, verifier := introspector(t, svc)
	bodies := []struct {
		name, body string
		status     int    // with the verifier credential
		want       string // error code, or "active" / "inactive"
	}{
		{"empty body", "", 400, "invalid_request"},
		{"no token", `{}`, 400, "invalid_request"},
		{"not JSON", `{"token":`, 400, "invalid_request"},
		{"malformed secret", `{"token":"hello"}`, 200, "inactive"},
		{"active token", `{"token":"` + tok.Secret + `"}`, 200, "active"},
	}
	credentials := []struct{ name, header string }{
		{"no credential", ""},
		{"wrong credential", "Bearer tgc_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{"token secret as credential", "Bearer " + tok.Secret},
	}
	for _, b := range bodies {
		for _, c := range credentials {
			status, body, _ := rawDo(t, "POST", svc.URL+"/v1/introspect", "", b.body, "Authorization", c.header)
			var eb wire.ErrorBody
			if status != 401 || decodeErrorBodyFor("/v1/introspect", body, &eb) != nil || eb.Error.Code != "unauthenticated" {
				t.Errorf("%s with %s: status %d, body %s; want 401 unauthenticated", b.name, c.name, status, body)
			}
		}
		status, body, _ := rawDo(t, "POST", svc.URL+"/v1/introspect", verifier, b.body)
		if status != b.status {
			t.Errorf("%s with the verifier credential: status %d (%s), want %d", b.name, status, body, b.status)
			continue
		}
		switch b.want {
		case "active", "inactive":
			var ans wire.Introspection
			if err := json.Unmarshal(body, &ans); err != nil || ans.Active != (b.want == "active") {
				t.Errorf("%s with the verifier credential: body %s, want %s", b.name, body, b.want)
			}
			if b.want == "active" && ans.TokenID != tok.ID {
				t.Errorf("%s: token_id %q, want %q", b.name, ans.TokenID, tok.ID)
			}
		default:
			var eb wire.ErrorBody
			if err := decodeErrorBodyFor("/v1/introspect", body, &eb); err != nil || eb.Error.Code != b.want {
				t.Errorf("%s with the verifier credential: body %s, want error code %s", b.name, body, b.want)
			}
		}
	}
}
