package evidencepack

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

//go:embed index.html.tmpl
var indexSource string

// indexTemplate is parsed once; html/template escapes every value from the service.
var indexTemplate = template.Must(template.New("index").Funcs(template.FuncMap{
	"stamp": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"stampp": func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	},
	"short": func(h string) string {
		if len(h) > 16 {
			return h[:16]
		}
		return h
	},
	"threshold": func(v any) string { return fmt.Sprint(v) },
}).Parse(indexSource))

// indexRows is the most rows a table of index.html shows; the rest is in the part it links.
const indexRows = 1000

type indexFile struct {
	Name, SHA256 string
	Bytes        int
}

type indexThreshold struct {
	Name  string
	Value any
}

type indexView struct {
	Input
	Statuses          map[string]int
	Deletions         []wire.DeletionEvidence
	MoreDeletions     int
	Renewals          []wire.Renewal
	MoreRenewals      int
	Thresholds        []indexThreshold
	Files             []indexFile
	CitationCount     int
	InventoryCount    int
	InventoryName     string
	RotationHTMLName  string
	RotationJSONName  string
	DeletionsName     string
	RenewalsName      string
	PolicyName        string
	CheckpointName    string
	CitationsName     string
	ManifestName      string
	CheckpointIsHead  bool
	PolicyEnforcement string
}

func renderIndex(w io.Writer, in Input, parts Pack) error {
	v := indexView{Input: in, Statuses: map[string]int{}, InventoryCount: len(in.Inventory),
		InventoryName: InventoryName, RotationHTMLName: RotationHTML, RotationJSONName: RotationJSON,
		DeletionsName: DeletionsName, RenewalsName: RenewalsName, PolicyName: PolicyName,
		CheckpointName: CheckpointName, CitationsName: CitationsName, ManifestName: ManifestName,
		CheckpointIsHead: in.Checkpoint.Kind == CheckpointHead, CitationCount: len(in.Citations),
		PolicyEnforcement: in.Policy.Enforcement}
	for _, t := range in.Inventory {
		v.Statuses[t.Status]++
	}
	v.Deletions = in.Deletions[:min(len(in.Deletions), indexRows)]
	v.MoreDeletions = len(in.Deletions) - len(v.Deletions)
	v.Renewals = in.Renewals[:min(len(in.Renewals), indexRows)]
	v.MoreRenewals = len(in.Renewals) - len(v.Renewals)
	if in.Policy.Bundle != nil {
		for _, k := range slices.Sorted(maps.Keys(in.Policy.Bundle.Thresholds)) {
			v.Thresholds = append(v.Thresholds, indexThreshold{Name: k, Value: in.Policy.Bundle.Thresholds[k]})
		}
	}
	for name, b := range parts {
		v.Files = append(v.Files, indexFile{Name: name, SHA256: sum(b), Bytes: len(b)})
	}
	sort.Slice(v.Files, func(i, j int) bool { return v.Files[i].Name < v.Files[j].Name })
	return indexTemplate.Execute(w, v)
}
