package evidence

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"time"
)

//go:embed rotation.html.tmpl
var htmlSource string

// htmlTemplate is parsed once; html/template escapes every value from the service.
var htmlTemplate = template.Must(template.New("rotation").Funcs(template.FuncMap{
	"stamp":   stamp,
	"due":     dueText,
	"verdict": Verdict,
	"result":  gapResult,
	"until":   untilLabel,
	"px":      func(f float64) string { return fmt.Sprintf("%.1f", f) },
	"add1":    func(i int) int { return i + 1 },
	"sub":     func(a, b float64) float64 { return a - b },
}).Parse(htmlSource))

// Timeline geometry, in SVG user units.
const (
	tlWidth  = 760.0
	tlMargin = 84.0 // room for the start and end labels beside the bar
	tlBarY   = 30.0
	tlBarH   = 14.0
	tlHeight = 80.0
	// tlMinLabelGap is the least distance between two labelled rotations ("Jan 02" is ~32 units).
	tlMinLabelGap = 40.0
)

type htmlPage struct {
	Report
	ChainSentence   string
	WindowSentence  string
	SummarySentence string
	Tokens          []htmlToken
}

type htmlToken struct {
	TokenReport
	Timeline timeline
}

// timeline is the per-token picture: one bar per gap, a dot per rotation, a dashed line
// where a late gap's rotation was due. Every coordinate is computed here; the template
// only places them.
type timeline struct {
	Width, Height, BarY, BarH, MidY float64
	Label                           string
	Segments                        []segment
	Dues                            []due
	Marks                           []mark
	Labels                          []label
}

type segment struct {
	X, W, TextX float64
	Class       string // "ok", "late", "none", plus " open" for the open period
	Title       string
	Text        string // elapsed time, when the bar is wide enough to hold it
}

type due struct {
	X     float64
	Title string
}

type mark struct {
	X     float64
	Class string // "created", "rotation", "now", "revoked", "expired"
	Title string
}

type label struct {
	X, Y   float64
	Anchor string // SVG text-anchor
	Class  string
	Text   string
}

// renderHTML writes one self-contained HTML page: inline CSS, an inline SVG timeline per
// token, no script and no external reference.
func renderHTML(w io.Writer, rep Report) error {
	page := htmlPage{Report: rep, ChainSentence: chainSentence(rep.AuditChain), WindowSentence: windowSentence(rep),
		SummarySentence: summarySentence(rep.Summary)}
	for _, t := range rep.Tokens {
		page.Tokens = append(page.Tokens, htmlToken{TokenReport: t, Timeline: buildTimeline(t)})
	}
	if err := htmlTemplate.ExecuteTemplate(w, "head", page); err != nil {
		return err
	}
	if len(page.Tokens) > 0 {
		if err := htmlTemplate.ExecuteTemplate(w, "table-open", page); err != nil {
			return err
		}
		for _, t := range page.Tokens {
			if err := htmlTemplate.ExecuteTemplate(w, "row", t); err != nil {
				return err
			}
		}
		if err := htmlTemplate.ExecuteTemplate(w, "table-close", page); err != nil {
			return err
		}
	}
	for _, t := range page.Tokens {
		if err := htmlTemplate.ExecuteTemplate(w, "section", t); err != nil {
			return err
		}
	}
	return htmlTemplate.ExecuteTemplate(w, "foot", page)
}

