package token

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseSecret checks that ParseSecret never panics, that whatever it accepts is exactly
// the shape NewSecret mints (so it re-parses to the same value and carries a valid checksum),
// and that a secret minted from fuzzed environment and id parts round-trips whenever
// NewSecret accepts them. Seeds: testdata/fuzz/FuzzParseSecret.
func FuzzParseSecret(f *testing.F) {
	f.Add("tg_live_AbCdEfGh01234567_0123456789ABCDEFGHIJKLabcdef", "live", "AbCdEfGh01234567")
	f.Fuzz(func(t *testing.T, s, env, idPart string) {
		sec, err := ParseSecret(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseSecret(%q) error %v is not ErrMalformed", s, err)
			}
		} else {
			if sec.Value != s || !strings.HasPrefix(s, Prefix+sec.Env+"_"+sec.IDPart+"_") {
				t.Fatalf("ParseSecret(%q) = %+v: parts do not make up the input", s, sec)
			}
			if !validEnv(sec.Env) || len(sec.IDPart) != IDPartLength || !isBase62(sec.IDPart) {
				t.Fatalf("ParseSecret(%q) accepted bad parts %+v", s, sec)
			}
			if len(s) != len(Prefix)+len(sec.Env)+1+IDPartLength+1+RandomLength+checksumLength {
				t.Fatalf("ParseSecret(%q) accepted length %d", s, len(s))
			}
			if checksum(s[:len(s)-checksumLength]) != s[len(s)-checksumLength:] {
				t.Fatalf("ParseSecret(%q) accepted a bad checksum", s)
			}
		}
		minted, err := NewSecret(env, IDPrefix+idPart)
		if err != nil {
			return
		}
		back, err := ParseSecret(minted)
		if err != nil || back.Env != env || back.TokenID() != IDPrefix+idPart || back.Value != minted {
			t.Fatalf("NewSecret(%q, %q) = %q does not round-trip: %+v, %v", env, idPart, minted, back, err)
		}
	})
}

// FuzzParseDuration checks that ParseDuration never panics, accepts only positive durations,
// and that FormatDuration of anything it accepts parses back to the same duration.
// Seeds: testdata/fuzz/FuzzParseDuration.
func FuzzParseDuration(f *testing.F) {
	f.Add("30d")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			if d != 0 {
				t.Fatalf("ParseDuration(%q) = %v with error %v, want 0", s, d, err)
			}
			if len(err.Error()) > len(s)*6+200 {
				t.Fatalf("ParseDuration(%q) error is %d bytes long", s, len(err.Error()))
			}
			return
		}
		if d <= 0 {
			t.Fatalf("ParseDuration(%q) = %v, want positive", s, d)
		}
		back, err := ParseDuration(FormatDuration(d))
		if err != nil || back != d {
			t.Fatalf("ParseDuration(FormatDuration(%v) = %q) = %v, %v", d, FormatDuration(d), back, err)
		}
	})
}
