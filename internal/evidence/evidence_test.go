package evidence

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var t0 = time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)

func day(n int) time.Time { return t0.Add(time.Duration(n) * 24 * time.Hour) }

// fixture is two tokens with a 7-day interval, one rotated on days 6 and 12 (on time) and one
// rotated on day 10 (late), plus a token without a declared schedule; the report runs on day 13.
type fixture struct {
	tokens  []wire.Token
	records []audit.Record
}

func (f *fixture) rotate(id string, at time.Time, version int) {
	var prev *audit.Record
	if n := len(f.records); n > 0 {
		prev = &f.records[n-1]
	}
	f.records = append(f.records, audit.Chain(prev, int64(len(f.records)+1), audit.Event{
		Time: at, Actor: "cred_admin", Action: audit.ActionRotate, TokenID: id, Fingerprint: "fp_" + id, Outcome: "ok",
		Details: map[string]string{"secret_version": strconv.Itoa(version)},
	}))
}

func (f *fixture) record(ev audit.Event) {
	var prev *audit.Record
	if n := len(f.records); n > 0 {
		prev = &f.records[n-1]
	}
	f.records = append(f.records, audit.Chain(prev, int64(len(f.records)+1), ev))
}

func onTimeAndLate() *fixture {
	f := &fixture{}
	rot := &wire.Rotation{Interval: "7d", Overlap: "1h"}
	f.tokens = []wire.Token{
		{ID: "tok_ontime", Name: "orders-sync", Owner: "team-orders", Status: "active", Rotation: rot,
			CreatedAt: t0, ExpiresAt: day(30), SecretVersion: 3},
		{ID: "tok_late", Name: "billing-export", Owner: "team-billing", Status: "active", Rotation: rot,
			CreatedAt: t0, ExpiresAt: day(30), SecretVersion: 2},
		{ID: "tok_nosched", Name: "reporting", Owner: "team-bi", Status: "active", CreatedAt: t0, ExpiresAt: day(30), SecretVersion: 1},
	}
	for _, tk := range f.tokens {
		f.record(audit.Event{Time: t0, Actor: "cred_admin", Action: audit.ActionCreate, TokenID: tk.ID, Outcome: "ok"})
	}
	f.rotate("tok_ontime", day(6), 2)
	// An introspection and a refused rotation are not rotations.
	f.record(audit.Event{Time: day(7), Actor: "cred_rs", Action: audit.ActionIntrospect, TokenID: "tok_late", Outcome: "ok"})
	f.record(audit.Event{Time: day(8), Actor: "cred_admin", Action: audit.ActionRotate, TokenID: "tok_late", Outcome: "denied"})
	f.rotate("tok_late", day(10), 2)
	f.rotate("tok_ontime", day(12), 3)
	return f
}

