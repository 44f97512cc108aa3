// Package policies is the CPRA bundle: the Rego v1 rule modules that check
// API tokens against the California Privacy Rights Act, their default data
// (thresholds, category vocabulary, generic purposes, erased subjects) and
// their tests, embedded so every gate runs the same bundle.
package policies

import "embed"

// FS holds every rule module (*.rego), its tests (*_test.rego) and the
// default data document (data.json) and the table of the provisions the
// rules cite (provisions.yaml) at the root of the file system. The
// policy engine loads the modules without the tests; `tokenguard policy
// test` runs the tests too.
//
//go:embed *.rego data.json provisions.yaml
var FS embed.FS
