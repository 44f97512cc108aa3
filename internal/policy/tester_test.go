package policy

import (
	"context"
	"os"
	"strings"
	"testing"
)

func TestRunTests_bundleAndUserTests(t *testing.T) {
	rep, err := RunTests(context.Background(), Options{Bundle: os.DirFS("testdata/bundle"), ExtraPolicyDirs: []string{"testdata/userpolicy", "testdata/failingpolicy"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, r := range rep.Results {
		lines = append(lines, r.File+" "+r.Name+" "+map[bool]string{true: "PASS", false: "FAIL"}[r.Passed])
	}
	want := []string{
		"policies/purpose_test.rego test_generic_purpose_denied PASS",
		"policies/purpose_test.rego test_specific_purpose_allowed PASS",
		"testdata/failingpolicy/broken_test.rego test_passes PASS",
		"testdata/failingpolicy/broken_test.rego test_fails FAIL",
		"testdata/userpolicy/labels_test.rego test_missing_label PASS",
		"testdata/userpolicy/labels_test.rego test_bundle_data_visible PASS",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("results:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if rep.Failed() != 1 {
		t.Errorf("Failed() = %d", rep.Failed())
	}
	cov := map[string]float64{}
	for _, c := range rep.Coverage {
		cov[c.File] = c.Percent
	}
	if cov["policies/purpose.rego"] != 100 || cov["policies/expiry.rego"] != 0 {
		t.Errorf("coverage = %v", rep.Coverage)
	}
}

func TestRunTests_embeddedBundlePasses(t *testing.T) {
	rep, err := RunTests(context.Background(), Options{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) == 0 || rep.Failed() != 0 {
		t.Errorf("%d tests, %d failed", len(rep.Results), rep.Failed())
	}
}