func (f *fixture) build(t *testing.T, now time.Time, since time.Time) Report {
	t.Helper()
	rep, err := Build(Input{Tokens: f.tokens, Records: f.records, Chain: Chain{Verified: true, Records: int64(len(f.records))},
		Since: since, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return rep
}

func byID(t *testing.T, rep Report, id string) TokenReport {
	t.Helper()
	for _, tr := range rep.Tokens {
		if tr.ID == id {
			return tr
		}
	}
	t.Fatalf("token %s missing from the report", id)
	return TokenReport{}
}

func TestBuild_marksExactlyTheLateRotation(t *testing.T) {
	rep := onTimeAndLate().build(t, day(13), time.Time{})

	if got, want := rep.Summary, (Summary{Tokens: 3, OnSchedule: 1, Late: 1, NoSchedule: 1}); got != want {
		t.Fatalf("summary = %+v, want %+v", got, want)
	}
	if got := []string{rep.Tokens[0].ID, rep.Tokens[1].ID, rep.Tokens[2].ID}; !slices.Equal(got, []string{"tok_late", "tok_ontime", "tok_nosched"}) {
		t.Fatalf("order = %v, want by name", got)
	}

	on := byID(t, rep, "tok_ontime")
	if on.Schedule != ScheduleOnTime || on.LateGaps != 0 || len(on.Rotations) != 2 || on.Discrepancy != "" {
		t.Fatalf("on-time token = %+v", on)
	}
	for i, want := range []struct {
		prev, at time.Time
		gap      string
	}{{t0, day(6), "6d"}, {day(6), day(12), "6d"}} {
		r := on.Rotations[i]
		if !r.Previous.Equal(want.prev) || !r.At.Equal(want.at) || r.SincePrevious != want.gap || r.Late || r.SecretVersion != i+2 {
			t.Errorf("on-time rotation %d = %+v", i, r)
		}
	}
	if on.Open.Late || on.Open.Elapsed != "1d" || on.Open.UntilReason != EndNow || !on.Open.DueAt.Equal(day(19)) {
		t.Errorf("on-time open period = %+v", on.Open)
	}

	late := byID(t, rep, "tok_late")
	if late.Schedule != ScheduleLate || late.LateGaps != 1 || len(late.Rotations) != 1 {
		t.Fatalf("late token = %+v", late)
	}
	r := late.Rotations[0]
	if !r.Late || r.SincePrevious != "10d" || r.SincePreviousSeconds != 10*86400 || !r.DueAt.Equal(day(7)) || r.Seq != 7 || r.Actor != "cred_admin" {
		t.Errorf("late rotation = %+v", r)
	}
	if late.Open.Late || late.Open.Elapsed != "3d" {
		t.Errorf("late token's open period = %+v, want 3d and not late", late.Open)
	}

	none := byID(t, rep, "tok_nosched")
	if none.Schedule != ScheduleNone || none.LateGaps != 0 || none.Open.Late || none.Open.DueAt != nil || none.Interval != "" {
		t.Errorf("token without schedule = %+v", none)
	}
}

func TestBuild_openPeriodLongerThanIntervalIsLate(t *testing.T) {
	rep := onTimeAndLate().build(t, day(19).Add(time.Second), time.Time{})
	on := byID(t, rep, "tok_ontime")
	if !on.Open.Late || on.Schedule != ScheduleLate || on.LateGaps != 1 || on.Open.Elapsed != "7d" {
		t.Fatalf("open period 7d+1s after the last rotation = %+v; want late", on.Open)
	}
}

func TestBuild_gapOfExactlyTheIntervalIsOnTime(t *testing.T) {
	f := onTimeAndLate()
	rep := f.build(t, day(19), time.Time{})
	if on := byID(t, rep, "tok_ontime"); on.Open.Late || on.Schedule != ScheduleOnTime {
		t.Fatalf("open period of exactly 7d = %+v; want on time", on.Open)
	}
}

func TestBuild_revokedAndExpiredTokensEndTheirTimeline(t *testing.T) {
	revokedAt := day(9)
	f := &fixture{tokens: []wire.Token{
		{ID: "tok_rev", Name: "a", Owner: "o", Status: "revoked", Rotation: &wire.Rotation{Interval: "7d"}, CreatedAt: t0,
			ExpiresAt: day(30), RevokedAt: &revokedAt, SecretVersion: 1},
		{ID: "tok_exp", Name: "b", Owner: "o", Status: "expired", Rotation: &wire.Rotation{Interval: "7d"}, CreatedAt: t0,
			ExpiresAt: day(5), SecretVersion: 1},
	}}
	rep := f.build(t, day(40), time.Time{})
	rev := byID(t, rep, "tok_rev")
	if !rev.Open.Until.Equal(revokedAt) || rev.Open.UntilReason != EndRevoked || !rev.Open.Late || rev.Open.Elapsed != "9d" {
		t.Errorf("revoked token open period = %+v; want ending at revocation, 9d, late", rev.Open)
	}
	exp := byID(t, rep, "tok_exp")
	if !exp.Open.Until.Equal(day(5)) || exp.Open.UntilReason != EndExpired || exp.Open.Late || exp.Schedule != ScheduleOnTime {
		t.Errorf("expired token open period = %+v; want ending at expiry, on time", exp.Open)
	}
}

func TestBuild_sinceKeepsWindowAndMeasuresFromTheRotationBefore(t *testing.T) {
	f := onTimeAndLate()
	revokedAt := day(2)
	f.tokens = append(f.tokens, wire.Token{ID: "tok_gone", Name: "gone", Owner: "o", Status: "revoked", CreatedAt: t0,
		ExpiresAt: day(30), RevokedAt: &revokedAt, SecretVersion: 1})
	rep := f.build(t, day(13), day(11))
	if rep.Since == nil || !rep.Since.Equal(day(11)) {
		t.Fatalf("since = %v", rep.Since)
	}
	for _, tr := range rep.Tokens {
		if tr.ID == "tok_gone" {
			t.Fatalf("token revoked before the window is in the report")
		}
	}
	on := byID(t, rep, "tok_ontime")
	if len(on.Rotations) != 1 || !on.Rotations[0].Previous.Equal(day(6)) || on.Rotations[0].Late {
		t.Fatalf("on-time token in window = %+v; want only the day-12 rotation, measured from day 6", on.Rotations)
	}
	late := byID(t, rep, "tok_late")
	if len(late.Rotations) != 0 || late.Schedule != ScheduleOnTime || !late.start.Equal(day(10)) {
		t.Fatalf("late token with its late rotation before the window = %+v; want no rotations and on schedule", late)
	}
}

func TestBuild_reportsSecretVersionThatDisagreesWithAuditLog(t *testing.T) {
	f := onTimeAndLate()
	f.tokens[1].SecretVersion = 4 // tok_late: the audit log records one rotation
	tr := byID(t, f.build(t, day(13), time.Time{}), "tok_late")
	want := "the token is at secret version 4 but the audit log records 1 rotation(s), which means version 2"
	if tr.Discrepancy != want {
		t.Fatalf("discrepancy = %q, want %q", tr.Discrepancy, want)
	}
}

func TestBuild_rejectsUnreadableInterval(t *testing.T) {
	_, err := Build(Input{Tokens: []wire.Token{{ID: "tok_x", Rotation: &wire.Rotation{Interval: "weekly"}}}})
	if err == nil || !strings.Contains(err.Error(), "tok_x") || !strings.Contains(err.Error(), "rotation interval") {
		t.Fatalf("Build with interval \"weekly\" = %v; want an error naming the token and the interval", err)
	}
}

func TestHuman(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 45 * time.Second: "45s", 150 * time.Minute: "2h 30m", 10 * 24 * time.Hour: "10d",
		76 * time.Hour: "3d 4h", 24*time.Hour + 5*time.Minute: "1d", time.Hour + 30*time.Second: "1h",
	} {
		if got := Human(d); got != want {
			t.Errorf("Human(%v) = %q, want %q", d, got, want)
		}
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil { //nolint:gosec // G306: golden files are committed source, world-readable like the rest of the tree
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path) //nolint:gosec // G304: a golden file under testdata/
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test -update after checking the change):\n%s", name, got)
	}
}

