package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// TestReadPlan_memberOrderDoesNotMatter reads the same resource changes written with type
// before change (as Terraform writes them, which lets the reader skip other resources'
// change objects unread) and with change first (as encoding/json writes maps).
func TestReadPlan_memberOrderDoesNotMatter(t *testing.T) {
	const changeObj = `{"actions":["create"],"before":null,"after":{"name":"a","scopes":["x:read"],"rotation":{"interval":"7d"}},"after_unknown":{"id":true},"before_sensitive":false,"after_sensitive":{"secret":true}}`
	element := func(typ, name, extra string, typeFirst bool) string {
		head := fmt.Sprintf(`"address":"%s.%s","mode":"managed","type":"%s","name":"%s"%s`, typ, name, typ, name, extra)
		if typeFirst {
			return `{` + head + `,"change":` + changeObj + `}`
		}
		return `{"change":` + changeObj + `,` + head + `}`
	}
	for _, typeFirst := range []bool{true, false} {
		elements := []string{
			element(TokenguardType, "a", "", typeFirst),
			element("null_resource", "n", "", typeFirst),
			element(TokenguardType, "old", `,"deposed":"00000001"`, typeFirst),
			element("gitlab_project_access_token", "g", "", typeFirst),
		}
		plan := `{"format_version":"1.2","resource_changes":[` + strings.Join(elements, ",") + `,null]}`
		p, err := ReadPlan(strings.NewReader(plan))
		if err != nil {
			t.Fatalf("type first %v: %v", typeFirst, err)
		}
		if p.ResourceChanges != 5 || len(p.Changes) != 2 {
			t.Fatalf("type first %v: %d resource changes, %d token-like; want 5 and 2", typeFirst, p.ResourceChanges, len(p.Changes))
		}
		for i, want := range []string{TokenguardType + ".a", "gitlab_project_access_token.g"} {
			c := p.Changes[i]
			after, _ := c.After.(map[string]any)
			if c.Address != want || after["name"] != "a" || !reflect.DeepEqual(c.Actions, []string{"create"}) ||
				!reflect.DeepEqual(c.AfterSensitive, map[string]any{"secret": true}) || c.raw != nil {
				t.Errorf("type first %v: change %d = %+v", typeFirst, i, c)
			}
		}
	}
}

// TestDecodeChange_decodesLikeEncodingJSON checks decodeChange against encoding/json with
// UseNumber, the decoder it replaced, on values of every JSON shape.
func TestDecodeChange_decodesLikeEncodingJSON(t *testing.T) {
	changes := []string{
		`{"actions":["update"],"before":{"ttl":"30d","n":1},"after":{"ttl":"90d","n":1e3,"f":-0.50,"big":12345678901234567890123}}`,
		`{"actions":["create"],"after":{"esc\"aped\\name\u00e9":"tab\there","uni":"\u2603 snow","surrogates":"\ud83d\ude00"}}`,
		`{"actions":["no-op"],"after":{"l":[[],[[]],{},[{"x":null}]],"t":true,"f":false,"z":null},"after_unknown":{"l":[false,true]}}`,
		`{"actions":["delete"],"before":{"n":[1,"two",{"three":3}]},"after":null,"unknown_member":{"skipped":[1,2,3]}}`,
		`{"actions":["create"],"after":{"k":"v"},"after_sensitive":true,"before_sensitive":{"k":true}}`,
		"{\"actions\":[\"create\"],\"after\":{\"in\xffvalid\":\"utf\xfe8\"}}",
		`null`,
	}
	for _, raw := range changes {
		rc := ResourceChange{Address: "x.y", raw: []byte(raw)}
		if err := rc.decodeChange(); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		var want rawChange
		d := json.NewDecoder(strings.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&want); err != nil {
			t.Fatalf("%s: encoding/json: %v", raw, err)
		}
		got := rawChange{Actions: rc.Actions, Before: rc.Before, After: rc.After, AfterUnknown: rc.AfterUnknown,
			BeforeSensitive: rc.BeforeSensitive, AfterSensitive: rc.AfterSensitive}
		if want.Actions != nil && len(want.Actions) == 0 {
			want.Actions = []string{} // encoding/json keeps an empty list non-nil too
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %#v\nwant %#v", raw, got, want)
		}
	}
}

