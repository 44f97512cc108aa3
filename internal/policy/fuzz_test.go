package policy

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fuzzNow is the fixed clock of the fuzz targets, so a run is reproducible.
var fuzzNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// FuzzReadPlan feeds arbitrary bytes to ReadPlan and Normalize: they must never panic, every
// error must wrap ErrInvalidPlan (the input's fault, exit code 2 in the CLI) with a one-line
// message, and an accepted plan must normalise without panicking. The seeds are the plans of
// testdata/plans, committed corpus files under testdata/fuzz/FuzzReadPlan, and a few
// hand-made edge cases.
func FuzzReadPlan(f *testing.F) {
	plans, err := filepath.Glob(filepath.Join("testdata", "plans", "*.json"))
	if err != nil || len(plans) == 0 {
		f.Fatalf("no seed plans in testdata/plans (%v)", err)
	}
	for _, p := range plans {
		src, err := os.ReadFile(p) //nolint:gosec // test fixtures
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	for _, s := range []string{
		``, `{}`, `[]`, `null`, `{"format_version":"1.2"}`,
		`{"format_version":"1.2","resource_changes":[]}`,
		`{"format_version":"1.2","resource_changes":[{"type":"tokenguard_api_token","change":[]}]}`,
		`{"format_version":"1.2","resource_changes":[{"type":"tokenguard_api_token","mode":"managed","change":{"actions":["create"],"after":{"ttl":1e400,"rotation":[{"interval":"-5h"}]},"after_unknown":{"secret":true},"after_sensitive":{"secret":true}}}]}`,
		`{"format_version":"1.2","values":{}}`,
		`{"format_version":"9.0","planned_values":{}}`,
		`{"format_version":"1.2","planned_values":{},"timestamp":"yesterday"}`,
		`{"format_version":"1.2","planned_values":{},"configuration":{"provider_config":{"tokenguard":{"expressions":{"endpoint":{"constant_value":7}}}}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := ReadPlan(bytes.NewReader(src))
		if err != nil {
			if !errors.Is(err, ErrInvalidPlan) {
				t.Fatalf("error does not wrap ErrInvalidPlan: %v", err)
			}
			if bytes.ContainsAny([]byte(err.Error()), "\n\r") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		toks := Normalize(p, fuzzNow)
		if len(toks) > len(p.Changes) {
			t.Fatalf("Normalize made %d tokens out of %d changes", len(toks), len(p.Changes))
		}
		for _, tok := range toks {
			if _, err := tok.MarshalJSON(); err != nil {
				t.Fatalf("normalised token does not marshal: %v", err)
			}
		}
	})
}

// FuzzParseWaivers feeds arbitrary documents to ParseWaivers: it must never panic, and every
// waiver it accepts has every field set, an expiry at midnight UTC, and its position as Index.
func FuzzParseWaivers(f *testing.F) {
	for _, s := range []string{
		"waivers:\n  - rule: CPRA-RET-002\n    address: module.legacy.tokenguard_api_token.*\n    reason: Vendor integration cannot rotate before the Q1 migration\n    approved_by: privacy-office@example.com\n    expires: 2026-12-31\n",
		"waivers: []\n",
		"",
		"waivers:\n  - rule: CPRA-*\n    address: '*'\n    reason: r\n    approved_by: a\n    expires: 2026-02-30\n",
		"waivers:\n  - rule: x\n    colour: blue\n",
		"{\"waivers\":[{\"rule\":\"a\",\"address\":\"b\",\"reason\":\"c\",\"approved_by\":\"d\",\"expires\":\"2027-01-01\"}]}",
		"waivers: &a [*a]\n",
		"waivers:\n  - !!binary aGVsbG8=\n",
		"- a\n- b\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		ws, err := ParseWaivers(src)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		for i, w := range ws {
			if w.Rule == "" || w.Address == "" || w.Reason == "" || w.ApprovedBy == "" || w.Expires.IsZero() {
				t.Fatalf("waiver %d accepted with a missing field: %+v", i, w)
			}
			if w.Index != i {
				t.Fatalf("waiver %d has Index %d", i, w.Index)
			}
			if w.Expires.Location() != time.UTC || !w.Expires.Equal(w.Expires.Truncate(24*time.Hour)) {
				t.Fatalf("waiver %d expiry %v is not a UTC date", i, w.Expires)
			}
			_ = w.Expired(fuzzNow)
			_ = w.Matches(Finding{RuleID: w.Rule, Address: w.Address})
		}
	})
}