func render(t *testing.T, rep Report, format string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, rep, format); err != nil {
		t.Fatalf("Render %s: %v", format, err)
	}
	return b.Bytes()
}

func TestRenderJSON_marksExactlyTheLateToken(t *testing.T) {
	out := render(t, onTimeAndLate().build(t, day(13), time.Time{}), FormatJSON)
	golden(t, "rotation.json", out)
	var doc struct {
		AuditChain struct{ Verified bool } `json:"audit_chain"`
		Tokens     []struct {
			ID        string
			Schedule  string
			Rotations []struct{ Late bool }
			Open      struct{ Late bool } `json:"open_period"`
		}
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("JSON report does not parse: %v", err)
	}
	if !doc.AuditChain.Verified {
		t.Errorf("audit_chain.verified = false")
	}
	var late []string
	for _, tk := range doc.Tokens {
		for i, r := range tk.Rotations {
			if r.Late {
				late = append(late, tk.ID+"#"+strconv.Itoa(i+1))
			}
		}
		if tk.Open.Late {
			late = append(late, tk.ID+"#open")
		}
		if (tk.Schedule == ScheduleLate) != (tk.ID == "tok_late") {
			t.Errorf("%s schedule = %s", tk.ID, tk.Schedule)
		}
	}
	if !slices.Equal(late, []string{"tok_late#1"}) {
		t.Errorf("late gaps = %v, want exactly tok_late#1", late)
	}
}

