package token

import (
	"errors"
	"strings"
	"testing"
)

const testID = "tok_AbCdEfGh01234567"

func mustSecret(t *testing.T, env, id string) string {
	t.Helper()
	s, err := NewSecret(env, id)
	if err != nil {
		t.Fatalf("NewSecret(%q, %q): %v", env, id, err)
	}
	return s
}

func TestNewSecret_roundTripsThroughParseSecret(t *testing.T) {
	for _, env := range []string{"live", "test", "eu1", "a", "abcdefghijklmnop"} {
		s := mustSecret(t, env, testID)
		wantLen := len(Prefix) + len(env) + 1 + IDPartLength + 1 + RandomLength + checksumLength
		if len(s) != wantLen {
			t.Errorf("NewSecret(%q) has length %d, want %d", env, len(s), wantLen)
		}
		if want := Prefix + env + "_" + strings.TrimPrefix(testID, IDPrefix) + "_"; !strings.HasPrefix(s, want) {
			t.Errorf("NewSecret(%q) = %q, want prefix %q", env, s, want)
		}
		got, err := ParseSecret(s)
		if err != nil {
			t.Fatalf("ParseSecret(NewSecret(%q)): %v", env, err)
		}
		want := Secret{Env: env, IDPart: "AbCdEfGh01234567", Value: s}
		if got != want {
			t.Errorf("ParseSecret = %+v, want %+v", got, want)
		}
		if got.TokenID() != testID {
			t.Errorf("TokenID() = %q, want %q", got.TokenID(), testID)
		}
	}
}

func TestNewSecret_mintsADifferentSecretEachTime(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s := mustSecret(t, "live", testID)
		if seen[s] {
			t.Fatalf("NewSecret returned %q twice", s)
		}
		seen[s] = true
	}
}

func TestNewSecret_rejectsBadEnvironmentsAndIDs(t *testing.T) {
	cases := []struct{ env, id string }{
		{"", testID},
		{"Live", testID},
		{"li-ve", testID},
		{"li_ve", testID},
		{"abcdefghijklmnopq", testID}, // 17 characters
		{"live", "AbCdEfGh01234567"},  // no tok_ prefix
		{"live", "tok_AbCdEfGh0123456"},
		{"live", "tok_AbCdEfGh012345678"},
		{"live", "tok_AbCdEfGh0123456-"},
		{"live", "tok_"},
	}
	for _, c := range cases {
		if s, err := NewSecret(c.env, c.id); err == nil {
			t.Errorf("NewSecret(%q, %q) = %q, want an error", c.env, c.id, s)
		}
	}
}

func TestNewID_isTokPrefixAndSixteenBase62Characters(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id, err := NewID()
		if err != nil {
			t.Fatalf("NewID: %v", err)
		}
		part, ok := strings.CutPrefix(id, IDPrefix)
		if !ok || len(part) != IDPartLength || !isBase62(part) {
			t.Fatalf("NewID() = %q, want %q and %d base62 characters", id, IDPrefix, IDPartLength)
		}
		if seen[id] {
			t.Fatalf("NewID returned %q twice", id)
		}
		seen[id] = true
		// Every fresh id can carry a secret.
		mustSecret(t, "live", id)
	}
}

func TestParseSecret_checksumRejectsAnySingleChangedCharacter(t *testing.T) {
	s := mustSecret(t, "live", testID)
	for i := range len(s) {
		for _, repl := range []byte{'0', 'z', 'Q'} {
			if s[i] == repl {
				continue
			}
			changed := s[:i] + string(repl) + s[i+1:]
			if _, err := ParseSecret(changed); !errors.Is(err, ErrMalformed) {
				t.Errorf("ParseSecret with character %d changed to %q: error = %v, want ErrMalformed", i, repl, err)
			}
		}
	}
}

func TestParseSecret_rejectsMalformedInput(t *testing.T) {
	const idPart = "AbCdEfGh01234567"
	random := strings.Repeat("x", RandomLength)
	// withSum appends a correct checksum, so that only the named defect is wrong.
	withSum := func(body string) string { return body + checksum(body) }
	good := withSum("tg_live_" + idPart + "_" + random)
	if _, err := ParseSecret(good); err != nil {
		t.Fatalf("control secret %q does not parse: %v", good, err)
	}
	cases := []struct{ name, in string }{
		{"empty", ""},
		{"prefix only", "tg_"},
		{"wrong prefix", "gh" + good[2:]},
		{"wrong prefix with valid checksum", withSum("tk_live_" + idPart + "_" + random)},
		{"uppercase prefix", "TG" + good[2:]},
		{"missing id part", withSum("tg_live_" + random)},
		{"missing random part", withSum("tg_live_" + idPart)},
		{"extra part", withSum("tg_live_" + idPart + "_" + random + "_x")},
		{"empty env", withSum("tg__" + idPart + "_" + random)},
		{"uppercase env", withSum("tg_LIVE_" + idPart + "_" + random)},
		{"env with a dash", withSum("tg_li-ve_" + idPart + "_" + random)},
		{"env too long", withSum("tg_abcdefghijklmnopq_" + idPart + "_" + random)},
		{"id part too short", withSum("tg_live_" + idPart[1:] + "_" + random)},
		{"id part too long", withSum("tg_live_" + idPart + "A_" + random)},
		{"id part not base62", withSum("tg_live_" + idPart[:15] + "-_" + random)},
		{"random part too short", withSum("tg_live_" + idPart + "_" + random[1:])},
		{"random part too long", withSum("tg_live_" + idPart + "_" + random + "x")},
		{"random part not base62", withSum("tg_live_" + idPart + "_" + random[1:] + "+")},
		{"checksum missing", "tg_live_" + idPart + "_" + random},
		{"checksum wrong", good[:len(good)-1] + flip(good[len(good)-1])},
		{"checksum not base62", good[:len(good)-1] + "/"},
		{"trailing newline", good + "\n"},
		{"leading space", " " + good},
		{"non-ASCII in random part", withSum("tg_live_" + idPart + "_" + random[2:] + "é")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseSecret(c.in)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseSecret(%q) = %+v, %v; want ErrMalformed", c.in, got, err)
			}
			if got != (Secret{}) {
				t.Errorf("ParseSecret(%q) returned %+v with its error, want the zero Secret", c.in, got)
			}
		})
	}
}

func flip(c byte) string {
	if c == '0' {
		return "1"
	}
	return "0"
}

func TestChecksum_isSixBase62CharactersOfCRC32(t *testing.T) {
	cases := []struct{ body, want string }{
		// CRC32-IEEE("") = 0, left-padded with the zero digit.
		{"", "000000"},
		// CRC32-IEEE("123456789") = 0xCBF43926 = 3421780262, in base62 digits 3 45 35 27 22 14.
		{"123456789", "3jZRME"},
	}
	for _, c := range cases {
		if got := checksum(c.body); got != c.want {
			t.Errorf("checksum(%q) = %q, want %q", c.body, got, c.want)
		}
	}
}