// buildTimeline lays out t's gaps on a horizontal axis from the first drawn instant to the
// end of its timeline: the start labelled on the left, the end on the right, each rotation
// with its secret version above and its date below.
func buildTimeline(t TokenReport) timeline {
	tl := timeline{Width: tlWidth, Height: tlHeight, BarY: tlBarY, BarH: tlBarH, MidY: tlBarY + tlBarH/2}
	start, end := t.start, t.Open.Until
	if start.IsZero() || start.After(end) {
		start = end
	}
	span := end.Sub(start)
	x := func(at time.Time) float64 {
		if span <= 0 {
			return tlWidth - tlMargin
		}
		return tlMargin + (tlWidth-2*tlMargin)*float64(at.Sub(start))/float64(span)
	}
	day := func(at time.Time) string { return at.UTC().Format("Jan 02") }
	hasInterval := t.Interval != ""
	class := func(late bool) string {
		switch {
		case !hasInterval:
			return "none"
		case late:
			return "late"
		}
		return "ok"
	}
	addSegment := func(from, to time.Time, late, open bool, elapsed, title string) {
		x0, x1 := x(from), x(to)
		sg := segment{X: x0, W: x1 - x0, TextX: (x0 + x1) / 2, Class: class(late), Title: title}
		if open {
			sg.Class += " open"
		}
		if sg.W >= 8*float64(len(elapsed))+8 {
			sg.Text = elapsed
		}
		tl.Segments = append(tl.Segments, sg)
	}

	startText := "created"
	if !start.Equal(t.CreatedAt) {
		startText = "rotated"
	}
	x0 := x(start)
	tl.Marks = append(tl.Marks, mark{X: x0, Class: "created", Title: startText + " " + stamp(start)})
	tl.Labels = append(tl.Labels,
		label{X: x0 - 9, Y: tl.MidY - 2, Anchor: "end", Class: "lbl", Text: startText},
		label{X: x0 - 9, Y: tl.MidY + 11, Anchor: "end", Class: "date", Text: day(start)})

	lastLabelX := x0 - tlMinLabelGap // the start label sits left of the bar, out of the way
	for _, r := range t.Rotations {
		addSegment(r.Previous, r.At, r.Late, false, r.SincePrevious,
			fmt.Sprintf("%s to %s: %s, %s", stamp(r.Previous), stamp(r.At), r.SincePrevious, gapResult(hasInterval, r.Late, false)))
		if r.Late && r.DueAt != nil {
			tl.addDue(x(*r.DueAt), *r.DueAt)
		}
		top := "rotated"
		if r.SecretVersion > 0 {
			top = fmt.Sprintf("v%d", r.SecretVersion)
		}
		xr := x(r.At)
		tl.Marks = append(tl.Marks, mark{X: xr, Class: "rotation", Title: "rotated " + stamp(r.At)})
		// Labels of rotations too close to the previous labelled one would overlap: the dot
		// stays, with its tooltip, and the table below lists every rotation anyway.
		if xr-lastLabelX >= tlMinLabelGap && tlWidth-tlMargin-xr >= tlMinLabelGap/2 {
			tl.Labels = append(tl.Labels,
				label{X: xr, Y: tl.BarY - 8, Anchor: "middle", Class: "lbl", Text: top},
				label{X: xr, Y: tl.BarY + tl.BarH + 16, Anchor: "middle", Class: "date", Text: day(r.At)})
			lastLabelX = xr
		}
	}

	o := t.Open
	addSegment(o.From, o.Until, o.Late, true, o.Elapsed,
		fmt.Sprintf("%s to %s (%s): %s, %s", stamp(o.From), stamp(o.Until), untilLabel(o), o.Elapsed, gapResult(hasInterval, o.Late, true)))
	if o.Late && o.DueAt != nil {
		tl.addDue(x(*o.DueAt), *o.DueAt)
	}
	x1 := x(o.Until)
	tl.Marks = append(tl.Marks, mark{X: x1, Class: o.UntilReason, Title: untilLabel(o) + " " + stamp(o.Until)})
	tl.Labels = append(tl.Labels,
		label{X: x1 + 9, Y: tl.MidY - 2, Anchor: "start", Class: "lbl", Text: untilLabel(o)},
		label{X: x1 + 9, Y: tl.MidY + 11, Anchor: "start", Class: "date", Text: day(o.Until)})
	tl.Label = fmt.Sprintf("Rotation timeline of %s (%s): %d rotation(s), %s", t.Name, t.ID, len(t.Rotations), Verdict(t.Schedule))
	return tl
}

// addDue draws the dashed line where a late rotation was due, labelled at the bottom.
func (tl *timeline) addDue(x float64, at time.Time) {
	tl.Dues = append(tl.Dues, due{X: x, Title: "rotation was due " + stamp(at)})
	tl.Labels = append(tl.Labels, label{X: x, Y: tl.Height - 3, Anchor: "middle", Class: "due-date",
		Text: "due " + at.UTC().Format("Jan 02")})
}
