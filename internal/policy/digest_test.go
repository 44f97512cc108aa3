package policy

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestBundle_digestNamesTheSourcesAndDataAndChangesWithThem(t *testing.T) {
	ctx := context.Background()
	base, err := NewEngine(ctx, Options{Gate: GateService})
	if err != nil {
		t.Fatal(err)
	}
	again, err := NewEngine(ctx, Options{Gate: GateService})
	if err != nil {
		t.Fatal(err)
	}
	b := base.Bundle()
	if len(b.Digest) != 64 || b.Digest != again.Bundle().Digest {
		t.Fatalf("digest %q, again %q: want the same 64 hex digits for the same bundle", b.Digest, again.Bundle().Digest)
	}
	if len(b.Files) < 10 || b.Files[0].Path > b.Files[1].Path {
		t.Errorf("files = %v, want every module and data file, sorted", b.Files)
	}
	if b.Thresholds["ttl_max_days"] == nil {
		t.Errorf("thresholds = %v, want the bundle's ttl_max_days", b.Thresholds)
	}
	dataFile := filepath.Join(t.TempDir(), "data.json")
	if err := os.WriteFile(dataFile, []byte(`{"tokenguard": {"thresholds": {"ttl_max_days": 60}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tighter, err := NewEngine(ctx, Options{Gate: GateService, DataFiles: []string{dataFile}})
	if err != nil {
		t.Fatal(err)
	}
	tb := tighter.Bundle()
	if tb.Digest == b.Digest {
		t.Error("a policy data file did not change the digest")
	}
	if got, ok := tb.Thresholds["ttl_max_days"].(float64); !ok || got != 60 {
		t.Errorf("thresholds with the data file: ttl_max_days = %v, want 60", tb.Thresholds["ttl_max_days"])
	}
	tb.Thresholds["ttl_max_days"] = 1
	if got, _ := tighter.Bundle().Thresholds["ttl_max_days"].(float64); got != 60 {
		t.Error("changing the returned thresholds changed the engine's")
	}
}
