package sqlite

import (
	"encoding/json"
	"reflect"
	"testing"
)

// plainStringArrayCases are JSON texts of string slices: the plain form, and forms the fast
// path must leave to encoding/json.
var plainStringArrayCases = []string{
	`null`, `[]`, `["a"]`, `["invoices:read","customers:read"]`, `["",""]`, `["ünïcode ✓"]`,
	`["a\"b"]`, `["\u003c"]`, `[ "a"]`, `["a", "b"]`, `["a",]`, `[,"a"]`, `["a"`, `"a"]`, `[a]`,
	`["a""b"]`, "[\"a\x01\"]", "[\"\xff\"]", `[1]`, `["a",1]`, `{}`, ``, `[`, `]`, `[""`, `["]`,
}

func TestPlainStringArray_decodesAsEncodingJSONDoes(t *testing.T) {
	for _, s := range plainStringArrayCases {
		checkPlainStringArray(t, s)
	}
	for _, v := range [][]string{nil, {}, {"a"}, {"scope:read", "scope:write"}, {`quote"d`, "<html>&", "tab\t", "\u2028"}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		checkPlainStringArray(t, string(b))
		var d decoder
		if got := d.strings("f", string(b)); d.err != nil || !reflect.DeepEqual(got, v) {
			t.Errorf("decoder.strings(%s) = %#v, %v; want %#v", b, got, d.err, v)
		}
	}
}

func FuzzPlainStringArray(f *testing.F) {
	for _, s := range plainStringArrayCases {
		f.Add(s)
	}
	f.Fuzz(checkPlainStringArray)
}

// checkPlainStringArray fails when plainStringArray decodes s to something other than what
// json.Unmarshal gives.
func checkPlainStringArray(t *testing.T, s string) {
	got, ok := plainStringArray(s)
	if !ok {
		return // left to encoding/json
	}
	var want []string
	if err := json.Unmarshal([]byte(s), &want); err != nil {
		t.Fatalf("plainStringArray(%q) decoded %#v, but encoding/json refuses it: %v", s, got, err)
	}
	if !reflect.DeepEqual(got, want) || (got == nil) != (want == nil) {
		t.Fatalf("plainStringArray(%q) = %#v, encoding/json gives %#v", s, got, want)
	}
}
