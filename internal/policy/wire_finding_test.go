package policy

import (
	"encoding/json"
	"reflect"
	"testing"
)

// Wire carries every field of a finding into the one wire shape, and a finding without a
// configuration location answers file and line as null, as the json report and the service
// gate always have.
func TestFinding_WireCarriesEveryFieldAndNullLocation(t *testing.T) {
	f := Finding{RuleID: "CPRA-RET-002", Severity: SeverityError, Title: "t", Address: "a.b", Message: "m",
		Citation: "c", Basis: "b", Remediation: "r", Field: "ttl", File: "main.tf", Line: 7,
		Waived: true, WaiverReason: "why", WaiverApprovedBy: "who"}
	got := f.Wire(true)
	if got.File == nil || *got.File != "main.tf" || got.Line == nil || *got.Line != 7 {
		t.Fatalf("Wire() location = %v:%v, want main.tf:7", got.File, got.Line)
	}
	if !got.Blocking {
		t.Error("Wire(true).Blocking = false")
	}
	// Every other field carries over under the same name: a field added to one shape and not
	// the other shows up here.
	gv, fv := reflect.ValueOf(got), reflect.ValueOf(f)
	for i := range fv.NumField() {
		name := fv.Type().Field(i).Name
		if name == "File" || name == "Line" {
			continue
		}
		w := gv.FieldByName(name)
		if !w.IsValid() {
			t.Errorf("wire.Finding has no field %s", name)
			continue
		}
		if !reflect.DeepEqual(w.Interface(), fv.Field(i).Interface()) {
			t.Errorf("Wire().%s = %v, want %v", name, w.Interface(), fv.Field(i).Interface())
		}
	}

	f.File, f.Line = "", 0
	raw, err := json.Marshal(f.Wire(false))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"file", "line"} {
		if v, ok := m[k]; !ok || v != nil {
			t.Errorf("%s = %v (present %v), want null", k, v, ok)
		}
	}
	if m["blocking"] != false {
		t.Errorf("blocking = %v, want false", m["blocking"])
	}
}
