// Conversions between Go values and the PostgreSQL column types the store uses.

package postgres

import (
	"encoding/json"
	"time"
)

// pgTime is the instant PostgreSQL stores for t: timestamptz keeps microseconds. Truncating
// here, rather than leaving it to the encoding, makes the stored value the same whether pgx
// sends it in binary (which truncates) or as text (which the server would round).
func pgTime(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

func optPGTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := pgTime(*t)
	return &v
}

// utc returns a scanned instant in UTC (pgx returns time.Local).
func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
}

// jsonMap encodes a string map for a jsonb column: SQL NULL for a nil map, so that nil and
// empty stay distinct.
func jsonMap(m map[string]string) (any, error) {
	if m == nil {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// parseJSONMap decodes a jsonb column written by jsonMap.
func parseJSONMap(b []byte) (map[string]string, error) {
	if b == nil {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// textArray passes a string slice for a text[] column: a nil slice as SQL NULL and an empty
// one as an empty array.
func textArray(s []string) any {
	if s == nil {
		return nil
	}
	return s
}

// bytesOrNull passes a byte slice for a bytea column: nil as SQL NULL.
func bytesOrNull(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}
