package evidence

import (
	"encoding/json"
	"io"
)

// renderJSON writes the report as indented JSON: the Report fields, times in RFC 3339 UTC,
// durations both for people ("10d") and as whole seconds.
func renderJSON(w io.Writer, rep Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
