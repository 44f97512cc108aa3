package evidence

import (
	"bytes"
	"cmp"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// TestStream_writesWhatRenderWrites: tokens added in the order Build sorts them give, byte
// for byte, the JSON and HTML Render writes (the golden files), and the spool files are gone
// after Close.
func TestStream_writesWhatRenderWrites(t *testing.T) {
	f := onTimeAndLate()
	now := day(13)
	rep := f.build(t, now, time.Time{})
	dir := t.TempDir()
	s, err := NewStream(dir, rep.AuditChain, now)
	if err != nil {
		t.Fatal(err)
	}
	rotations := map[string][]RotationRecord{}
	for _, r := range f.records {
		if rot, ok := RotationOf(r); ok {
			rotations[r.TokenID] = append(rotations[r.TokenID], rot)
		}
	}
	tokens := slices.Clone(f.tokens)
	slices.SortFunc(tokens, func(a, b wire.Token) int { return cmp.Compare(a.Name, b.Name) })
	for _, tk := range tokens {
		if err := s.Add(tk, rotations[tk.ID]); err != nil {
			t.Fatal(err)
		}
	}
	var js, html bytes.Buffer
	sum, err := s.Finish(&js, &html)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if sum != rep.Summary {
		t.Errorf("summary = %+v, want %+v", sum, rep.Summary)
	}
	if want := render(t, rep, FormatJSON); !bytes.Equal(js.Bytes(), want) {
		t.Errorf("streamed JSON differs from Render's:\n%s\nwant:\n%s", js.Bytes(), want)
	}
	if want := render(t, rep, FormatHTML); !bytes.Equal(html.Bytes(), want) {
		t.Errorf("streamed HTML differs from Render's:\n%s", html.Bytes())
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("Close left %d spool files", len(left))
	}
}

// TestStream_withoutTokens writes the report of an empty service as Render does.
func TestStream_withoutTokens(t *testing.T) {
	now := day(1)
	s, err := NewStream(t.TempDir(), Chain{Verified: true, Records: 1}, now)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	var js, html bytes.Buffer
	if _, err := s.Finish(&js, &html); err != nil {
		t.Fatal(err)
	}
	rep := Report{GeneratedAt: now, AuditChain: Chain{Verified: true, Records: 1}, Tokens: []TokenReport{}}
	if want := render(t, rep, FormatJSON); !bytes.Equal(js.Bytes(), want) {
		t.Errorf("streamed JSON = %s, want %s", js.Bytes(), want)
	}
	if want := render(t, rep, FormatHTML); !bytes.Equal(html.Bytes(), want) {
		t.Errorf("streamed HTML differs from Render's:\n%s", html.Bytes())
	}
}
