package main

import (
	"context"
	"os"
	"strings"
	"testing"
)

// TestMappingGuide_isCurrent: the committed guide template and the rendered docs page are
// what the bundle's METADATA and provisions table render today, and the guide states the
// pinpoints and which numbers are tokenguard defaults.
func TestMappingGuide_isCurrent(t *testing.T) {
	want, err := render(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := os.ReadFile("../../../templates/guides/cpra-mapping.md.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	if string(tmpl) != string(want) {
		t.Fatal("templates/guides/cpra-mapping.md.tmpl is stale: run `make generate` and commit the result")
	}
	doc, err := os.ReadFile("../../../docs/guides/cpra-mapping.md")
	if err != nil {
		t.Fatal(err)
	}
	// tfplugindocs copies the template's body after its front matter.
	_, body, _ := strings.Cut(string(want), "\n---\n")
	if !strings.Contains(string(doc), body) {
		t.Fatal("docs/guides/cpra-mapping.md is stale: run `make generate` and commit the result")
	}
	for _, s := range []string{
		"| CPRA-SEC-001 | **Cal. Civ. Code 1798.100(e)**:", "**11 CCR 7022(e)**", "**11 CCR 7027(m)**",
		"Threshold `ttl_max_days, ttl_max_days_sensitive`: tokenguard default, configurable",
		"| CPRA-RET-004 | none: configuration hygiene |", "certified from 2028",
	} {
		if !strings.Contains(string(want), s) {
			t.Errorf("the guide lacks %q", s)
		}
	}
	if strings.Contains(string(want), "1798.185") || strings.Contains(string(want), "1798.150") {
		t.Error("the guide still cites 1798.185 or 1798.150")
	}
}
