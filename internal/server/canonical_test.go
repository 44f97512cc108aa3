package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// invisibleRunes are format (Cf), default-ignorable and variation-selector characters an
// attacker can hide in an identifier.
var invisibleRunes = []rune{
	0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x061C, 0xFEFF, 0x00AD, 0x2060, 0x180E,
	0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069,
	0x115F, 0x3164, 0xFE0F,
}

// TestCanonicalInput_foldedNamesDuplicateHeadersAndInvisibleCharactersAreRefused proves
// issue 13, point 4, against the running service: JSON member names are matched exactly
// (a case variant or a look-alike that encoding/json folds, such as "ſcopes" or "to\u212Aen",
// is an unknown field, 400), two Authorization headers or two form token parameters are
// refused with 400, names, owners, reviewers, data subjects, deletion subjects and credential
// names holding an invisible or format character are refused with 400 naming the field, and
// a reviewer equal to the owner after NFKC and case folding is the owner (422). No refused
// request changes anything.
func TestCanonicalInput_foldedNamesDuplicateHeadersAndInvisibleCharactersAreRefused(t *testing.T) {
	ctx := context.Background()
	svc := servertest.Start(t, servertest.Options{Now: servertest.NewClock(t0).Now})
	admin := svc.Client(t)
	_, icSecret := introspector(t, svc)
	tok, err := admin.CreateToken(ctx, compliantRequest("invoice-export"), "")
	if err != nil {
		t.Fatal(err)
	}
	good := func(edit func(m map[string]any)) string {
		b, _ := json.Marshal(compliantRequest("probe"))
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		edit(m)
		out, _ := json.Marshal(m)
		return string(out)
	}
	renamed := func(from, to string) string {
		return good(func(m map[string]any) { m[to] = m[from]; delete(m, from) })
	}
	tokPath := "/v1/tokens/" + tok.ID
	type attack struct {
		name, method, path, body string
		status                   int
		code, field              string
	}
	attacks := []attack{
		{"long s in scopes", "POST", "/v1/tokens", renamed("scopes", "ſcopes"), 400, "invalid_request", "ſcopes"},
		{"long s in data_subjects", "POST", "/v1/tokens", renamed("data_subjects", "data_ſubjects"), 400, "invalid_request", "data_ſubjects"},
		{"long s in audiences", "POST", "/v1/tokens", renamed("audiences", "audienceſ"), 400, "invalid_request", "audienceſ"},
		{"upper-case name alone", "POST", "/v1/tokens", renamed("name", "NAME"), 400, "invalid_request", "NAME"},
		{"title-case scopes", "POST", "/v1/tokens", renamed("scopes", "Scopes"), 400, "invalid_request", "Scopes"},
		{"kelvin sign in token", "POST", "/v1/introspect", `{"to` + "\u212A" + `en":"tg_live_x"}`, 400, "invalid_request", "to\u212Aen"},
		{"long s next to the real member", "POST", "/v1/tokens", good(func(m map[string]any) { m["ſcopes"] = []string{"admin:*"} }), 400, "invalid_request", "ſcopes"},
		{"folded nested member", "POST", "/v1/tokens", good(func(m map[string]any) { m["rotation"] = map[string]string{"Interval": "7d"} }), 400, "invalid_request", "Interval"},
		{"patch with long s", "PATCH", tokPath, `{"ſcopes":["admin:*"]}`, 400, "invalid_request", "ſcopes"},
		{"renew with upper-case reviewer member", "POST", tokPath + "/renew", `{"ttl":"30d","reason":"still needed","Reviewed_By":"x@example.com"}`, 400, "invalid_request", "Reviewed_By"},
		{"rotate with long s", "POST", tokPath + "/rotate", `{"overlap":"1h","ſ":"x"}`, 400, "invalid_request", "ſ"},
		{"deletion with long s", "POST", "/v1/deletion-requests", `{"ſubject":"customer:1"}`, 400, "invalid_request", "ſubject"},
		{"credential with kelvin", "POST", "/v1/credentials", `{"name":"orders","rights":["introspect"],"` + "\u212A" + `":1}`, 400, "invalid_request", "\u212A"},
		{"owner is reviewer after case folding", "POST", tokPath + "/renew", `{"ttl":"30d","reason":"still needed","reviewed_by":"TEAM-BILLING@EXAMPLE.COM"}`, 422, "reviewer_is_owner", "reviewed_by"},
		{"owner is reviewer in fullwidth letters", "POST", tokPath + "/renew", `{"ttl":"30d","reason":"still needed","reviewed_by":"ｔｅａｍ-billing@example.com"}`, 422, "reviewer_is_owner", "reviewed_by"},
		{"owner is reviewer with a fullwidth at sign", "POST", tokPath + "/renew", `{"ttl":"30d","reason":"still needed","reviewed_by":"Team-Billing` + "\uFF20" + `Example.Com"}`, 422, "reviewer_is_owner", "reviewed_by"},
	}
	for _, r := range invisibleRunes {
		c := string(r)
		attacks = append(attacks,
			attack{fmt.Sprintf("U+%04X in name", r), "POST", "/v1/tokens", good(func(m map[string]any) { m["name"] = "probe" + c }), 400, "invalid_request", "name"},
			attack{fmt.Sprintf("U+%04X in owner", r), "POST", "/v1/tokens", good(func(m map[string]any) { m["owner"] = "team-billing@example.com" + c }), 400, "invalid_request", "owner"},
			attack{fmt.Sprintf("U+%04X in data_subjects", r), "POST", "/v1/tokens", good(func(m map[string]any) { m["data_subjects"] = []string{"customer:" + c + "4411"} }), 400, "invalid_request", "data_subjects"},
			attack{fmt.Sprintf("U+%04X in reviewed_by", r), "POST", tokPath + "/renew", `{"ttl":"30d","reason":"still needed","reviewed_by":"team-billing@example.com` + c + `"}`, 400, "invalid_request", "reviewed_by"},
			attack{fmt.Sprintf("U+%04X in deletion subject", r), "POST", "/v1/deletion-requests", `{"subject":"customer:4411` + c + `"}`, 400, "invalid_request", "subject"},
			attack{fmt.Sprintf("U+%04X in credential name", r), "POST", "/v1/credentials", `{"name":"orders` + c + `","rights":["introspect"]}`, 400, "invalid_request", "name"},
		)
	}
	before := snapshotDB(t, svc.DBPath)
	for _, a := range attacks {
		status, body, _ := rawDo(t, a.method, svc.URL+a.path, icOr(a.path, icSecret, svc.AdminToken), a.body)
		var eb wire.ErrorBody
		_ = decodeErrorBodyFor(a.path, body, &eb)
		if status != a.status || eb.Error.Code != a.code || eb.Error.Field != a.field {
			t.Errorf("%s: %d %s, want %d %s field %q", a.name, status, body, a.status, a.code, a.field)
		}
	}
	after := snapshotDB(t, svc.DBPath)
	for table, rows := range before.rows {
		if table != "audit" && !slices.Equal(rows, after.rows[table]) {
			t.Errorf("refused requests changed table %s", table)
		}
	}

	// Two Authorization headers, in every order of a valid and an invalid credential, on a
	// management route and on introspection; two token parameters in an introspection form.
	headerCases := 0
	for _, route := range []struct{ method, path, body, good string }{
		{"GET", "/v1/tokens", "", svc.AdminToken},
		{"POST", "/v1/introspect", `{"token":"tg_live_x"}`, icSecret},
	} {
		for _, pair := range [][2]string{{route.good, "wrong"}, {"wrong", route.good}, {route.good, route.good}} {
			headerCases++
			req, _ := http.NewRequest(route.method, svc.URL+route.path, strings.NewReader(route.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Add("Authorization", "Bearer "+pair[0])
			req.Header.Add("Authorization", "Bearer "+pair[1])
			status, body := send(t, req)
			if status != http.StatusBadRequest || !strings.Contains(body, "more than one Authorization header") {
				t.Errorf("%s %s with two Authorization headers = %d %s, want 400", route.method, route.path, status, body)
			}
		}
	}
	headerCases++
	form := url.Values{"token": {"tg_live_a", "tg_live_b"}}
	req, _ := http.NewRequest("POST", svc.URL+"/v1/introspect", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+icSecret)
	if status, body := send(t, req); status != http.StatusBadRequest || !strings.Contains(body, "more than one token") {
		t.Errorf("introspect form with two tokens = %d %s, want 400", status, body)
	}
	t.Logf("canonical input: %d body attacks, %d header/form attacks refused", len(attacks), headerCases)
}

// icOr is the introspection credential for the introspection route, else the admin one.
func icOr(path, ic, admin string) string {
	if path == "/v1/introspect" {
		return ic
	}
	return admin
}

func send(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer closeOrFail(t, "the response body", resp.Body)
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}
