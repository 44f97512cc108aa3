package provider

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// TestOrphanOf: only a token that matches the create request exactly, holds its first secret,
// was never used and is younger than orphanMaxAge is taken for an orphan; each single
// difference keeps it out.
func TestOrphanOf(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 5, 0, 0, time.UTC)
	created := now.Add(-5 * time.Minute)
	req := wire.CreateTokenRequest{
		Name: "billing-export", Owner: "team@example.com", Purpose: "Nightly export of invoice totals",
		Scopes: []string{"b:read", "a:read"}, DataCategories: []string{"commercial"}, DataSubjects: []string{"customer:1"},
		Audiences: []string{"warehouse"}, Labels: map[string]string{"env": "prod"}, TTL: "30d",
		Rotation: &wire.Rotation{Interval: "7d", Overlap: "1h"},
	}
	orphan := func() wire.Token {
		return wire.Token{
			ID: "tok_x", Name: req.Name, Owner: req.Owner, Purpose: req.Purpose, Scopes: []string{"a:read", "b:read"},
			DataCategories: []string{"commercial"}, DataSubjects: []string{"customer:1"}, Audiences: []string{"warehouse"},
			Labels: map[string]string{"env": "prod"}, Rotation: &wire.Rotation{Interval: "168h", Overlap: "60m"},
			Status: "active", CreatedAt: created, ExpiresAt: created.Add(30 * 24 * time.Hour), SecretVersion: 1,
		}
	}
	if _, ok := orphanOf(orphan(), req, now); !ok {
		t.Fatal("an exact orphan was not recognised")
	}
	used, rotated := now.Add(-time.Minute), now.Add(-time.Minute)
	cases := map[string]func(*wire.Token){
		"other name":     func(t *wire.Token) { t.Name = "billing-export-2" },
		"other owner":    func(t *wire.Token) { t.Owner = "Team@example.com" },
		"other purpose":  func(t *wire.Token) { t.Purpose += "." },
		"extra scope":    func(t *wire.Token) { t.Scopes = append(t.Scopes, "c:read") },
		"other category": func(t *wire.Token) { t.DataCategories = []string{"identifiers"} },
		"no subjects":    func(t *wire.Token) { t.DataSubjects = nil },
		"other audience": func(t *wire.Token) { t.Audiences = []string{"lake"} },
		"other label":    func(t *wire.Token) { t.Labels = map[string]string{"env": "dev"} },
		"other interval": func(t *wire.Token) { t.Rotation = &wire.Rotation{Interval: "6d", Overlap: "1h"} },
		"no overlap":     func(t *wire.Token) { t.Rotation = &wire.Rotation{Interval: "7d"} },
		"no rotation":    func(t *wire.Token) { t.Rotation = nil },
		"other ttl":      func(t *wire.Token) { t.ExpiresAt = t.ExpiresAt.Add(time.Second) },
		"second secret":  func(t *wire.Token) { t.SecretVersion = 2 },
		"rotated":        func(t *wire.Token) { t.RotatedAt = &rotated },
		"used":           func(t *wire.Token) { t.LastUsedAt = &used },
		"revoked":        func(t *wire.Token) { t.Status = "revoked" },
		"older than limit": func(t *wire.Token) {
			t.CreatedAt = now.Add(-orphanMaxAge - time.Second)
			t.ExpiresAt = t.CreatedAt.Add(30 * 24 * time.Hour)
		},
		"created in future": func(t *wire.Token) {
			t.CreatedAt = now.Add(time.Minute)
			t.ExpiresAt = t.CreatedAt.Add(30 * 24 * time.Hour)
		},
	}
	for name, change := range cases {
		tok := orphan()
		change(&tok)
		if _, ok := orphanOf(tok, req, now); ok {
			t.Errorf("%s: taken for an orphan", name)
		}
	}
	t.Logf("orphan look-alike cases refused: %d", len(cases))
}

// TestDurationSemanticEquality: spellings of one span are equal, other spans and unparsable
// text are not.
func TestDurationSemanticEquality(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"30d", "720h", true}, {"720h", "720h0m0s", true}, {"20d", "480h", true}, {"1h", "60m", true}, {"90s", "1m30s", true},
		{"30d", "29d", false}, {"1h", "1h0m1s", false}, {"30d", "thirty days", false}, {"x", "x", true},
	} {
		got, d := durationOf(c.a).StringSemanticEquals(ctx, durationOf(c.b))
		if d.HasError() || got != c.want {
			t.Errorf("%q = %q: %v (%v), want %v", c.a, c.b, got, d, c.want)
		}
	}
	if _, d := durationOf("1h").StringSemanticEquals(ctx, basetypes.NewStringValue("1h")); !d.HasError() {
		t.Error("comparing with a plain string value reported no error")
	}
}

// TestTextProblem: what the service would trim or refuse is named; look-alike characters it
// keeps as they are (they are no normalisation) pass.
func TestTextProblem(t *testing.T) {
	refused := []string{"billing ", " billing", "billing\u00a0", "\u2003billing", "billing\u3000", "bill\ning", "bill\u0000ing",
		"bill\u202eing", "bill\u2066ing", "bill\ufffding", "billing\t"}
	for _, s := range refused {
		if textProblem(s, false, false) == "" {
			t.Errorf("%q passed", s)
		}
	}
	kept := []string{"billing", "bill ing", "bil\u200bling", "bіlling" /* Cyrillic i */, "ﬁnance", "  "}
	for _, s := range kept {
		if p := textProblem(s, false, false); p != "" {
			t.Errorf("%q refused: %s", s, p)
		}
	}
	if textProblem("a read", true, false) == "" || textProblem(" x", false, true) != "" {
		t.Error("noSpace or keepSpace not honoured")
	}
	t.Logf("text cases: %d refused, %d kept", len(refused), len(kept))
}
