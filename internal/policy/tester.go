package policy

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"

	"github.com/tokenguard/terraform-provider-tokenguard/policies"
)

// TestResult is the outcome of one Rego test rule.
type TestResult struct {
	Package string // e.g. "data.tokenguard.cpra.min_purpose_test"
	Name    string // e.g. "test_generic_purpose_denied"
	File    string
	Row     int
	Passed  bool
	Skipped bool
	// Error is set when the test could not be evaluated (a runtime error, a timeout).
	Error string
	// Output is what the test printed with print().
	Output string
}

// FileCoverage is the share of a policy file's expressions that the tests evaluated.
type FileCoverage struct {
	File    string
	Percent float64
}

// TestReport holds the results of RunTests in file, row order.
type TestReport struct {
	Results  []TestResult
	Coverage []FileCoverage
}

// Failed counts the tests that did not pass and were not skipped.
func (r TestReport) Failed() int {
	n := 0
	for _, t := range r.Results {
		if !t.Passed && !t.Skipped {
			n++
		}
	}
	return n
}

// RunTests runs the test_ rules of the bundle and of o.ExtraPolicyDirs with OPA's tester,
// the bundle's modules and data (merged with o.DataFiles) visible to every test. With
// coverage set it also reports the coverage of each file.
func RunTests(ctx context.Context, o Options, coverage bool) (TestReport, error) {
	bundle := o.Bundle
	if bundle == nil {
		bundle = policies.FS
	}
	src, err := loadSources(bundle, o.ExtraPolicyDirs, o.DataFiles, true)
	if err != nil {
		return TestReport{}, err
	}
	store := inmem.NewFromObject(src.data)
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return TestReport{}, fmt.Errorf("policy test: %w", err)
	}
	defer store.Abort(ctx, txn)
	runner := tester.NewRunner().
		SetDefaultRegoVersion(ast.RegoV1).
		SetStore(store).
		SetModules(src.modules).
		CapturePrintOutput(true).
		RaiseBuiltinErrors(true)
	var cov *cover.Cover
	if coverage {
		cov = cover.New()
		runner.SetCoverageQueryTracer(cov).SetCoverageRuns(nil)
	}
	ch, err := runner.RunTests(ctx, txn)
	if err != nil {
		var errs ast.Errors
		if errors.As(err, &errs) {
			return TestReport{}, compileError(errs)
		}
		return TestReport{}, fmt.Errorf("policy test: %s", oneLine(err))
	}
	var rep TestReport
	for r := range ch {
		tr := TestResult{Package: r.Package, Name: r.Name, Passed: r.Pass(), Skipped: r.Skip, Output: string(r.Output)}
		if r.Location != nil {
			tr.File, tr.Row = r.Location.File, r.Location.Row
		}
		if r.Error != nil {
			tr.Error = oneLine(r.Error)
			tr.Passed = false
		}
		rep.Results = append(rep.Results, tr)
	}
	if err := ctx.Err(); err != nil {
		return TestReport{}, err
	}
	sort.Slice(rep.Results, func(i, j int) bool {
		a, b := rep.Results[i], rep.Results[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Row < b.Row
	})
	if cov != nil {
		report := cov.Report(src.modules)
		for file, fr := range report.Files {
			if strings.HasSuffix(file, "_test.rego") {
				continue
			}
			rep.Coverage = append(rep.Coverage, FileCoverage{File: file, Percent: fr.Coverage})
		}
		sort.Slice(rep.Coverage, func(i, j int) bool { return rep.Coverage[i].File < rep.Coverage[j].File })
	}
	return rep, nil
}