// rawChange is the struct encoding/json decoded change objects into before jsontext.
type rawChange struct {
	Actions         []string `json:"actions"`
	Before          any      `json:"before"`
	After           any      `json:"after"`
	AfterUnknown    any      `json:"after_unknown"`
	BeforeSensitive any      `json:"before_sensitive"`
	AfterSensitive  any      `json:"after_sensitive"`
}

// TestDecodeChange_badShapesNameTheResource: a change Terraform never writes is an input
// error naming the resource, the byte (counted from 1 within the change object; the plan
// reader adds where the change starts) and what to do. Issue 15 made a change whose after is
// not an object, empty, missing or unknown actions and repeated members errors: before, they
// were skipped or decoded with the last value winning, and exited 0.
func TestDecodeChange_badShapesNameTheResource(t *testing.T) {
	const advice = "; Terraform never writes this: regenerate the plan with terraform show -json tfplan, or fix the tool that wrote it"
	for raw, want := range map[string]string{
		`"create"`:                             "plan resource change x.y: change is not an object: it is a string at byte 1" + advice,
		`{"actions":"create"}`:                 `plan resource change x.y: change actions is a string, expected a list of actions such as ["create"] at byte 12` + advice,
		`{"actions":["create",5]}`:             "plan resource change x.y: change actions holds a number, expected strings at byte 22" + advice,
		`{"actions":[]}`:                       "plan resource change x.y: change actions is empty, expected at least one action at byte 13" + advice,
		`{"actions":null}`:                     "plan resource change x.y: change actions is null, expected a list of actions such as [\"create\"] at byte 12" + advice,
		`{"actions":["create","explode"]}`:     `plan resource change x.y: change actions holds "explode", which is not a Terraform action (no-op, create, read, update, delete, forget) at byte 22` + advice,
		`{"after":{"ttl":"30d"}}`:              "plan resource change x.y: change has no actions at byte 1" + advice,
		`{"actions":["create"],"after":"x"}`:   "plan resource change x.y: change after is a string, expected an object (or null) at byte 31" + advice,
		`{"actions":["create"],"after":[1]}`:   "plan resource change x.y: change after is an array, expected an object (or null) at byte 31" + advice,
		`{"actions":["update"],"before":true}`: "plan resource change x.y: change before is a boolean, expected an object (or null) at byte 32" + advice,
		`{"actions":["create"],"after":{"a":}`: "plan resource change x.y: change is not valid JSON: missing value after object name",
	} {
		rc := ResourceChange{Address: "x.y", raw: []byte(raw)}
		err := rc.decodeChange()
		if !errors.Is(err, ErrInvalidPlan) || err.Error() != want {
			t.Errorf("%s: err = %v, want %q", raw, err, want)
		}
	}
}

