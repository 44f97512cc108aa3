package policy

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// Rule ids of the findings that waivers themselves produce.
const (
	RuleWaiverExpired = "TOKENGUARD-WAIVER-EXPIRED"
	RuleWaiverUnused  = "TOKENGUARD-WAIVER-UNUSED"
)

// Waiver accepts the findings of one rule on the resources matching an address pattern,
// until it expires.
//
// Address is a glob: `*` matches any run of characters, dots and brackets included, so it
// matches within a segment (`tokenguard_api_token.ci_*`) and across segments
// (`module.legacy.*`, `*.billing["eu"]`). Every other character matches itself. Rule is an
// exact rule id, or a glob in the same syntax (`CPRA-XPR-*`).
type Waiver struct {
	Rule       string
	Address    string
	Reason     string
	ApprovedBy string
	// Expires is the last day (UTC) on which the waiver applies.
	Expires time.Time
	// Index is the waiver's position in the file, from 0.
	Index int
}

type waiverFile struct {
	Waivers []struct {
		Rule       string `json:"rule"`
		Address    string `json:"address"`
		Reason     string `json:"reason"`
		ApprovedBy string `json:"approved_by"`
		Expires    string `json:"expires"`
	} `json:"waivers"`
}

// LoadWaivers reads a waivers YAML file.
func LoadWaivers(path string) ([]Waiver, error) {
	src, err := readInputFile(path, maxWaiversBytes)
	if err != nil {
		return nil, fmt.Errorf("waivers file %s: %w", path, err)
	}
	ws, err := ParseWaivers(src)
	if err != nil {
		return nil, fmt.Errorf("waivers file %s: %w", path, err)
	}
	return ws, nil
}

// Size caps of the small documents the checker reads whole: far above any real file, far
// below what would exhaust memory when a user names the wrong file (a disk image, a log).
const (
	maxWaiversBytes  = 8 << 20
	maxDataFileBytes = 256 << 20
)

// readInputFile reads a file the user named, refusing one larger than limit bytes before
// reading it (so a huge or sparse file costs no memory) and reading at most limit+1 bytes
// (so a file that grows, or a device, cannot get past the check). Errors carry no path.
func readInputFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path) //nolint:gosec // the user names the file
	if err != nil {
		return nil, pathErr(err)
	}
	defer func() { _ = f.Close() }()
	if info, err := f.Stat(); err == nil && info.Mode().IsRegular() && info.Size() > limit {
		return nil, fmt.Errorf("file is %d bytes, above the limit of %d MiB: is this the right file?", info.Size(), limit>>20)
	}
	src, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, pathErr(err)
	}
	if int64(len(src)) > limit {
		return nil, fmt.Errorf("file is larger than the limit of %d MiB: is this the right file?", limit>>20)
	}
	return src, nil
}

// ParseWaivers parses a waivers document:
//
//	waivers:
//	  - rule: CPRA-RET-002
//	    address: module.legacy.tokenguard_api_token.*
//	    reason: Vendor integration cannot rotate before the Q1 migration
//	    approved_by: privacy-office@example.com
//	    expires: 2026-12-31
//
// Every field is required; an error names the entry (from 0) and the field.
func ParseWaivers(src []byte) ([]Waiver, error) {
	var doc waiverFile
	if err := yaml.UnmarshalStrict(src, &doc); err != nil {
		return nil, fmt.Errorf("not a waivers document: %s", oneLine(err))
	}
	out := make([]Waiver, 0, len(doc.Waivers))
	for i, w := range doc.Waivers {
		missing := func(field string) error {
			return fmt.Errorf("waiver %d: %s is required", i, field)
		}
		switch {
		case strings.TrimSpace(w.Rule) == "":
			return nil, missing("rule")
		case strings.TrimSpace(w.Address) == "":
			return nil, missing("address")
		case strings.TrimSpace(w.Reason) == "":
			return nil, missing("reason")
		case strings.TrimSpace(w.ApprovedBy) == "":
			return nil, missing("approved_by")
		case strings.TrimSpace(w.Expires) == "":
			return nil, missing("expires")
		}
		exp, err := parseDate(w.Expires)
		if err != nil {
			return nil, fmt.Errorf("waiver %d: expires %q is not a date: write it as YYYY-MM-DD", i, w.Expires)
		}
		out = append(out, Waiver{
			Rule: strings.TrimSpace(w.Rule), Address: strings.TrimSpace(w.Address),
			Reason: strings.TrimSpace(w.Reason), ApprovedBy: strings.TrimSpace(w.ApprovedBy),
			Expires: exp, Index: i,
		})
	}
	return out, nil
}

func parseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, errors.New("not a date")
	}
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
}

// Expired reports whether the waiver no longer applies on the day of now (UTC).
func (w Waiver) Expired(now time.Time) bool {
	y, m, d := now.UTC().Date()
	return w.Expires.Before(time.Date(y, m, d, 0, 0, 0, 0, time.UTC))
}

// Matches reports whether the waiver covers finding f.
func (w Waiver) Matches(f Finding) bool {
	return globMatch(w.Rule, f.RuleID) && globMatch(w.Address, f.Address)
}

// ApplyWaivers marks the findings that a current waiver covers as waived, and appends a
// blocking TOKENGUARD-WAIVER-EXPIRED finding per expired waiver (which waives nothing) and a
// TOKENGUARD-WAIVER-UNUSED warning per current waiver that matches no finding. source names
// the waivers file in those findings. The result is sorted.
func ApplyWaivers(findings []Finding, waivers []Waiver, now time.Time, source string) []Finding {
	out := make([]Finding, len(findings), len(findings)+len(waivers))
	copy(out, findings)
	for _, w := range waivers {
		if w.Expired(now) {
			out = append(out, Finding{
				RuleID: RuleWaiverExpired, Severity: SeverityError, Title: "Waiver has expired",
				Address: w.Address, File: source,
				Message: fmt.Sprintf("waiver %d for %s on %s expired on %s (approved by %s); it no longer waives anything",
					w.Index, w.Rule, w.Address, w.Expires.Format("2006-01-02"), w.ApprovedBy),
				Remediation: "Fix the findings it covered, or renew the waiver with a new review and a new expiry date.",
			})
			continue
		}
		used := false
		for i := range findings {
			f := &out[i]
			if !w.Matches(*f) {
				continue
			}
			used = true
			if !f.Waived { // the first matching waiver is the one reported
				f.Waived, f.WaiverReason, f.WaiverApprovedBy = true, w.Reason, w.ApprovedBy
			}
		}
		if !used {
			out = append(out, Finding{
				RuleID: RuleWaiverUnused, Severity: SeverityWarning, Title: "Waiver matches no finding",
				Address: w.Address, File: source,
				Message:     fmt.Sprintf("waiver %d for %s on %s matches no finding", w.Index, w.Rule, w.Address),
				Remediation: "Remove the waiver, or correct its rule id or address pattern.",
			})
		}
	}
	SortFindings(out)
	return out
}

// globMatch matches s against pattern, where `*` matches any run of characters.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, last)
}
