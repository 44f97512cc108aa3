package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// BundleInfo identifies the policies an Engine was built from, for evidence: which sources,
// exactly, and the thresholds they run with.
type BundleInfo struct {
	// Digest is the hex SHA-256 of one line per source file, sorted by path,
	// "<sha256 of the file's bytes>  <path>\n" (the format of sha256sum), followed by the
	// line "data <canonical JSON of the merged data document>\n". Two engines with the same
	// digest evaluate the same modules with the same data (policy data files included).
	Digest string `json:"digest"`
	// Files are the source files with their SHA-256, sorted by path.
	Files []BundleFile `json:"files"`
	// Thresholds are data.tokenguard.thresholds as in force (data files merged).
	Thresholds map[string]any `json:"thresholds"`
}

// BundleFile is one source file of a bundle.
type BundleFile struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// Bundle returns the digest, sources and thresholds of the engine's policies.
func (e *Engine) Bundle() BundleInfo {
	b := e.bundle
	b.Files = slices.Clone(b.Files)
	b.Thresholds = copyJSON(b.Thresholds)
	return b
}

func fileSum(src []byte) string {
	sum := sha256.Sum256(src)
	return hex.EncodeToString(sum[:])
}

// info computes the BundleInfo of s.
func (s *sources) info() BundleInfo {
	var b BundleInfo
	var lines strings.Builder
	for _, path := range slices.Sorted(maps.Keys(s.sums)) {
		b.Files = append(b.Files, BundleFile{Path: path, SHA256: s.sums[path]})
		fmt.Fprintf(&lines, "%s  %s\n", s.sums[path], path)
	}
	// encoding/json sorts object keys, and the data holds only JSON values: canonical.
	data, err := json.Marshal(s.data)
	if err != nil {
		data = []byte(fmt.Sprintf("unencodable: %v", err))
	}
	fmt.Fprintf(&lines, "data %s\n", data)
	b.Digest = fileSum([]byte(lines.String()))
	if tg, ok := s.data["tokenguard"].(map[string]any); ok {
		if th, ok := tg["thresholds"].(map[string]any); ok {
			b.Thresholds = copyJSON(th)
		}
	}
	if b.Thresholds == nil {
		b.Thresholds = map[string]any{}
	}
	return b
}

// copyJSON is a deep copy of a JSON object (numbers become float64), so callers cannot
// change the engine's data through it.
func copyJSON(m map[string]any) map[string]any {
	out := map[string]any{}
	raw, err := json.Marshal(m)
	if err == nil {
		err = json.Unmarshal(raw, &out)
	}
	if err != nil {
		return map[string]any{}
	}
	return out
}
