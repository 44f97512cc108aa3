// Package evidence builds the rotation evidence report: for each token, its declared rotation
// schedule, every rotation the audit log records, which gaps between rotations ran longer than
// the interval, and the audit-chain verification result the whole report rests on.
//
// Build is pure: it reads tokens and audit records handed to it and a clock, never the network.
// The renderers (markdown, json, html) only present what Build decided, so every format marks
// exactly the same gaps late.
package evidence

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// Schedule verdicts of a token.
const (
	ScheduleOnTime = "on_schedule" // an interval is declared and no gap in the window ran past it
	ScheduleLate   = "late"        // at least one gap in the window ran longer than the interval
	ScheduleNone   = "no_schedule" // no rotation interval is declared
)

// Reasons a token's timeline ends.
const (
	EndNow     = "now"     // the token is still active: the timeline ends at the report time
	EndRevoked = "revoked" // at revoked_at
	EndExpired = "expired" // at expires_at
)

// Chain is the audit-chain verification result the report is built on.
type Chain struct {
	// Verified is true when every record verified, in order, from the first.
	Verified bool `json:"verified"`
	// Records is the number of records that verified.
	Records int64 `json:"records"`
	// Problem names the first broken record when Verified is false.
	Problem string `json:"problem,omitempty"`
}

// Input is what Build reads.
type Input struct {
	// Tokens are every token of the service (any status).
	Tokens []wire.Token
	// Records are the audit records, in sequence order. Only token.rotate records with
	// outcome "ok" count as rotations.
	Records []audit.Record
	// Chain is the verification result of Records.
	Chain Chain
	// Since, when not zero, limits the report to rotations and open periods at or after it;
	// lateness of the first rotation in the window is still measured from the rotation before.
	Since time.Time
	// Now is the report clock; nil means time.Now.
	Now func() time.Time
}

// Report is the rotation evidence report.
type Report struct {
	GeneratedAt time.Time     `json:"generated_at"`
	Since       *time.Time    `json:"since,omitempty"`
	AuditChain  Chain         `json:"audit_chain"`
	Summary     Summary       `json:"summary"`
	Tokens      []TokenReport `json:"tokens"`
}

// Summary counts tokens by schedule verdict.
type Summary struct {
	Tokens     int `json:"tokens"`
	OnSchedule int `json:"on_schedule"`
	Late       int `json:"late"`
	NoSchedule int `json:"no_schedule"`
}

