package audit

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// chain builds a valid chain of n records.
func chain(n int) []Record {
	var recs []Record
	var prev *Record
	for i := range n {
		r := Chain(prev, int64(i+1), Event{
			Time:        time.Date(2026, 11, 27, 10, 0, i, 0, time.UTC),
			Actor:       "cred_admin",
			Action:      ActionCreate,
			TokenID:     fmt.Sprintf("tok_%d", i+1),
			Fingerprint: fmt.Sprintf("fp_%d", i+1),
			Outcome:     "ok",
			Details:     map[string]string{"n": fmt.Sprint(i + 1)},
		})
		recs = append(recs, r)
		prev = &recs[len(recs)-1]
	}
	return recs
}

// verify feeds recs to a new Verifier and returns the first error.
func verify(recs []Record) (int64, error) {
	var v Verifier
	for _, r := range recs {
		if err := v.Add(r); err != nil {
			return v.Count(), err
		}
	}
	return v.Count(), nil
}

func TestChain_linksRecordsFromTheGenesisHash(t *testing.T) {
	recs := chain(3)
	if recs[0].PrevHash != GenesisHash {
		t.Errorf("first PrevHash = %s, want GenesisHash", recs[0].PrevHash)
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].PrevHash != recs[i-1].Hash {
			t.Errorf("record %d PrevHash = %s, want the hash of record %d", recs[i].Seq, recs[i].PrevHash, recs[i-1].Seq)
		}
	}
	for _, r := range recs {
		if len(r.Hash) != 64 || strings.Trim(r.Hash, "0123456789abcdef") != "" {
			t.Errorf("record %d hash %q is not 64 lowercase hex digits", r.Seq, r.Hash)
		}
	}
}

func TestChain_storesTimeInUTCToTheMicrosecond(t *testing.T) {
	when := time.Date(2026, 11, 27, 15, 30, 0, 123456789, time.FixedZone("UTC+05:30", 5*3600+1800))
	r := Chain(nil, 1, Event{Time: when, Actor: "a", Action: ActionIntrospect, Outcome: "ok"})
	want := time.Date(2026, 11, 27, 10, 0, 0, 123456000, time.UTC)
	if r.Time != want {
		t.Errorf("Time = %v, want %v", r.Time, want)
	}
}

func TestChain_isDeterministicAndCoversEveryField(t *testing.T) {
	base := Event{Time: time.Unix(100, 0), Actor: "a", Action: ActionRotate, TokenID: "tok_1",
		Fingerprint: "fp", Outcome: "ok", Details: map[string]string{"b": "2", "a": "1"}}
	h := Chain(nil, 1, base).Hash
	same := base
	same.Details = map[string]string{"a": "1", "b": "2"}
	if got := Chain(nil, 1, same).Hash; got != h {
		t.Errorf("the same event hashed to %s and %s", h, got)
	}
	changes := map[string]func(*Event){
		"Time":        func(e *Event) { e.Time = e.Time.Add(time.Microsecond) },
		"Actor":       func(e *Event) { e.Actor = "b" },
		"Action":      func(e *Event) { e.Action = ActionRevoke },
		"TokenID":     func(e *Event) { e.TokenID = "tok_2" },
		"Fingerprint": func(e *Event) { e.Fingerprint = "fp2" },
		"Outcome":     func(e *Event) { e.Outcome = "denied" },
		"Details":     func(e *Event) { e.Details = map[string]string{"a": "1", "b": "3"} },
	}
	for field, change := range changes {
		e := base
		change(&e)
		if Chain(nil, 1, e).Hash == h {
			t.Errorf("changing %s does not change the hash", field)
		}
	}
	if Chain(nil, 2, base).Hash == h {
		t.Error("changing the sequence number does not change the hash")
	}
}

func TestVerifier_acceptsAValidChain(t *testing.T) {
	recs := chain(5)
	n, err := verify(recs)
	if err != nil {
		t.Fatalf("valid chain: %v", err)
	}
	if n != 5 {
		t.Errorf("Count() = %d, want 5", n)
	}
}

func TestVerifier_rejectsTamperingNamingTheRecord(t *testing.T) {
	cases := []struct {
		name    string
		tamper  func([]Record) []Record
		wantSeq int64
		wantMsg string
	}{
		{"altered content", func(r []Record) []Record { r[2].Actor = "intruder"; return r }, 3, "altered"},
		{"altered details", func(r []Record) []Record { r[3].Details = map[string]string{"n": "x"}; return r }, 4, "altered"},
		{"altered hash", func(r []Record) []Record { r[4].Hash = strings.Repeat("f", 64); return r }, 5, "altered"},
		{"altered prev_hash", func(r []Record) []Record { r[2].PrevHash = r[0].Hash; return r }, 3, "prev_hash"},
		{"altered and rehashed content, caught at the next record", func(r []Record) []Record {
			r[1].Actor = "intruder"
			r[1].Hash = r[1].computeHash(nil)
			return r
		}, 3, "prev_hash"},
		{"missing record", func(r []Record) []Record { return append(r[:2], r[3:]...) }, 4, "missing or out of order"},
		{"missing first record", func(r []Record) []Record { return r[1:] }, 2, "missing or out of order"},
		{"swapped records", func(r []Record) []Record { r[2], r[3] = r[3], r[2]; return r }, 4, "missing or out of order"},
		{"first record not chained to genesis", func(r []Record) []Record {
			r[0] = Chain(&Record{Hash: strings.Repeat("1", 64)}, 1, r[0].Event)
			return r
		}, 1, "prev_hash"},
		{"renumbered record", func(r []Record) []Record { r[1].Seq = 7; return r }, 7, "expected sequence number 2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := verify(c.tamper(chain(5)))
			if !errors.Is(err, ErrBroken) {
				t.Fatalf("error = %v, want ErrBroken", err)
			}
			if want := fmt.Sprintf("at record %d:", c.wantSeq); !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name record %d", err, c.wantSeq)
			}
			if !strings.Contains(err.Error(), c.wantMsg) {
				t.Errorf("error %q does not say %q", err, c.wantMsg)
			}
		})
	}
}

func TestVerifier_countsOnlyRecordsBeforeTheBreak(t *testing.T) {
	recs := chain(5)
	recs[3].Outcome = "denied"
	n, err := verify(recs)
	if err == nil {
		t.Fatal("tampered chain verified")
	}
	if n != 3 {
		t.Errorf("Count() = %d, want 3", n)
	}
}
