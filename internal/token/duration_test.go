package token

import (
	"strings"
	"testing"
	"time"
)

func TestParseDuration_acceptsGoDurationsAndWholeDays(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
	}{
		{"30d", 30 * Day},
		{"1d", Day},
		{"+2d", 2 * Day},
		{" 7d ", 7 * Day},
		{"1h30m", 90 * time.Minute},
		{"90m", 90 * time.Minute},
		{"1.5h", 90 * time.Minute},
		{"1ns", time.Nanosecond},
		{"720h", 30 * Day},
		{"106751d", 106751 * Day}, // the most whole days a time.Duration holds
	}
	for _, c := range cases {
		got, err := ParseDuration(c.in)
		if err != nil {
			t.Errorf("ParseDuration(%q): %v", c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("ParseDuration(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestParseDuration_rejectsEmptyZeroNegativeFractionalDaysAndOverflow(t *testing.T) {
	cases := []struct{ in, wantInError string }{
		{"", "empty duration"},
		{"   ", "empty duration"},
		{"0", "must be positive"},
		{"0d", "must be positive"},
		{"0s", "must be positive"},
		{"-1h", "must be positive"},
		{"-3d", "must be positive"},
		{"1.5d", "whole number"},
		{"d", "whole number"},
		{"1d12h", "invalid duration"},
		{"30D", "invalid duration"},
		{"30 days", "invalid duration"},
		{"abc", "invalid duration"},
		{"106752d", "too long"},
		{"9223372036854775807d", "too long"},
		{"99999999999999999999d", "whole number"}, // does not fit in an int64
		{"2562048h", "invalid duration"},          // past the largest time.Duration
	}
	for _, c := range cases {
		got, err := ParseDuration(c.in)
		if err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", c.in, got)
			continue
		}
		if got != 0 {
			t.Errorf("ParseDuration(%q) returned %v with its error, want 0", c.in, got)
		}
		if !strings.Contains(err.Error(), c.wantInError) {
			t.Errorf("ParseDuration(%q) error = %q, want it to contain %q", c.in, err, c.wantInError)
		}
	}
}

func TestFormatDuration_usesTheLargestExactUnit(t *testing.T) {
	cases := []struct {
		in   time.Duration
		want string
	}{
		{30 * Day, "30d"},
		{Day, "1d"},
		{Day + time.Hour, "25h"},
		{90 * time.Minute, "90m"},
		{time.Hour, "1h"},
		{time.Hour + time.Second, "3601s"},
		{1500 * time.Millisecond, "1.5s"},
		{time.Nanosecond, "1ns"},
		{0, "0s"},
		{-Day, "-24h0m0s"},
	}
	for _, c := range cases {
		if got := FormatDuration(c.in); got != c.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestFormatDuration_roundTripsThroughParseDuration(t *testing.T) {
	for _, d := range []time.Duration{time.Nanosecond, time.Second, 90 * time.Minute, Day, 30 * Day, 365*Day + time.Hour, 106751 * Day} {
		got, err := ParseDuration(FormatDuration(d))
		if err != nil || got != d {
			t.Errorf("ParseDuration(FormatDuration(%v)) = %v, %v; want %v", d, got, err, d)
		}
	}
}