// TokenReport is one token's rotation history.
type TokenReport struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Owner     string    `json:"owner"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	// Interval and Overlap are the declared rotation policy for people ("7d", "1h"); empty
	// when not declared.
	Interval        string `json:"rotation_interval,omitempty"`
	IntervalSeconds int64  `json:"rotation_interval_seconds,omitempty"`
	Overlap         string `json:"rotation_overlap,omitempty"`
	// Schedule is ScheduleOnTime, ScheduleLate or ScheduleNone.
	Schedule string `json:"schedule"`
	// LateGaps counts the late rotations plus a late open period, within the window.
	LateGaps int `json:"late_gaps"`
	// Rotations are the rotations within the window, oldest first.
	Rotations []Rotation `json:"rotations"`
	// Open is the period since the last rotation (or creation) up to the end of the timeline.
	Open OpenPeriod `json:"open_period"`
	// Discrepancy, when set, says how the token's secret version disagrees with the audit log.
	Discrepancy string `json:"discrepancy,omitempty"`

	intervalDur time.Duration
	start       time.Time // first instant drawn on the timeline
}

// Rotation is one rotation the audit log records, measured against the one before it.
type Rotation struct {
	At            time.Time `json:"at"`
	Seq           int64     `json:"audit_seq"`
	Actor         string    `json:"actor"`
	SecretVersion int       `json:"secret_version,omitempty"`
	// Previous is the rotation (or creation) this one is measured from.
	Previous time.Time `json:"previous"`
	// SincePrevious is At - Previous.
	SincePrevious        string `json:"since_previous"`
	SincePreviousSeconds int64  `json:"since_previous_seconds"`
	// DueAt is Previous + interval; absent without a declared interval.
	DueAt *time.Time `json:"due_at,omitempty"`
	// Late is true when SincePrevious is longer than the interval.
	Late bool `json:"late"`

	gap time.Duration
}

// OpenPeriod is the time from the last rotation (or creation) to the end of the timeline: now
// for an active token, revoked_at or expires_at otherwise.
type OpenPeriod struct {
	From           time.Time  `json:"from"`
	Until          time.Time  `json:"until"`
	UntilReason    string     `json:"until_reason"`
	Elapsed        string     `json:"elapsed"`
	ElapsedSeconds int64      `json:"elapsed_seconds"`
	DueAt          *time.Time `json:"due_at,omitempty"`
	Late           bool       `json:"late"`

	gap time.Duration
}

// Build builds the report. It fails only when a token's declared interval cannot be read.
func Build(in Input) (Report, error) {
	now := time.Now
	if in.Now != nil {
		now = in.Now
	}
	rep := Report{GeneratedAt: now().UTC(), AuditChain: in.Chain, Tokens: []TokenReport{}}
	if !in.Since.IsZero() {
		s := in.Since.UTC()
		rep.Since = &s
	}

	rotations := map[string][]RotationRecord{}
	for _, r := range in.Records {
		if rot, ok := RotationOf(r); ok {
			rotations[r.TokenID] = append(rotations[r.TokenID], rot)
		}
	}

	var errs []error
	for _, t := range in.Tokens {
		tr, include, err := buildToken(t, rotations[t.ID], rep.GeneratedAt, in.Since)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !include {
			continue
		}
		rep.Tokens = append(rep.Tokens, tr)
		rep.Summary.Tokens++
		switch tr.Schedule {
		case ScheduleOnTime:
			rep.Summary.OnSchedule++
		case ScheduleLate:
			rep.Summary.Late++
		default:
			rep.Summary.NoSchedule++
		}
	}
	if len(errs) > 0 {
		return Report{}, errors.Join(errs...)
	}
	slices.SortFunc(rep.Tokens, func(a, b TokenReport) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Owner, b.Owner), cmp.Compare(a.ID, b.ID))
	})
	return rep, nil
}

// RotationRecord is what the report needs of one rotation the audit log records: far
// smaller than the audit.Record, so a caller can hold every rotation of a large service.
type RotationRecord struct {
	Seq           int64
	At            time.Time
	Actor         string
	SecretVersion int
}

// RotationOf is r as the report counts it: ok is false unless r is a successful rotation of
// a token (a token.rotate record with outcome "ok").
func RotationOf(r audit.Record) (RotationRecord, bool) {
	if r.Action != audit.ActionRotate || r.Outcome != "ok" || r.TokenID == "" {
		return RotationRecord{}, false
	}
	rot := RotationRecord{Seq: r.Seq, At: r.Time.UTC(), Actor: r.Actor}
	if v, err := strconv.Atoi(r.Details["secret_version"]); err == nil {
		rot.SecretVersion = v
	}
	return rot, true
}

// buildToken measures one token's rotations (recs, in sequence order); include is false
// when its timeline ended before since.
func buildToken(t wire.Token, recs []RotationRecord, now, since time.Time) (TokenReport, bool, error) {
	tr := TokenReport{
		ID: t.ID, Name: t.Name, Owner: t.Owner, Status: t.Status, CreatedAt: t.CreatedAt.UTC(),
		Schedule: ScheduleNone, Rotations: []Rotation{},
	}
	if t.Rotation != nil && t.Rotation.Interval != "" {
		d, err := token.ParseDuration(t.Rotation.Interval)
		if err != nil {
			return tr, false, fmt.Errorf("token %s: rotation interval: %w", t.ID, err)
		}
		tr.intervalDur = d
		tr.Interval = Human(d)
		tr.IntervalSeconds = int64(d / time.Second)
		tr.Schedule = ScheduleOnTime
	}
	if t.Rotation != nil && t.Rotation.Overlap != "" {
		tr.Overlap = t.Rotation.Overlap
		if d, err := token.ParseDuration(t.Rotation.Overlap); err == nil {
			tr.Overlap = Human(d)
		}
	}

	end, reason := now, EndNow
	if t.RevokedAt != nil && !t.RevokedAt.After(end) {
		end, reason = t.RevokedAt.UTC(), EndRevoked
	}
	if !t.ExpiresAt.IsZero() && t.ExpiresAt.Before(end) {
		end, reason = t.ExpiresAt.UTC(), EndExpired
	}
	if !since.IsZero() && end.Before(since) {
		return tr, false, nil
	}

	if n := len(recs) + 1; t.SecretVersion != 0 && t.SecretVersion != n {
		tr.Discrepancy = fmt.Sprintf("the token is at secret version %d but the audit log records %d rotation(s), which means version %d",
			t.SecretVersion, len(recs), n)
	}

	prev := tr.CreatedAt
	for _, r := range recs {
		at := r.At.UTC()
		rot := Rotation{At: at, Seq: r.Seq, Actor: r.Actor, SecretVersion: r.SecretVersion, Previous: prev, gap: at.Sub(prev)}
		rot.SincePrevious, rot.SincePreviousSeconds = Human(rot.gap), int64(rot.gap/time.Second)
		if tr.intervalDur > 0 {
			due := prev.Add(tr.intervalDur)
			rot.DueAt = &due
			rot.Late = rot.gap > tr.intervalDur
		}
		prev = at
		if !since.IsZero() && at.Before(since) {
			continue
		}
		if rot.Late {
			tr.LateGaps++
		}
		tr.Rotations = append(tr.Rotations, rot)
	}
	// The timeline is drawn from the instant the first reported gap is measured from.
	tr.start = prev
	if len(tr.Rotations) > 0 {
		tr.start = tr.Rotations[0].Previous
	}

	tr.Open = OpenPeriod{From: prev, Until: end, UntilReason: reason, gap: end.Sub(prev)}
	if tr.Open.gap < 0 {
		tr.Open.gap = 0
	}
	tr.Open.Elapsed, tr.Open.ElapsedSeconds = Human(tr.Open.gap), int64(tr.Open.gap/time.Second)
	if tr.intervalDur > 0 {
		due := prev.Add(tr.intervalDur)
		tr.Open.DueAt = &due
		tr.Open.Late = tr.Open.gap > tr.intervalDur
		if tr.Open.Late {
			tr.LateGaps++
		}
		if tr.LateGaps > 0 {
			tr.Schedule = ScheduleLate
		}
	}
	return tr, true, nil
}

// Human renders a duration for people: "10d", "3d 4h", "2h 30m", "45s".
func Human(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	d = d.Round(time.Second)
	days := d / token.Day
	d -= days * token.Day
	hours := d / time.Hour
	d -= hours * time.Hour
	mins := d / time.Minute
	secs := (d - mins*time.Minute) / time.Second
	var parts []string
	add := func(n time.Duration, unit string) {
		if n > 0 {
			parts = append(parts, strconv.FormatInt(int64(n), 10)+unit)
		}
	}
	add(days, "d")
	add(hours, "h")
	if days == 0 {
		add(mins, "m")
		if hours == 0 {
			add(secs, "s")
		}
	}
	if len(parts) == 0 { // under half a second rounds to nothing
		return "0s"
	}
	return strings.Join(parts, " ")
}

// Verdict is the people-facing wording of a schedule verdict.
func Verdict(schedule string) string {
	switch schedule {
	case ScheduleOnTime:
		return "on schedule"
	case ScheduleLate:
		return "LATE"
	default:
		return "no schedule declared"
	}
}
