package token

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Day is 24 hours; tokenguard durations accept whole days with a "d" suffix.
const Day = 24 * time.Hour

// ParseDuration parses a Go duration ("90m", "1h30m") or a whole number of days ("30d").
// Zero, negative and overflowing durations are rejected.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration: use a Go duration such as \"12h\" or whole days such as \"30d\"")
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q: days must be a whole number such as \"30d\"", s)
		}
		if n > int64(maxDuration/Day) || n < -int64(maxDuration/Day) {
			return 0, fmt.Errorf("invalid duration %q: too long", s)
		}
		d = time.Duration(n) * Day
	} else {
		var err error
		d, err = time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q: use a Go duration such as \"12h\" or whole days such as \"30d\"", s)
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("invalid duration %q: must be positive", s)
	}
	return d, nil
}

const maxDuration = time.Duration(1<<63 - 1)

// FormatDuration renders d in the shortest exact form a person would write: in the largest
// unit that divides it exactly ("30d", "25h", "90m", "45s"), else as a Go duration ("1.5s").
// Every form it returns is read back by ParseDuration.
func FormatDuration(d time.Duration) string {
	if d <= 0 {
		return d.String()
	}
	for _, u := range []struct {
		unit   time.Duration
		suffix string
	}{{Day, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if d%u.unit == 0 {
			return strconv.FormatInt(int64(d/u.unit), 10) + u.suffix
		}
	}
	return d.String()
}

// LifetimeTTL spells a token's lifetime (expires - created), to the second and at least one
// second, in the form FormatDuration gives: the ttl an import records, since the service keeps
// no requested ttl ("30d" for a token issued for 30 days and never renewed).
func LifetimeTTL(created, expires time.Time) string {
	d := expires.Sub(created).Round(time.Second)
	if d <= 0 {
		d = time.Second
	}
	return FormatDuration(d)
}
