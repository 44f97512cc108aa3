package wire

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
)

func TestAuditRecord_RecordCarriesEveryField(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC)
	r := AuditRecord{
		Seq: 7, PrevHash: "prev", Hash: "hash", Time: at, Actor: "cred_1", Action: audit.ActionRotate,
		TokenID: "tok_1", Fingerprint: "fp_1", Outcome: "ok", Details: map[string]string{"reason": "interval"}, KeyID: "k1",
	}
	want := audit.Record{Seq: 7, PrevHash: "prev", Hash: "hash", KeyID: "k1", Event: audit.Event{
		Time: at, Actor: "cred_1", Action: audit.ActionRotate, TokenID: "tok_1", Fingerprint: "fp_1",
		Outcome: "ok", Details: map[string]string{"reason": "interval"},
	}}
	got := r.Record()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Record() = %+v, want %+v", got, want)
	}
	// A field added to audit.Record or audit.Event but not carried here would stay zero.
	var zero []string
	walkFields(reflect.ValueOf(got), "", func(name string, v reflect.Value) {
		if v.IsZero() {
			zero = append(zero, name)
		}
	})
	if len(zero) > 0 {
		t.Errorf("Record() leaves %s zero: carry every audit field through AuditRecord", strings.Join(zero, ", "))
	}
}

// walkFields calls fn on every leaf field of the struct v, descending into embedded structs.
func walkFields(v reflect.Value, prefix string, fn func(name string, v reflect.Value)) {
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			walkFields(v.Field(i), prefix+f.Name+".", fn)
			continue
		}
		fn(prefix+f.Name, v.Field(i))
	}
}

// A chain as the service sends it (JSON of audit records) verifies after the conversion, and
// a changed field breaks it: the conversion drops nothing the hash covers.
func TestAuditRecord_chainReadThroughTheAPIVerifies(t *testing.T) {
	var recs []audit.Record
	var prev *audit.Record
	for i, e := range []audit.Event{
		{Time: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), Actor: "cred_a", Action: audit.ActionCreate, TokenID: "tok_1", Fingerprint: "fp1", Outcome: "ok", Details: map[string]string{"name": "n"}},
		{Time: time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC), Actor: "cred_a", Action: audit.ActionRotate, TokenID: "tok_1", Fingerprint: "fp2", Outcome: "ok"},
		{Time: time.Date(2030, 1, 3, 0, 0, 0, 0, time.UTC), Actor: "cred_b", Action: audit.ActionRevoke, TokenID: "tok_1", Outcome: "ok"},
	} {
		r := audit.Chain(prev, int64(i+1), e)
		recs = append(recs, r)
		prev = &r
	}
	body, err := json.Marshal(recs)
	if err != nil {
		t.Fatal(err)
	}
	verify := func(body []byte) error {
		var page []AuditRecord
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		var v audit.Verifier
		for _, r := range page {
			if err := v.Add(r.Record()); err != nil {
				return err
			}
		}
		if v.Count() != int64(len(recs)) {
			t.Errorf("verified %d records, want %d", v.Count(), len(recs))
		}
		return nil
	}
	if err := verify(body); err != nil {
		t.Fatalf("the chain read through the API does not verify: %v", err)
	}
	tampered := []byte(strings.Replace(string(body), `"actor":"cred_b"`, `"actor":"cred_c"`, 1))
	if string(tampered) == string(body) {
		t.Fatal("test set-up: nothing to tamper with")
	}
	if err := verify(tampered); !errors.Is(err, audit.ErrBroken) {
		t.Errorf("a tampered chain gave %v, want audit.ErrBroken", err)
	}
}
