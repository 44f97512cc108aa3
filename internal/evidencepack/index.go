package evidencepack

import (
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"sort"
	"time"
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
	"b64":       func(b []byte) string { return base64.StdEncoding.EncodeToString(b) },
}).Parse(indexSource))

type indexFile struct {
	Name, SHA256 string
	Bytes        int
}

type indexThreshold struct {
	Name  string
	Value any
}

type indexView struct {
	Summary
	MoreDeletions     int
	MoreRenewals      int
	Thresholds        []indexThreshold
	Files             []indexFile
	InventoryName     string
	RotationHTMLName  string
	RotationJSONName  string
	DeletionsName     string
	RenewalsName      string
	PolicyName        string
	CheckpointName    string
	CitationsName     string
	ManifestName      string
	IssuanceName      string
	PolicyEnforcement string
}

// renderIndex writes index.html over sum and the parts written before it (files).
func renderIndex(w io.Writer, sum Summary, files []File) error {
	if sum.Statuses == nil {
		sum.Statuses = map[string]int{}
	}
	v := indexView{Summary: sum,
		InventoryName: InventoryName, RotationHTMLName: RotationHTML, RotationJSONName: RotationJSON,
		DeletionsName: DeletionsName, RenewalsName: RenewalsName, PolicyName: PolicyName,
		CheckpointName: CheckpointName, CitationsName: CitationsName, ManifestName: ManifestName, IssuanceName: IssuanceName,
		PolicyEnforcement: sum.Policy.Enforcement}
	v.Deletions = sum.Deletions[:min(len(sum.Deletions), IndexRows)]
	v.MoreDeletions = sum.DeletionCount - len(v.Deletions)
	v.Renewals = sum.Renewals[:min(len(sum.Renewals), IndexRows)]
	v.MoreRenewals = sum.RenewalCount - len(v.Renewals)
	if sum.Policy.Bundle != nil {
		for _, k := range slices.Sorted(maps.Keys(sum.Policy.Bundle.Thresholds)) {
			v.Thresholds = append(v.Thresholds, indexThreshold{Name: k, Value: sum.Policy.Bundle.Thresholds[k]})
		}
	}
	for _, f := range files {
		v.Files = append(v.Files, indexFile{Name: f.Path, SHA256: f.SHA256, Bytes: f.Bytes})
	}
	sort.Slice(v.Files, func(i, j int) bool { return v.Files[i].Name < v.Files[j].Name })
	return indexTemplate.Execute(w, v)
}
