package cli

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/server"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/testenv"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

var rotT0 = time.Date(2030, 5, 1, 10, 0, 0, 0, time.UTC)

// rotationWorld: two tokens with a 7-day interval; "orders-sync" is rotated on days 6 and 12
// (on time), "billing-export" on day 10 (late); "reporting" declares no interval. The
// report runs on day 13.
type rotationWorld struct {
	svc     *servertest.Service
	clock   *servertest.Clock
	onTime  string
	late    string
	noSched string
	secrets []string
}

func newRotationWorld(t *testing.T) *rotationWorld {
	t.Helper()
	w := &rotationWorld{clock: servertest.NewClock(rotT0)}
	// "reporting" declares no rotation schedule on purpose (CPRA-ROT-001 at the policy gate): the report's subject.
	w.svc = servertest.Start(t, servertest.Options{Now: w.clock.Now, PolicyEnforcement: server.PolicyOff})
	c := w.svc.Client(t)
	ctx := context.Background()
	create := func(name string, rot *wire.Rotation) string {
		tok, err := c.CreateToken(ctx, wire.CreateTokenRequest{Name: name, Owner: "team-" + name, Purpose: "sync paid orders to the warehouse system",
			Scopes: []string{"orders:read"}, DataCategories: []string{"commercial"}, Rotation: rot, TTL: "60d"}, "")
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		w.secrets = append(w.secrets, tok.Secret)
		return tok.ID
	}
	weekly := &wire.Rotation{Interval: "7d", Overlap: "1h"}
	w.onTime = create("orders-sync", weekly)
	w.late = create("billing-export", weekly)
	w.noSched = create("reporting", nil)
	rotate := func(id string) {
		tok, err := c.RotateToken(ctx, id, wire.RotateRequest{}, "")
		if err != nil {
			t.Fatalf("rotate: %v", err)
		}
		w.secrets = append(w.secrets, tok.Secret)
	}
	at := func(days int) { w.clock.Set(rotT0.Add(time.Duration(days) * 24 * time.Hour)) }
	at(6)
	rotate(w.onTime)
	at(10)
	rotate(w.late)
	at(12)
	rotate(w.onTime)
	at(13)
	w.secrets = append(w.secrets, w.svc.AdminToken)
	t.Setenv("TOKENGUARD_ENDPOINT", w.svc.URL)
	t.Setenv("TOKENGUARD_TOKEN", w.svc.AdminToken)
	t.Setenv("TOKENGUARD_KEY_FILE", w.svc.KeyPath) // the audit chain's HMACs are verified with it
	return w
}

func (w *rotationWorld) report() func(*streams) *cobra.Command {
	return func(s *streams) *cobra.Command { return newReportCommandWithClock(s, w.clock.Now) }
}

func (w *rotationWorld) noSecrets(t *testing.T, what, s string) {
	t.Helper()
	for _, secret := range w.secrets {
		if strings.Contains(s, secret) {
			t.Errorf("a secret appears in the %s", what)
		}
	}
}