func TestReadPlan_errorsNameTheProblemAndTheByte(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"format_version":"1.2" "x":1}`, `input is not valid JSON: invalid character '"' after object key:value pair at byte 25`},
		{`{"format_version":"1.2","planned_values":{"a":tru}}`, `input is not valid JSON: invalid character '}' in literal true (expecting 'e') at byte 50`},
		{"{\"format_version\":\"1.2\",\"planned_values\":{\"a\":\"x\x01\"}}", `input is not valid JSON: invalid character '\x01' in string literal at byte 49`},
		{`{"format_version":"1.2","planned_values":{"a":-}}`, `input is not valid JSON: invalid character '}' in numeric literal at byte 48`},
		{`{"format_version":"1.2","resource_changes":[{"type":"null_resource"},{"type":5}]}`, `plan resource_changes[1].type is a number, expected a string`},
		{`{"format_version":"1.2","resource_changes":[{},[]]}`, `plan resource_changes[1] is an array, expected an object`},
		{`{"format_version":1.2,"planned_values":{}}`, `plan format_version is a number, expected a string`},
		{`{"format_version":"1.2","planned_values":{},"configuration":[]}`, `plan configuration is an array, expected an object`},
		{`{"format_version":"1.2","planned_values":{},"configuration":{"root_module":"m"}}`, `plan configuration.root_module is a string, expected an object`},
		{`{"format_version":"1.2","planned_values":{},"configuration":{"provider_config":{"tokenguard":{"name":5}}}}`,
			`input is not a Terraform plan: configuration.provider_config.name is a JSON number where a string was expected`},
		{`{"format_version":"1.2","planned_values":{},"configuration":{"root_module":{"outputs":[]}}}`,
			`input is not a Terraform plan: configuration.root_module.outputs is a JSON array where an object was expected`},
		{`{"format_version":"1.2","planned_values":{}}` + "\n  {}", `input is not valid JSON: unexpected data after the plan object at byte 47`},
	}
	for _, tt := range tests {
		_, err := ReadPlan(strings.NewReader(tt.in))
		if !errors.Is(err, ErrInvalidPlan) || err.Error() != tt.want {
			t.Errorf("%s:\n got %v\nwant %s", tt.in, err, tt.want)
		}
	}
}

func TestReadPlan_readerErrorsAreReturnedAsTheReaderReturnedThem(t *testing.T) {
	errDisk := errors.New("disk on fire")
	r := io.MultiReader(strings.NewReader(`{"format_version":"1.2","planned_values":{"root_module":{`), iotest.ErrReader(errDisk))
	_, err := ReadPlan(r)
	if err != errDisk { //nolint:errorlint // the very error of the reader, not a wrapped one
		t.Errorf("err = %v, want the reader's error itself", err)
	}
}

func TestReadPlan_nullSectionsAreMissingSections(t *testing.T) {
	p, err := ReadPlan(bytes.NewReader([]byte(`{"format_version":"1.2","resource_changes":null,"configuration":null,"timestamp":null}`)))
	if err != nil {
		t.Fatal(err)
	}
	if p.ResourceChanges != 0 || p.Timestamp != nil || len(p.Outputs) != 0 || len(p.ProviderEndpoints) != 0 {
		t.Errorf("plan = %+v", p)
	}
}

// TestReadPlan_listAndChangeLimitsNameTheLimitAndTheByte proves the limits of one resource
// change: a list of MaxListValues values and a change of MaxChangeValues values are read; one
// more value in either is refused as an input error that names the resource, the limit and
// the byte where the list (or the value over the limit) starts, whichever of the change's
// values holds it.
func TestReadPlan_listAndChangeLimitsNameTheLimitAndTheByte(t *testing.T) {
	list := func(n int) string {
		var b strings.Builder
		b.WriteByte('[')
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`"s"`)
		}
		b.WriteByte(']')
		return b.String()
	}
	plan := func(change string) string {
		return `{"format_version":"1.2","resource_changes":[{"address":"tokenguard_api_token.big","mode":"managed","type":"tokenguard_api_token","name":"big","change":` + change + `}]}`
	}
	// Values of a change: the after object, and each list and its elements (member names are
	// not values).
	perList := func(lists int) int { return (MaxChangeValues - 1 - lists) / lists }
	fits := (MaxChangeValues - 2) / (MaxListValues + 1)  // full lists that fit in one change with another
	rest := MaxChangeValues - 2 - fits*(MaxListValues+1) // the elements of a last list that reach the limit
	var under []string
	for i := range fits {
		under = append(under, fmt.Sprintf(`"l%d":%s`, i, list(MaxListValues)))
	}
	cases := []struct {
		name, change string
		want         string // "" reads
	}{
		{"list at the limit", `{"actions":["create"],"after":{"scopes":` + list(MaxListValues) + `}}`, ""},
		{"list over the limit", `{"actions":["create"],"after":{"scopes":` + list(MaxListValues+1) + `}}`,
			fmt.Sprintf("a list holds more than %d values", MaxListValues)},
		{"list over the limit in after_unknown", `{"actions":["create"],"after":{},"after_unknown":{"scopes":` + list(MaxListValues+1) + `}}`,
			fmt.Sprintf("a list holds more than %d values", MaxListValues)},
		{"change at the limit", `{"actions":["create"],"after":{` + strings.Join(under, ",") + `,"rest":` +
			list(rest) + `}}`, ""},
		{"change over the limit", `{"actions":["create"],"after":{` + strings.Join(under, ",") + `,"rest":` +
			list(rest+1) + `}}`,
			fmt.Sprintf("the change holds more than %d values", MaxChangeValues)},
		{"change over the limit in small lists", `{"actions":["create"],"after":{"a":` + list(perList(20)) + `},"before_sensitive":` +
			list(MaxListValues) + `,"after_sensitive":` + strings.Repeat(`[`+list(MaxListValues)+`,`, 9) + `[]` + strings.Repeat(`]`, 9) + `}`,
			fmt.Sprintf("the change holds more than %d values", MaxChangeValues)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := plan(tc.change)
			_, err := ReadPlan(strings.NewReader(in))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("a change within the limits is refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidPlan) || !strings.Contains(err.Error(), tc.want) ||
				!strings.Contains(err.Error(), "tokenguard_api_token.big") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error = %v; want an input error naming the resource and %q on one line", err, tc.want)
			}
			var at int
			if _, scanErr := fmt.Sscanf(err.Error()[strings.LastIndex(err.Error(), "at byte ")+len("at byte "):], "%d", &at); scanErr != nil || at < 1 || at > len(in) {
				t.Fatalf("error %q names no byte of the plan", err)
			}
			if c := in[at-1]; c != '[' && c != '"' {
				t.Fatalf("error names byte %d (%q), not the start of a value", at, c)
			}
		})
	}
}

// TestReadPlan_limitsHoldForEveryTokenTypeAndOnlyForTokens attacks the limits from the
// sides: another provider's token over the list limit is refused like a tokenguard token; a
// huge list in a resource the checker does not decode (an ordinary resource, a deposed
// token) is skipped without building values, so it neither trips the limit nor costs memory.
func TestReadPlan_limitsHoldForEveryTokenTypeAndOnlyForTokens(t *testing.T) {
	huge := `[` + strings.TrimSuffix(strings.Repeat(`"s",`, MaxListValues+1), ",") + `]`
	resource := func(typ, extra string) string {
		return `{"format_version":"1.2","resource_changes":[{"address":"` + typ + `.x","mode":"managed","type":"` + typ + `","name":"x"` + extra +
			`,"change":{"actions":["create"],"after":{"scopes":` + huge + `}}}]}`
	}
	for _, tc := range []struct {
		name, plan string
		refused    bool
	}{
		{"gitlab personal access token", resource("gitlab_personal_access_token", ""), true},
		{"cloudflare api token", resource("cloudflare_api_token", ""), true},
		{"ordinary resource", resource("aws_instance", ""), false},
		{"deposed tokenguard token", resource(TokenguardType, `,"deposed":"00000001"`), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadPlan(strings.NewReader(tc.plan))
			if refused := err != nil; refused != tc.refused {
				t.Fatalf("refused = %v (%v), want %v", refused, err, tc.refused)
			}
			if tc.refused && (!errors.Is(err, ErrInvalidPlan) || !strings.Contains(err.Error(), "a list holds more than 10000 values")) {
				t.Fatalf("error = %v, want the list limit named", err)
			}
		})
	}
}
