package evidence

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// Stream builds the report one token at a time, for services too large to hold every
// token's report in memory (the evidence pack): Add measures a token and spools its JSON, its
// summary row and its HTML section to temporary files; Finish writes the report in JSON and
// HTML, the same shapes Render writes, with the summary first. Tokens appear in the order
// they were added, not sorted by name as Build sorts them. Close removes the temporary files.
type Stream struct {
	rep   Report // the header and the summary; Tokens stays empty
	spool [3]*os.File
	bufs  [3]*bufio.Writer
}

// The spooled parts of a Stream.
const (
	spoolJSON = iota
	spoolRows
	spoolSections
)

// NewStream starts a report of the chain chain at now, spooling to temporary files in dir.
func NewStream(dir string, chain Chain, now time.Time) (*Stream, error) {
	s := &Stream{rep: Report{GeneratedAt: now.UTC(), AuditChain: chain, Tokens: []TokenReport{}}}
	for i := range s.spool {
		f, err := os.CreateTemp(dir, ".rotation-*.tmp")
		if err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("rotation report: %w", err)
		}
		s.spool[i], s.bufs[i] = f, bufio.NewWriterSize(f, 64<<10)
	}
	return s, nil
}

// Add measures t's rotations (recs, in sequence order) and spools its parts of the report.
func (s *Stream) Add(t wire.Token, recs []RotationRecord) error {
	tr, _, err := buildToken(t, recs, s.rep.GeneratedAt, time.Time{})
	if err != nil {
		return err
	}
	s.rep.Summary.Tokens++
	switch tr.Schedule {
	case ScheduleOnTime:
		s.rep.Summary.OnSchedule++
	case ScheduleLate:
		s.rep.Summary.Late++
	default:
		s.rep.Summary.NoSchedule++
	}
	row, err := json.MarshalIndent(tr, "    ", "  ")
	if err != nil {
		return err
	}
	if s.rep.Summary.Tokens > 1 {
		_, _ = s.bufs[spoolJSON].WriteString(",")
	}
	_, _ = s.bufs[spoolJSON].WriteString("\n    ")
	_, _ = s.bufs[spoolJSON].Write(row) // a bufio.Writer keeps its first error for Flush
	ht := htmlToken{TokenReport: tr, Timeline: buildTimeline(tr)}
	if err := htmlTemplate.ExecuteTemplate(s.bufs[spoolRows], "row", ht); err != nil {
		return err
	}
	return htmlTemplate.ExecuteTemplate(s.bufs[spoolSections], "section", ht)
}

// Finish writes the whole report as JSON to jsonOut and as HTML to htmlOut, and returns its
// summary.
func (s *Stream) Finish(jsonOut, htmlOut io.Writer) (Summary, error) {
	for i, b := range s.bufs {
		if err := b.Flush(); err != nil {
			return Summary{}, err
		}
		if _, err := s.spool[i].Seek(0, io.SeekStart); err != nil {
			return Summary{}, err
		}
	}
	// JSON: the report with no tokens, its empty list replaced by the spooled one.
	var head bytes.Buffer
	if err := renderJSON(&head, s.rep); err != nil {
		return Summary{}, err
	}
	before, after, ok := bytes.Cut(head.Bytes(), []byte(`"tokens": []`))
	if !ok {
		return Summary{}, errors.New("rotation report: the JSON encoding has no token list")
	}
	if _, err := jsonOut.Write(append(before, `"tokens": [`...)); err != nil {
		return Summary{}, err
	}
	if _, err := io.Copy(jsonOut, s.spool[spoolJSON]); err != nil {
		return Summary{}, err
	}
	closing := "]"
	if s.rep.Summary.Tokens > 0 {
		closing = "\n  ]"
	}
	if _, err := jsonOut.Write(append([]byte(closing), after...)); err != nil {
		return Summary{}, err
	}

	page := htmlPage{Report: s.rep, ChainSentence: chainSentence(s.rep.AuditChain), WindowSentence: windowSentence(s.rep),
		SummarySentence: summarySentence(s.rep.Summary)}
	if err := htmlTemplate.ExecuteTemplate(htmlOut, "head", page); err != nil {
		return Summary{}, err
	}
	if s.rep.Summary.Tokens > 0 {
		if err := htmlTemplate.ExecuteTemplate(htmlOut, "table-open", page); err != nil {
			return Summary{}, err
		}
		if _, err := io.Copy(htmlOut, s.spool[spoolRows]); err != nil {
			return Summary{}, err
		}
		if err := htmlTemplate.ExecuteTemplate(htmlOut, "table-close", page); err != nil {
			return Summary{}, err
		}
	}
	if _, err := io.Copy(htmlOut, s.spool[spoolSections]); err != nil {
		return Summary{}, err
	}
	if err := htmlTemplate.ExecuteTemplate(htmlOut, "foot", page); err != nil {
		return Summary{}, err
	}
	return s.rep.Summary, nil
}

// Close removes the temporary files. Call it once the stream is finished or abandoned.
func (s *Stream) Close() error {
	var errs []error
	for _, f := range s.spool {
		if f == nil {
			continue
		}
		errs = append(errs, f.Close(), os.Remove(f.Name()))
	}
	return errors.Join(errs...)
}