func TestRenderMarkdown_marksExactlyTheLateToken(t *testing.T) {
	out := string(render(t, onTimeAndLate().build(t, day(13), time.Time{}), FormatMarkdown))
	golden(t, "rotation.md", []byte(out))
	lines := strings.Split(out, "\n")
	if lines[0] != "# Token rotation evidence" || !strings.HasPrefix(lines[2], "**Audit chain verified: 8 records") {
		t.Fatalf("markdown does not open with the chain result:\n%s", out)
	}
	var lateRows []string
	for _, l := range lines {
		if strings.HasPrefix(l, "|") && strings.Contains(l, "**LATE") {
			lateRows = append(lateRows, l)
		}
	}
	want := []string{
		"| `tok_late` | billing-export | team-billing | active | 7d | 1h | 1 | 1 | **LATE** |",
		"| 1 | 2030-01-01T09:00:00Z | 2030-01-11T09:00:00Z (audit #7, v2, by `cred_admin`) | 10d | 2030-01-08T09:00:00Z | **LATE** |",
	}
	if !slices.Equal(lateRows, want) {
		t.Errorf("rows marked late:\n%s\nwant:\n%s", strings.Join(lateRows, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(out, "## reporting (`tok_nosched`)\n\nOwner team-bi, status active, created 2030-01-01T09:00:00Z. No rotation interval declared") {
		t.Errorf("token without schedule is not listed as such")
	}
}

func TestRenderMarkdown_escapesServiceText(t *testing.T) {
	rep := Report{Tokens: []TokenReport{{ID: "tok_x", Name: "a|b **c**", Owner: "<script>", Schedule: ScheduleNone, Rotations: []Rotation{}}}}
	out := string(render(t, rep, FormatMarkdown))
	if !strings.Contains(out, `a\|b \*\*c\*\*`) || strings.Contains(out, "<script>") {
		t.Fatalf("service text not escaped:\n%s", out)
	}
}

func TestRenderMarkdown_brokenChainComesFirst(t *testing.T) {
	rep := Report{AuditChain: Chain{Records: 4, Problem: "audit chain broken at record 5: content does not match its hash"}}
	out := string(render(t, rep, FormatMarkdown))
	want := "# Token rotation evidence\n\n**Audit chain BROKEN: 4 records verified before the break (audit chain broken at record 5: content does not match its hash)."
	if !strings.HasPrefix(out, want) {
		t.Fatalf("broken chain report starts:\n%s\nwant:\n%s", out, want)
	}
}

func TestRenderHTML_marksExactlyTheLateTokenAndStaysSelfContained(t *testing.T) {
	out := render(t, onTimeAndLate().build(t, day(13), time.Time{}), FormatHTML)
	golden(t, "rotation.html", out)

	if u := regexp.MustCompile(`(?i)(https?:|//[a-z0-9]|src=|<script|<link|@import|url\()`).Find(out); u != nil {
		t.Errorf("HTML report refers to something outside the file: %q", u)
	}
	doc, err := html.Parse(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("HTML does not parse: %v", err)
	}
	// The chain result is the first paragraph of the body.
	firstP := find(doc, func(n *html.Node) bool { return n.Data == "p" })
	if firstP == nil || attr(firstP, "id") != "audit-chain" || !strings.HasPrefix(text(firstP), "Audit chain verified: 8 records") {
		t.Errorf("first paragraph is not the chain result: %q", text(firstP))
	}
	var sections, lateSections, lateRows, lateRects []string
	walk(doc, func(n *html.Node) {
		switch n.Data {
		case "section":
			id := attr(n, "id")
			sections = append(sections, id)
			if attr(n, "data-schedule") == ScheduleLate {
				lateSections = append(lateSections, id)
			}
			walk(n, func(c *html.Node) {
				if c.Data == "tr" && attr(c, "data-late") == "true" {
					lateRows = append(lateRows, id+":"+attr(c, "class"))
				}
				if c.Data == "rect" && strings.Contains(" "+attr(c, "class")+" ", " late ") {
					lateRects = append(lateRects, id)
				}
			})
		}
	})
	if !slices.Equal(sections, []string{"tok_late", "tok_ontime", "tok_nosched"}) {
		t.Errorf("token sections = %v", sections)
	}
	if !slices.Equal(lateSections, []string{"tok_late"}) || !slices.Equal(lateRows, []string{"tok_late:rotation"}) ||
		!slices.Equal(lateRects, []string{"tok_late"}) {
		t.Errorf("late marks: sections %v, rows %v, timeline bars %v; want exactly tok_late's one rotation", lateSections, lateRows, lateRects)
	}
}

func TestRender_unknownFormat(t *testing.T) {
	err := Render(&bytes.Buffer{}, Report{}, "pdf")
	if err == nil || err.Error() != `unknown report format "pdf": use one of markdown, json, html` {
		t.Fatalf("Render pdf = %v", err)
	}
}

func walk(n *html.Node, f func(*html.Node)) {
	f(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

func find(n *html.Node, pred func(*html.Node) bool) *html.Node {
	if n.Type == html.ElementNode && pred(n) {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if m := find(c, pred); m != nil {
			return m
		}
	}
	return nil
}

func attr(n *html.Node, key string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func text(n *html.Node) string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	walk(n, func(c *html.Node) {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	})
	return b.String()
}

func TestBuildTimeline_denseRotationsKeepLabelsApart(t *testing.T) {
	f := &fixture{tokens: []wire.Token{{ID: "tok_daily", Name: "daily", Owner: "o", Status: "revoked",
		Rotation: &wire.Rotation{Interval: "1d"}, CreatedAt: t0, ExpiresAt: day(90), RevokedAt: ptr(day(61)), SecretVersion: 61}}}
	for i := 1; i <= 60; i++ {
		at := day(i)
		if i == 30 {
			at = at.Add(3 * time.Hour) // the one late rotation
		}
		f.rotate("tok_daily", at, i+1)
	}
	tr := byID(t, f.build(t, day(100), time.Time{}), "tok_daily")
	if tr.LateGaps != 1 || tr.Open.UntilReason != EndRevoked {
		t.Fatalf("daily token: %d late gaps, open period %+v", tr.LateGaps, tr.Open)
	}
	tl := buildTimeline(tr)
	var circles, dues int
	for _, m := range tl.Marks {
		if m.Class == "rotation" {
			circles++
		}
	}
	dues = len(tl.Dues)
	if circles != 60 || dues != 1 {
		t.Errorf("timeline has %d rotation dots and %d due lines, want 60 and 1", circles, dues)
	}
	var versionXs []float64
	for _, l := range tl.Labels {
		if l.Class == "lbl" && strings.HasPrefix(l.Text, "v") {
			versionXs = append(versionXs, l.X)
		}
	}
	if len(versionXs) < 5 || len(versionXs) >= 60 {
		t.Fatalf("%d of 60 rotations labelled; want some, thinned", len(versionXs))
	}
	for i := 1; i < len(versionXs); i++ {
		if versionXs[i]-versionXs[i-1] < tlMinLabelGap {
			t.Errorf("labels at %.1f and %.1f overlap", versionXs[i-1], versionXs[i])
		}
	}
	if last := tl.Labels[len(tl.Labels)-2]; last.Text != "revoked" || last.Anchor != "start" {
		t.Errorf("end label = %+v, want \"revoked\" right of the bar", last)
	}
}

func ptr[T any](v T) *T { return &v }
