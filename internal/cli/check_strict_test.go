package cli

import (
	"encoding/binary"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
)

// strictPlan is a plan JSON document with one resource change whose change object is change
// (raw JSON), so that each case can break exactly one thing.
func strictPlan(typ, change string) string {
	return `{"format_version":"1.2","terraform_version":"1.11.0","timestamp":"2026-11-27T12:00:00Z",` +
		`"planned_values":{"root_module":{}},"configuration":{"root_module":{}},"resource_changes":[` +
		`{"address":"` + typ + `.x","mode":"managed","type":"` + typ + `","name":"x","provider_name":"p",` +
		`"change":` + change + `}]}`
}

// TestCheck_strictReadingExitsTwoWithByteAndWhatToDo (issue 15 point 2): every structure
// Terraform never writes, which the checker used to pass with exit 0 or judge by the last
// duplicate, exits 2 with one line naming the byte and what to do.
func TestCheck_strictReadingExitsTwoWithByteAndWhatToDo(t *testing.T) {
	dir := t.TempDir()
	const good = `{"actions":["create"],"before":null,"after":{"name":"a","purpose":"Reads invoice totals for the monthly revenue report","owner":"team-finance","scopes":["invoices:read"],"data_categories":[],"ttl":"30d"},"after_unknown":{"secret":true}}`
	afterString := strictPlan("tokenguard_api_token", `{"actions":["create"],"after":"ttl=400d"}`)
	dupTTL := strictPlan("tokenguard_api_token", `{"actions":["create"],"after":{"ttl":"30d","ttl":"400d"}}`)
	cases := []struct{ name, plan, want string }{
		{"after is a string", afterString,
			"change after is a string, expected an object (or null) at byte " + itoa(strings.Index(afterString, `"ttl=400d"`)+1) + "; Terraform never writes this: regenerate the plan"},
		{"after is a list", strictPlan("gitlab_deploy_token", `{"actions":["create"],"after":[{"name":"x"}]}`), "change after is an array, expected an object (or null) at byte"},
		{"unknown action", strictPlan("tokenguard_api_token", `{"actions":["replace"],"after":{}}`), `change actions holds "replace", which is not a Terraform action`},
		{"empty actions", strictPlan("tokenguard_api_token", `{"actions":[],"after":{}}`), "change actions is empty, expected at least one action at byte"},
		{"null actions", strictPlan("tokenguard_api_token", `{"actions":null,"after":{}}`), "change actions is null"},
		{"no actions", strictPlan("tokenguard_api_token", `{"after":{}}`), "change has no actions"},
		{"scopes of the wrong type", strictPlan("tokenguard_api_token", `{"actions":["create"],"after":{"scopes":[1,2,{}]}}`),
			"scopes[0] is a number, expected a string; scopes[1] is a number, expected a string; scopes[2] is an object, expected a string; Terraform never writes this"},
		{"scopes not a list", strictPlan("gitlab_project_access_token", `{"actions":["create"],"after":{"scopes":"api"}}`), "scopes is a string, expected a list of strings"},
		{"duplicate ttl, last wins 400d", dupTTL, `duplicate object member name "ttl" at byte ` + itoa(strings.LastIndex(dupTTL, `"ttl"`)+1) + " (/resource_changes/0/change/after/ttl); a member name may appear once per object"},
		{"duplicate ttl, reversed", strictPlan("tokenguard_api_token", `{"actions":["create"],"after":{"ttl":"400d","ttl":"30d"}}`), `duplicate object member name "ttl"`},
		{"duplicate top-level member", `{"format_version":"1.2","format_version":"1.2","planned_values":{}}`, `duplicate object member name "format_version" at byte 25`},
		{"control plan is fine", strictPlan("tokenguard_api_token", good), ""},
	}
	n := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, dir, strings.ReplaceAll(c.name, " ", "_")+".json", []byte(c.plan))
			code, stdout, stderr := runCLI(t, "", "check", "--format", "json", p)
			if c.want == "" {
				if code != 0 {
					t.Fatalf("control plan: exit %d, stderr %q", code, stderr)
				}
				return
			}
			if code != ExitUsage || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 || stdout != "" {
				t.Errorf("exit %d, stderr %q; want exit 2 and one line holding %q", code, stderr, c.want)
			}
		})
		n++
	}
	t.Logf("%d malformed plans refused", n-1)
}