func TestReportRotation_jsonMarksExactlyTheLateToken(t *testing.T) {
	w := newRotationWorld(t)
	code, out, errs := runSubcommand(t, w.report(), "report", "rotation", "--format", "json")
	if code != 0 {
		t.Fatalf("report rotation --format json = %d %s", code, errs)
	}
	w.noSecrets(t, "JSON report", out)
	var rep struct {
		GeneratedAt time.Time `json:"generated_at"`
		AuditChain  struct {
			Verified bool
			Records  int64
		} `json:"audit_chain"`
		Tokens []struct {
			ID        string
			Schedule  string
			Interval  string `json:"rotation_interval"`
			Overlap   string `json:"rotation_overlap"`
			Rotations []struct {
				At            time.Time
				Late          bool
				SecretVersion int `json:"secret_version"`
			}
			Open struct{ Late bool } `json:"open_period"`
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("JSON report: %v\n%s", err, out)
	}
	// 1 bootstrap + 3 creates + 3 rotations.
	if !rep.AuditChain.Verified || rep.AuditChain.Records != 7 || !rep.GeneratedAt.Equal(rotT0.Add(13*24*time.Hour)) {
		t.Errorf("chain = %+v, generated %v", rep.AuditChain, rep.GeneratedAt)
	}
	var lateGaps, schedules []string
	for _, tk := range rep.Tokens {
		schedules = append(schedules, tk.ID+"="+tk.Schedule)
		for _, r := range tk.Rotations {
			if r.Late {
				lateGaps = append(lateGaps, tk.ID+"@"+r.At.Format(time.DateOnly))
			}
		}
		if tk.Open.Late {
			lateGaps = append(lateGaps, tk.ID+"@open")
		}
		if tk.ID == w.onTime && (len(tk.Rotations) != 2 || tk.Rotations[1].SecretVersion != 3 || tk.Interval != "7d" || tk.Overlap != "1h") {
			t.Errorf("on-time token = %+v", tk)
		}
	}
	if want := []string{w.late + "@2030-05-11"}; !slices.Equal(lateGaps, want) {
		t.Errorf("late gaps = %v, want %v", lateGaps, want)
	}
	slices.Sort(schedules)
	want := []string{w.late + "=late", w.onTime + "=on_schedule", w.noSched + "=no_schedule"}
	slices.Sort(want)
	if !slices.Equal(schedules, want) {
		t.Errorf("schedules = %v, want %v", schedules, want)
	}
}

func TestReportRotation_markdownMarksExactlyTheLateToken(t *testing.T) {
	w := newRotationWorld(t)
	code, out, errs := runSubcommand(t, w.report(), "report", "rotation")
	if code != 0 {
		t.Fatalf("report rotation = %d %s", code, errs)
	}
	w.noSecrets(t, "markdown report", out)
	if !strings.HasPrefix(out, "# Token rotation evidence\n\n**Audit chain verified: 7 records") {
		t.Fatalf("markdown does not start with the chain result:\n%s", out)
	}
	var late []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "LATE") {
			late = append(late, l)
		}
	}
	want := []string{
		"| `" + w.late + "` | billing-export | team-billing-export | active | 7d | 1h | 1 | 1 | **LATE** |",
		"Owner team-billing-export, status active, created 2030-05-01T10:00:00Z. Declared interval 7d, overlap 1h. Verdict: **LATE**: 1 gap(s) longer than the interval.",
		"| 1 | 2030-05-01T10:00:00Z | 2030-05-11T10:00:00Z (audit #6, v2, by ",
	}
	if len(late) != 3 || late[0] != want[0] || late[1] != want[1] || !strings.HasPrefix(late[2], want[2]) || !strings.HasSuffix(late[2], "| 10d | 2030-05-08T10:00:00Z | **LATE** |") {
		t.Errorf("lines saying LATE:\n%s\nwant:\n%s", strings.Join(late, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(out, "## reporting (`"+w.noSched+"`)\n\nOwner team-reporting, status active, created 2030-05-01T10:00:00Z. No rotation interval declared") {
		t.Errorf("token without interval not listed as such:\n%s", out)
	}

	// --since after the late rotation: the late gap is outside the window.
	code, out, errs = runSubcommand(t, w.report(), "report", "rotation", "--since", "2030-05-12")
	if code != 0 || strings.Contains(out, "LATE") || !strings.Contains(out, "covers rotations since 2030-05-12T00:00:00Z") {
		t.Errorf("--since 2030-05-12 = %d %s\n%s", code, errs, out)
	}
}

// TestReportRotation_failOnLateExitsOneOnlyWhenARotationWasLate: the report is still written,
// and the exit code lets a scheduled job fail on late rotations.
func TestReportRotation_failOnLateExitsOneOnlyWhenARotationWasLate(t *testing.T) {
	w := newRotationWorld(t)
	code, out, errs := runSubcommand(t, w.report(), "report", "rotation", "--fail-on-late")
	if code != ExitFindings || !strings.Contains(errs, "--fail-on-late: 1 rotation(s) late") || !strings.Contains(out, "**LATE**") {
		t.Errorf("--fail-on-late with a late rotation = %d %q (report written: %v)", code, errs, strings.Contains(out, "LATE"))
	}
	code, out, errs = runSubcommand(t, w.report(), "report", "rotation", "--fail-on-late", "--since", "2030-05-12")
	if code != ExitOK || errs != "" || out == "" {
		t.Errorf("--fail-on-late with no late rotation in the window = %d %q", code, errs)
	}
}

// headless runs chromium without network services on file and returns its stdout.
func headless(t *testing.T, browser string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a hang guard, not a timing assertion
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, browser, append(base, args...)...) //nolint:gosec // G204: the headless browser the test found, with the test's own flags
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return string(out)
}

func TestReportRotation_htmlRendersInChromiumWithEveryTokenAndNoSecret(t *testing.T) {
	browser := testenv.Chromium(t)
	w := newRotationWorld(t)
	path := filepath.Join(t.TempDir(), "rotation.html")
	code, _, errs := runSubcommand(t, w.report(), "report", "rotation", "--format", "html", "--output", path)
	if code != 0 {
		t.Fatalf("report rotation --format html = %d %s", code, errs)
	}
	if want := "wrote the rotation report (html, 3 tokens, 1 late) to " + path + "\n"; errs != want {
		t.Errorf("stderr = %q, want %q", errs, want)
	}
	raw, err := os.ReadFile(path) //nolint:gosec // G304: the report file in the test's temporary directory
	if err != nil {
		t.Fatal(err)
	}
	page := string(raw)
	w.noSecrets(t, "HTML file", page)
	if m := regexp.MustCompile(`(?i)https?://`).FindString(page); m != "" {
		t.Errorf("the HTML report holds a URL (%q): it must be self-contained", m)
	}

	dom := headless(t, browser, "--dump-dom", "file://"+path)
	w.noSecrets(t, "rendered page", dom)
	for _, id := range []string{w.onTime, w.late, w.noSched} {
		if !strings.Contains(dom, `<section class="token" id="`+id+`"`) {
			t.Errorf("the rendered page has no section for token %s", id)
		}
	}
	if !strings.Contains(dom, `id="audit-chain">Audit chain verified: 7 records`) {
		t.Errorf("the rendered page does not show the chain result")
	}
	lateSections := regexp.MustCompile(`<section class="token" id="([^"]+)" data-schedule="late"`).FindAllStringSubmatch(dom, -1)
	if len(lateSections) != 1 || lateSections[0][1] != w.late {
		t.Errorf("sections marked late in the rendered page = %v, want only %s", lateSections, w.late)
	}
	if n := strings.Count(dom, `<rect class="seg late`); n != 1 {
		t.Errorf("rendered page has %d late timeline bars, want 1", n)
	}

	// A screenshot proves the page lays out; keep it when asked, to look at.
	shot := filepath.Join(t.TempDir(), "rotation.png")
	headless(t, browser, "--window-size=1000,1400", "--screenshot="+shot, "file://"+path)
	if info, err := os.Stat(shot); err != nil || info.Size() < 10_000 {
		t.Errorf("screenshot: %v (%v)", err, info)
	}
	if keep := os.Getenv("TOKENGUARD_KEEP_SCREENSHOT"); keep != "" {
		b, err := os.ReadFile(shot) //nolint:gosec // G304: the screenshot in the test's temporary directory
		if err == nil {
			err = os.WriteFile(keep, b, 0o600) //nolint:gosec // G703: TOKENGUARD_KEEP_SCREENSHOT names where the developer wants it
		}
		if err != nil {
			t.Errorf("keeping the screenshot at TOKENGUARD_KEEP_SCREENSHOT: %v", err)
		}
	}
}

func TestReportRotation_brokenChainIsReportedAtTheTopAndExitsOne(t *testing.T) {
	w := newRotationWorld(t)
	db, err := sql.Open("sqlite", w.svc.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	res, err := db.Exec(`UPDATE audit SET outcome = 'denied' WHERE seq = 5`)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("tampering updated %d rows", n)
	}
	_ = db.Close()
	code, out, errs := runSubcommand(t, w.report(), "report", "rotation")
	if code != ExitFindings || !strings.Contains(errs, "the audit chain does not verify: audit chain broken at record 5") {
		t.Fatalf("report on a tampered log = %d %q; want exit 1 naming record 5", code, errs)
	}
	if !strings.HasPrefix(out, "# Token rotation evidence\n\n**Audit chain BROKEN: 4 records verified before the break (audit chain broken at record 5: content does not match its hash") {
		t.Errorf("the report does not open with the broken chain:\n%s", out)
	}
}

func TestReportRotation_rejectsBadFlags(t *testing.T) {
	t.Setenv("TOKENGUARD_TOKEN", "unused: every case fails before calling the service")
	now := func() time.Time { return rotT0 }
	cmd := func(s *streams) *cobra.Command { return newReportCommandWithClock(s, now) }
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--format", "pdf"}, `--format "pdf": use one of markdown, json, html`},
		{[]string{"--since", "May 1st"}, `--since "May 1st": use a date such as 2030-01-31 or an RFC 3339 instant`},
		{[]string{"--since", "2030-06-01"}, "--since 2030-06-01 is in the future"},
	} {
		code, out, errs := runSubcommand(t, cmd, append([]string{"report", "rotation"}, tc.args...)...)
		if code != ExitUsage || out != "" || !strings.Contains(errs, tc.want) {
			t.Errorf("report rotation %v = %d %q %q; want exit 2 with %q", tc.args, code, out, errs, tc.want)
		}
	}
}

func TestParseSince(t *testing.T) {
	for in, want := range map[string]time.Time{
		"2030-05-12":                time.Date(2030, 5, 12, 0, 0, 0, 0, time.UTC),
		"2030-05-12T09:30:00+02:00": time.Date(2030, 5, 12, 7, 30, 0, 0, time.UTC),
	} {
		if got, err := parseSince(in); err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("parseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}
