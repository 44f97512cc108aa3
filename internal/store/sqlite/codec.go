package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// timeLayout is fixed width (nine fractional digits, always UTC), so that the text order of
// two stored instants is their time order and SQL comparisons on them are correct.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// formatTime renders t in UTC with timeLayout. Callers check the year range first (encoder).
func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// parseTime reads an instant written by formatTime; the result is in UTC.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t, nil
}

// encoder turns Go values into column values, keeping the first error so that a long
// argument list can be built without a check after every field.
type encoder struct{ err error }

func (e *encoder) fail(field string, err error) {
	if e.err == nil {
		e.err = fmt.Errorf("encoding %s: %w", field, err)
	}
}

func (e *encoder) time(field string, t time.Time) string {
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		e.fail(field, fmt.Errorf("year %d is outside 0-9999", y))
	}
	return formatTime(t)
}

func (e *encoder) optTime(field string, t *time.Time) any {
	if t == nil {
		return nil
	}
	return e.time(field, *t)
}

// json encodes a slice or map; nil encodes as "null" and an empty one as "[]" or "{}", so the
// difference survives the round trip.
func (e *encoder) json(field string, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		e.fail(field, err)
		return ""
	}
	return string(b)
}

// blob returns b, or SQL NULL for a nil slice.
func blob(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// decoder is the reading counterpart of encoder.
type decoder struct{ err error }

func (d *decoder) fail(field string, err error) {
	if d.err == nil {
		d.err = fmt.Errorf("decoding %s: %w", field, err)
	}
}

func (d *decoder) time(field, s string) time.Time {
	t, err := parseTime(s)
	if err != nil {
		d.fail(field, err)
	}
	return t
}

func (d *decoder) optTime(field string, s sql.NullString) *time.Time {
	if !s.Valid {
		return nil
	}
	t := d.time(field, s.String)
	return &t
}

func (d *decoder) strings(field, s string) []string {
	if out, ok := plainStringArray(s); ok {
		return out
	}
	var out []string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		d.fail(field, err)
	}
	return out
}

// plainStringArray decodes s, the JSON of a string slice, when it has the plain form
// json.Marshal gives most slices: null, or an array of strings without whitespace, escapes,
// control characters or invalid UTF-8. It reports whether s had that form; the result is then
// what json.Unmarshal would give (nil for null, an empty slice for []). Every string set is
// decoded on each introspection, and this is several times faster than json.Unmarshal.
func plainStringArray(s string) ([]string, bool) {
	if s == "null" {
		return nil, true
	}
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' || strings.IndexByte(s, '\\') >= 0 {
		return nil, false
	}
	body := s[1 : len(s)-1]
	out := make([]string, 0, strings.Count(body, `","`)+1)
	for body != "" {
		if body[0] != '"' {
			return nil, false
		}
		end := strings.IndexByte(body[1:], '"') + 1
		if end == 0 {
			return nil, false
		}
		elem := body[1:end]
		for i := range len(elem) {
			if elem[i] < 0x20 {
				return nil, false
			}
		}
		if !utf8.ValidString(elem) {
			return nil, false
		}
		out = append(out, elem)
		body = body[end+1:]
		if body != "" {
			if body[0] != ',' || len(body) == 1 {
				return nil, false
			}
			body = body[1:]
		}
	}
	return out, true
}

func (d *decoder) stringMap(field, s string) map[string]string {
	var out map[string]string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		d.fail(field, err)
	}
	return out
}
