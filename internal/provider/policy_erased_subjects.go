package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"sigs.k8s.io/yaml"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
)

// The provider gate learns which data subjects have a pending or complete deletion request
// (CPRA-DEL-001) from the token service, once per Configure. The list is personal data: it is
// handed to the engine through a private temporary data file that is removed as soon as the
// engine is compiled, it is kept in memory only inside the compiled engine (the engine cache
// is keyed by a hash of it), and it never appears in a diagnostic.

// subjectSource returns the erased data subjects of the token service
// (wire.ErasedSubjects).
type subjectSource func(context.Context) ([]string, error)

// clientSubjects is the subjectSource of a configured client; nil without a client.
func clientSubjects(c *client.Client) subjectSource {
	if c == nil {
		return nil
	}
	return c.ErasedSubjects
}

// fetchErasedSubjects asks the service for the erased subjects. It returns nil when there is
// no source or the service could not answer: with mandatory enforcement that is an error (a
// plan must not pass CPRA-DEL-001 by not knowing), with advisory enforcement a warning.
func fetchErasedSubjects(ctx context.Context, source subjectSource, mode string, diags *diag.Diagnostics) []string {
	if source == nil {
		return nil
	}
	subjects, err := source(ctx)
	if err == nil {
		if subjects == nil {
			subjects = []string{}
		}
		return subjects
	}
	const summary = "Unable To Read Erased Data Subjects"
	detail := clientErrorDetail("reading the erased data subjects", err) + " The policy gate needs the data subjects with " +
		"a deletion request (GET /v1/deletion-requests/erased-subjects) to enforce CPRA-DEL-001. "
	if mode == enforcementAdvisory {
		diags.AddWarning(summary, detail+"Policy enforcement is advisory, so the plan goes on without that rule; "+
			"the token service still judges CPRA-DEL-001 when the apply reaches it (under its mandatory default it refuses "+
			"a token for an erased subject), and `tokenguard check --service` in CI checks it too.")
		return nil
	}
	diags.AddError(summary, detail+"(Or set policy.enforcement = \"advisory\" to continue without the rule.)")
	return nil
}

// dataFileSubjects reads tokenguard.erased_subjects from the provider's policy.data_file, so
// the service's list adds to it rather than replacing it (the engine merges data files key by
// key and replaces arrays). An unreadable or malformed file yields nil here: the engine
// reports it with its own error when it loads the same file.
func dataFileSubjects(file string) []string {
	if file == "" {
		return nil
	}
	src, err := os.ReadFile(file) //nolint:gosec // the practitioner names the data file
	if err != nil {
		return nil
	}
	if !strings.HasSuffix(file, ".json") {
		if src, err = yaml.YAMLToJSON(src); err != nil {
			return nil
		}
	}
	var doc struct {
		Tokenguard struct {
			ErasedSubjects []any `json:"erased_subjects"`
		} `json:"tokenguard"`
	}
	if json.Unmarshal(src, &doc) != nil {
		return nil
	}
	var out []string
	for _, s := range doc.Tokenguard.ErasedSubjects {
		if str, ok := s.(string); ok {
			out = append(out, str)
		}
	}
	return out
}

// mergeSubjects returns the sorted union of the lists, never nil.
func mergeSubjects(lists ...[]string) []string {
	out := []string{}
	for _, l := range lists {
		out = append(out, l...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// subjectsHash is the engine cache key part of a merged list: "" when no list is added to
// the data (nil or empty), else a SHA-256 of the sorted subjects.
func subjectsHash(subjects []string) string {
	if len(subjects) == 0 {
		return ""
	}
	h := sha256.New()
	for _, s := range subjects {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// compileWithSubjects compiles the engine with subjects, when there are any, as the last data
// document {"tokenguard": {"erased_subjects": [...]}}: written to a 0600 temporary file that
// is removed once the engine has read it.
func compileWithSubjects(ctx context.Context, opts policy.Options, subjects []string) (*policy.Engine, error) {
	if len(subjects) == 0 {
		return policy.NewEngine(ctx, opts)
	}
	doc, err := json.Marshal(map[string]any{"tokenguard": map[string]any{"erased_subjects": subjects}})
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp("", "tokenguard-erased-subjects-*.json") // created 0600
	if err != nil {
		return nil, fmt.Errorf("writing the erased data subjects for the policy engine: %w", err)
	}
	defer func() { _ = os.Remove(f.Name()) }()
	if _, err := f.Write(doc); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("writing the erased data subjects for the policy engine: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("writing the erased data subjects for the policy engine: %w", err)
	}
	opts.DataFiles = append(slices.Clone(opts.DataFiles), f.Name())
	return policy.NewEngine(ctx, opts)
}
