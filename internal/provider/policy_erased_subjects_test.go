package provider

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
)

// delRuleIDs plans a new token for subjects through gate and returns the rule ids of its
// diagnostics that are CPRA-DEL-001.
func delRuleIDs(t *testing.T, g *policyGate, subjects ...any) []string {
	t.Helper()
	ctx := context.Background()
	var sr resource.SchemaResponse
	(&apiTokenResource{}).Schema(ctx, resource.SchemaRequest{}, &sr)
	typ := tokenType(t)
	after := tokenValue(t, map[string]tftypes.Value{
		"name": tfString("orders-sync"), "owner": tfString("team-orders@example.com"),
		"purpose": tfString("Reads invoice totals for the monthly revenue report"),
		"scopes":  strSet("invoices:read"), "data_categories": strSet("commercial"), "ttl": tfString("30d"),
		"rotation": tftypes.NewValue(typ.AttributeTypes["rotation"], map[string]tftypes.Value{
			"interval": tfString("7d"), "overlap": tfString("1h")}),
		"data_subjects": strSet(subjects...),
		"secret":        tftypes.NewValue(tftypes.String, tftypes.UnknownValue),
	})
	var diags diag.Diagnostics
	g.check(ctx, sr.Schema, plannedToken{actions: []string{"create"}, before: tftypes.NewValue(typ, nil), after: after}, atPlan, &diags)
	var ids []string
	for _, d := range diags {
		if strings.HasPrefix(d.Detail(), "CPRA-DEL-001 ") {
			ids = append(ids, "CPRA-DEL-001")
			if strings.Contains(d.Detail(), "customer:") {
				t.Errorf("the CPRA-DEL-001 diagnostic names a data subject: %s", d.Detail())
			}
		} else {
			t.Errorf("unexpected diagnostic %s: %s", d.Summary(), d.Detail())
		}
	}
	return ids
}

// TestConfigurePolicy_learnsErasedSubjectsFromTheService: the gate blocks a token for a subject
// the service reports as erased, merged with the data file's own list; a new erase gives a new
// engine (the cache key holds the list's hash) and the old one is dropped; the temporary data
// file is gone once the engine is compiled.
func TestConfigurePolicy_learnsErasedSubjectsFromTheService(t *testing.T) {
	ctx := context.Background()
	dataFile := filepath.Join(t.TempDir(), "cpra.yaml")
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // the private data file is written, and removed, here
	var cache engineCache
	now := func() time.Time { return time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) }
	if err := os.WriteFile(dataFile, []byte("tokenguard:\n  erased_subjects: [\"customer:7\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	block, d := types.ObjectValue(policyAttrTypes, map[string]attr.Value{
		"enforcement": types.StringNull(), "paths": types.ListNull(types.StringType),
		"data_file": types.StringValue(dataFile), "waivers_file": types.StringNull(), "existing": types.StringNull(),
	})
	if d.HasError() {
		t.Fatal(d)
	}
	serviceList := []string{"customer:4411"}
	calls := 0
	source := func(context.Context) ([]string, error) {
		calls++
		return slices.Clone(serviceList), nil
	}
	configure := func() *policyGate {
		t.Helper()
		var diags diag.Diagnostics
		g := configurePolicy(ctx, block, &cache, now, source, &diags)
		if diags.HasError() || g == nil {
			t.Fatalf("configurePolicy: %v", diags)
		}
		return g
	}

	first := configure()
	for subject, want := range map[string][]string{
		"customer:4411": {"CPRA-DEL-001"}, // from the service
		"customer:7":    {"CPRA-DEL-001"}, // from the data file, kept alongside the service's list
		"customer:9":    nil,
	} {
		if got := delRuleIDs(t, first, subject); !slices.Equal(got, want) {
			t.Errorf("a new token for %s: %v, want %v", subject, got, want)
		}
	}
	if again := configure(); again.engine != first.engine {
		t.Error("the same erased subjects compiled the bundle again")
	}

	serviceList = append(serviceList, "customer:9") // a new erase
	second := configure()
	if second.engine == first.engine {
		t.Fatal("a new erased subject reused the engine compiled without it")
	}
	if got := delRuleIDs(t, second, "customer:9"); !slices.Equal(got, []string{"CPRA-DEL-001"}) {
		t.Errorf("a new token for the newly erased subject: %v, want [CPRA-DEL-001]", got)
	}
	if len(cache.engines) != 1 || calls != 3 {
		t.Errorf("cache holds %d engines after %d fetches, want 1 (the old list's engine dropped) after 3 (one per Configure)", len(cache.engines), calls)
	}
	left, err := os.ReadDir(tmp)
	if err != nil || len(left) != 0 {
		t.Errorf("temporary files left behind: %v %v", left, err)
	}
}

func TestConfigurePolicy_erasedSubjectsUnavailable(t *testing.T) {
	ctx := context.Background()
	now := func() time.Time { return time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) }
	failing := func(context.Context) ([]string, error) {
		return nil, &client.ResponseError{StatusCode: http.StatusForbidden, Code: "forbidden", Message: "admin credential required"}
	}
	block := func(enforcement string) types.Object {
		v, d := types.ObjectValue(policyAttrTypes, map[string]attr.Value{
			"enforcement": types.StringValue(enforcement), "paths": types.ListNull(types.StringType),
			"data_file": types.StringNull(), "waivers_file": types.StringNull(), "existing": types.StringNull(),
		})
		if d.HasError() {
			t.Fatal(d)
		}
		return v
	}
	var cache engineCache

	var mandatory diag.Diagnostics
	if g := configurePolicy(ctx, block(enforcementMandatory), &cache, now, failing, &mandatory); g != nil || len(mandatory) != 1 ||
		mandatory[0].Severity() != diag.SeverityError || mandatory[0].Summary() != "Unable To Read Erased Data Subjects" ||
		!strings.Contains(mandatory[0].Detail(), "HTTP 403 (forbidden): admin credential required") {
		t.Errorf("mandatory gate without the service's list = %v, %v; want no gate and one error naming HTTP 403", g, mandatory)
	}

	var advisory diag.Diagnostics
	g := configurePolicy(ctx, block(enforcementAdvisory), &cache, now, failing, &advisory)
	if g == nil || g.engine == nil || len(advisory) != 1 || advisory[0].Severity() != diag.SeverityWarning {
		t.Fatalf("advisory gate without the service's list = %v, %v; want a gate and one warning", g, advisory)
	}

	var off diag.Diagnostics
	called := false
	if g := configurePolicy(ctx, block(enforcementOff), &cache, now, func(context.Context) ([]string, error) {
		called = true
		return nil, errors.New("unreachable")
	}, &off); g == nil || len(off) != 0 || called {
		t.Errorf("enforcement off asked the service (%v) or reported %v", called, off)
	}
}