// TestCheck_utf16And32InputSaysReencode: a plan written by Windows PowerShell 5 (UTF-16 with
// a byte order mark) or any other UTF-16/32 form gets a message that says to re-encode.
func TestCheck_utf16And32InputSaysReencode(t *testing.T) {
	dir := t.TempDir()
	plan := strictPlan("tokenguard_api_token", `{"actions":["no-op"],"before":{},"after":{}}`)
	u16 := utf16.Encode([]rune(plan))
	enc := func(order binary.AppendByteOrder, bom bool, width int) []byte {
		var out []byte
		if bom {
			if width == 2 {
				out = order.AppendUint16(out, 0xFEFF)
			} else {
				out = order.AppendUint32(out, 0xFEFF)
			}
		}
		if width == 2 {
			for _, u := range u16 {
				out = order.AppendUint16(out, u)
			}
		} else {
			for _, r := range plan {
				out = order.AppendUint32(out, uint32(r)) //nolint:gosec // G115: runes of a valid string are non-negative
			}
		}
		return out
	}
	cases := map[string]struct {
		in   []byte
		want string
	}{
		"utf16le-bom": {enc(binary.LittleEndian, true, 2), "input is UTF-16 (little-endian, with a byte order mark), not UTF-8: re-encode it as UTF-8"},
		"utf16be-bom": {enc(binary.BigEndian, true, 2), "input is UTF-16 (big-endian, with a byte order mark)"},
		"utf16le":     {enc(binary.LittleEndian, false, 2), "input is UTF-16 (little-endian), not UTF-8"},
		"utf16be":     {enc(binary.BigEndian, false, 2), "input is UTF-16 (big-endian), not UTF-8"},
		"utf32le-bom": {enc(binary.LittleEndian, true, 4), "input is UTF-32 (little-endian, with a byte order mark)"},
		"utf32be":     {enc(binary.BigEndian, false, 4), "input is UTF-32 (big-endian), not UTF-8"},
		"utf8-bom":    {append([]byte{0xEF, 0xBB, 0xBF}, plan...), "input starts with a UTF-8 byte order mark"},
	}
	for name, c := range cases {
		p := writeFile(t, dir, name+".json", c.in)
		code, _, stderr := runCLI(t, "", "check", p)
		if code != ExitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit 2 with %q", name, code, stderr, c.want)
		}
		// stdin takes the same path through a pipe.
		code, _, stderr = runCLI(t, string(c.in), "check", "-")
		if code != ExitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%s on stdin: exit %d, stderr %q", name, code, stderr)
		}
	}
}

// TestCheck_sensitiveValuesAreJudgedNotShown: a ttl marked sensitive is judged (400 days is
// over the cap: it passed before issue 15), a sensitive expires_at on a gitlab token is read
// (it gave a false "never expires"), and neither value appears in any format.
func TestCheck_sensitiveValuesAreJudgedNotShown(t *testing.T) {
	dir := t.TempDir()
	tg := strictPlan("tokenguard_api_token", `{"actions":["create"],"before":null,`+
		`"after":{"name":"a","purpose":"Reads invoice totals for the monthly revenue report","owner":"team-finance","scopes":["invoices:read"],"data_categories":[],"audiences":["reporting"],"ttl":"400d","rotation":{"interval":"7d","overlap":"1h"}},`+
		`"after_unknown":{"secret":true,"expires_at":true},"after_sensitive":{"ttl":true,"secret":true}}`)
	gl := strictPlan("gitlab_project_access_token", `{"actions":["create"],"before":null,`+
		`"after":{"name":"ci","project":"acme/app","scopes":["read_api"],"expires_at":"2026-12-15","rotation_configuration":null},`+
		`"after_unknown":{"token":true},"after_sensitive":{"expires_at":true,"token":true}}`)
	for _, c := range []struct{ name, plan, want string }{
		{"tokenguard sensitive ttl", tg, "tokenguard_api_token.x: CPRA-RET-002"},
		{"gitlab sensitive expires_at", gl, ""},
	} {
		p := writeFile(t, dir, strings.ReplaceAll(c.name, " ", "_")+".json", []byte(c.plan))
		_, stdout, stderr := runCLI(t, "", "check", "--format", "json", p)
		if got := rulesByAddress(decodeReport(t, stdout)); got != c.want {
			t.Errorf("%s: findings %q, want %q (stderr %q)", c.name, got, c.want, stderr)
		}
		for _, format := range []string{"text", "json", "sarif", "junit", "github", "markdown"} {
			_, out, _ := runCLI(t, "", "check", "--format", format, p)
			for _, secret := range []string{"400d", "400 days", "2026-12-15"} {
				if strings.Contains(out, secret) {
					t.Errorf("%s, %s: the sensitive value %q is printed:\n%s", c.name, format, secret, out)
				}
			}
		}
	}
	p := writeFile(t, dir, "tg.json", []byte(tg))
	_, stdout, _ := runCLI(t, "", "check", "--format", "json", p)
	var rep struct {
		Findings []struct{ Message string } `json:"findings"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || len(rep.Findings) != 1 ||
		!strings.Contains(rep.Findings[0].Message, "details withheld: ttl is marked sensitive in the plan") {
		t.Errorf("message = %+v (%v), want it to say which attribute was withheld", rep.Findings, err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestCheck_severalPlans (issue 15 point 6): several plans are checked in one run and
// reported together: the findings of each, the resources of all; one bad plan is exit 2.
func TestCheck_severalPlans(t *testing.T) {
	one, two := filepath.Join(checkData, "plan.json"), filepath.Join(checkData, "external.json")
	_, a, _ := runCLI(t, "", "check", now, "--format", "json", one)
	_, b, _ := runCLI(t, "", "check", now, "--format", "json", two)
	code, both, stderr := runCLI(t, "", "check", now, "--format", "json", one, two)
	ra, rb, rboth := decodeReport(t, a), decodeReport(t, b), decodeReport(t, both)
	if code != ExitFindings || stderr != "" || len(rboth.Findings) != len(ra.Findings)+len(rb.Findings) ||
		rboth.Summary["resources_checked"] != ra.Summary["resources_checked"]+rb.Summary["resources_checked"] {
		t.Errorf("exit %d, stderr %q: %d findings (%d+%d), %d resources (%d+%d)", code, stderr, len(rboth.Findings), len(ra.Findings), len(rb.Findings),
			rboth.Summary["resources_checked"], ra.Summary["resources_checked"], rb.Summary["resources_checked"])
	}
	bad := writeFile(t, t.TempDir(), "bad.json", []byte(`{"format_version":"1.2"`))
	if code, _, stderr := runCLI(t, "", "check", one, bad); code != ExitUsage || !strings.Contains(stderr, bad+": input is truncated") {
		t.Errorf("bad second plan: exit %d, %q", code, stderr)
	}
}
