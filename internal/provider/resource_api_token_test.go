package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

const (
	testAddr  = "tokenguard_api_token.test"
	testOwner = "team-finance@example.com"
	day       = token.Day
)

// tokenHCL is a tokenguard_api_token "test" block with the required attributes and extra lines.
func tokenHCL(ttl, extra string) string {
	return fmt.Sprintf(`resource "tokenguard_api_token" "test" {
  name            = "billing-export"
  owner           = %q
  purpose         = "Nightly export of invoice totals to the finance data warehouse"
  scopes          = ["invoices:read"]
  data_categories = ["commercial", "identifiers"]
  ttl             = %q
%s
}
`, testOwner, ttl, extra)
}

const fullExtra = `
  data_subjects     = ["customer:4411"]
  audiences         = ["warehouse"]
  replace_before    = "3d"
  rotation          = { interval = "7d", overlap = "1h" }
  rotation_triggers = { release = "r1" }
  renewal = {
    reason      = "Quarter-end close needs two more weeks"
    reviewed_by = "security@example.com"
  }
  labels = { env = "prod" }
`

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func at(name string) tfjsonpath.Path { return tfjsonpath.New(name) }

// captureAttr stores the state value of attribute name into *dst.
func captureAttr(name string, dst *string) resource.TestCheckFunc {
	return resource.TestCheckResourceAttrWith(testAddr, name, func(v string) error {
		*dst = v
		return nil
	})
}

func TestAccAPIToken_basic(t *testing.T) {
	ts := newTestService(t)
	t0 := ts.Clock.Now()
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ts.factories(),
		CheckDestroy:             ts.checkAllRevoked(t, testOwner, 1),
		Steps: []resource.TestStep{
			{
				Config: ts.config(tokenHCL("30d", fullExtra)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(testAddr, plancheck.ResourceActionCreate),
					plancheck.ExpectSensitiveValue(testAddr, at("secret")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testAddr, at("id"), knownvalue.StringRegexp(regexp.MustCompile(`^tok_[0-9A-Za-z]{16}$`))),
					statecheck.ExpectKnownValue(testAddr, at("name"), knownvalue.StringExact("billing-export")),
					statecheck.ExpectKnownValue(testAddr, at("owner"), knownvalue.StringExact(testOwner)),
					statecheck.ExpectKnownValue(testAddr, at("purpose"), knownvalue.StringExact("Nightly export of invoice totals to the finance data warehouse")),
					statecheck.ExpectKnownValue(testAddr, at("scopes"), knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("invoices:read")})),
					statecheck.ExpectKnownValue(testAddr, at("data_categories"), knownvalue.SetExact([]knownvalue.Check{
						knownvalue.StringExact("commercial"), knownvalue.StringExact("identifiers")})),
					statecheck.ExpectKnownValue(testAddr, at("data_subjects"), knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("customer:4411")})),
					statecheck.ExpectKnownValue(testAddr, at("audiences"), knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("warehouse")})),
					statecheck.ExpectKnownValue(testAddr, at("ttl"), knownvalue.StringExact("30d")),
					statecheck.ExpectKnownValue(testAddr, at("rotation"), knownvalue.ObjectExact(map[string]knownvalue.Check{
						"interval": knownvalue.StringExact("7d"), "overlap": knownvalue.StringExact("1h")})),
					statecheck.ExpectKnownValue(testAddr, at("labels"), knownvalue.MapExact(map[string]knownvalue.Check{"env": knownvalue.StringExact("prod")})),
					statecheck.ExpectKnownValue(testAddr, at("secret"), knownvalue.StringRegexp(regexp.MustCompile(`^tg_test_[0-9A-Za-z]{16}_[0-9A-Za-z]{28}$`))),
					statecheck.ExpectKnownValue(testAddr, at("fingerprint"), knownvalue.NotNull()),
					statecheck.ExpectKnownValue(testAddr, at("status"), knownvalue.StringExact("active")),
					statecheck.ExpectKnownValue(testAddr, at("created_at"), knownvalue.StringExact(rfc3339(t0))),
					statecheck.ExpectKnownValue(testAddr, at("expires_at"), knownvalue.StringExact(rfc3339(t0.Add(30*day)))),
					statecheck.ExpectKnownValue(testAddr, at("rotated_at"), knownvalue.Null()),
					statecheck.ExpectKnownValue(testAddr, at("last_used_at"), knownvalue.Null()),
					statecheck.ExpectKnownValue(testAddr, at("secret_version"), knownvalue.Int64Exact(1)),
				},
			},
			{
				ResourceName:            testAddr,
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"secret", "rotation_triggers", "renewal", "replace_before"},
				ImportStateCheck: func(states []*terraform.InstanceState) error {
					if len(states) != 1 {
						return fmt.Errorf("imported %d instances, want 1", len(states))
					}
					if v, ok := states[0].Attributes["secret"]; ok && v != "" {
						return fmt.Errorf("secret is set after import; it must be null")
					}
					return nil
				},
			},
		},
	})
}

func TestAccAPIToken_importBlock(t *testing.T) {
	ts := newTestService(t)
	cfg := ts.config(tokenHCL("30d", `  labels = { env = "prod" }`))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ts.factories(),
		CheckDestroy:             ts.checkAllRevoked(t, testOwner, 1),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				Config:          cfg,
				ResourceName:    testAddr,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportPlanChecks: resource.ImportPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(testAddr, plancheck.ResourceActionNoop),
					plancheck.ExpectKnownValue(testAddr, at("secret"), knownvalue.Null()),
					plancheck.ExpectKnownValue(testAddr, at("ttl"), knownvalue.StringExact("30d")),
					plancheck.ExpectKnownValue(testAddr, at("status"), knownvalue.StringExact("active")),
				}},
			},
		},
	})
}

func TestAccAPIToken_rotatesWhenIntervalElapsed(t *testing.T) {
	ts := newTestService(t)
	t0 := ts.Clock.Now()
	cfg := ts.config(tokenHCL("30d", `  rotation = { interval = "7d", overlap = "1h" }`))
	sameID := statecheck.CompareValue(compare.ValuesSame())
	newSecret := statecheck.CompareValue(compare.ValuesDiffer())
	var oldSecret, rotatedSecret string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ts.factories(),
		CheckDestroy:             ts.checkAllRevoked(t, testOwner, 1),
		Steps: []resource.TestStep{
			{
				Config: cfg,
				Check:  captureAttr("secret", &oldSecret),
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(testAddr, at("id")),
					newSecret.AddStateValue(testAddr, at("secret")),
				},
			},
			{
				// Just before the interval: nothing to do.
				PreConfig: func() { ts.Clock.Advance(7*day - time.Minute) },
				Config:    cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
			},
			{
				PreConfig: func() { ts.Clock.Advance(2 * time.Minute) },
				Config:    cfg,
				Check:     captureAttr("secret", &rotatedSecret),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(testAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue(testAddr, at("secret")),
					plancheck.ExpectUnknownValue(testAddr, at("fingerprint")),
					plancheck.ExpectUnknownValue(testAddr, at("rotated_at")),
					plancheck.ExpectUnknownValue(testAddr, at("secret_version")),
					plancheck.ExpectKnownValue(testAddr, at("id"), knownvalue.NotNull()),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(testAddr, at("id")),
					newSecret.AddStateValue(testAddr, at("secret")),
					statecheck.ExpectKnownValue(testAddr, at("secret_version"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue(testAddr, at("rotated_at"), knownvalue.StringExact(rfc3339(t0.Add(7*day+time.Minute)))),
				},
			},
			{
				// Inside the overlap both secrets verify; after it only the new one does.
				Config: cfg,
				Check: func(*terraform.State) error {
					if err := ts.expectActive(oldSecret, true); err != nil {
						return err
					}
					if err := ts.expectActive(rotatedSecret, true); err != nil {
						return err
					}
					ts.Clock.Advance(time.Hour + time.Second)
					if err := ts.expectActive(oldSecret, false); err != nil {
						return err
					}
					return ts.expectActive(rotatedSecret, true)
				},
			},
		},
	})
}

func TestAccAPIToken_rotatesWhenTriggersChange(t *testing.T) {
	ts := newTestService(t)
	sameID := statecheck.CompareValue(compare.ValuesSame())
	newSecret := statecheck.CompareValue(compare.ValuesDiffer())
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ts.factories(),
		CheckDestroy:             ts.checkAllRevoked(t, testOwner, 1),
		Steps: []resource.TestStep{
			{
				Config: ts.config(tokenHCL("30d", `  rotation_triggers = { release = "v1" }`)),
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(testAddr, at("id")),
					newSecret.AddStateValue(testAddr, at("secret")),
				},
			},
			{
				PreConfig: func() { ts.Clock.Advance(time.Hour) },
				Config:    ts.config(tokenHCL("30d", `  rotation_triggers = { release = "v2" }`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(testAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue(testAddr, at("secret")),
					plancheck.ExpectUnknownValue(testAddr, at("secret_version")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(testAddr, at("id")),
					newSecret.AddStateValue(testAddr, at("secret")),
					statecheck.ExpectKnownValue(testAddr, at("secret_version"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue(testAddr, at("rotated_at"), knownvalue.StringExact(rfc3339(ts.Clock.Now().Add(time.Hour)))),
				},
			},
		},
	})
}

func TestAccAPIToken_updatesMetadataInPlace(t *testing.T) {
	ts := newTestService(t)
	sameID := statecheck.CompareValue(compare.ValuesSame())
	sameSecret := statecheck.CompareValue(compare.ValuesSame())
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ts.factories(),
		CheckDestroy:             ts.checkAllRevoked(t, testOwner, 1),
		Steps: []resource.TestStep{
			{
				Config: ts.config(tokenHCL("30d", `  labels = { env = "prod" }`)),
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(testAddr, at("id")),
					sameSecret.AddStateValue(testAddr, at("secret")),
				},
			},
			{
				Config: ts.config(`resource "tokenguard_api_token" "test" {
  name            = "billing-export"
  owner           = "` + testOwner + `"
  purpose         = "Weekly export of invoice totals to the finance data warehouse"
  scopes          = ["invoices:read", "credit-notes:read"]
  data_categories = []
  audiences       = ["warehouse"]
  ttl             = "30d"
  rotation        = { interval = "14d" }
}
`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(testAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(testAddr, at("secret_version"), knownvalue.Int64Exact(1)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(testAddr, at("id")),
					sameSecret.AddStateValue(testAddr, at("secret")),
					statecheck.ExpectKnownValue(testAddr, at("purpose"), knownvalue.StringExact("Weekly export of invoice totals to the finance data warehouse")),
					statecheck.ExpectKnownValue(testAddr, at("scopes"), knownvalue.SetExact([]knownvalue.Check{
						knownvalue.StringExact("credit-notes:read"), knownvalue.StringExact("invoices:read")})),
					statecheck.ExpectKnownValue(testAddr, at("data_categories"), knownvalue.SetSizeExact(0)),
					statecheck.ExpectKnownValue(testAddr, at("labels"), knownvalue.Null()),
					statecheck.ExpectKnownValue(testAddr, at("rotation"), knownvalue.ObjectExact(map[string]knownvalue.Check{
						"interval": knownvalue.StringExact("14d"), "overlap": knownvalue.Null()})),
				},
				Check: ts.checkToken(testAddr, func(tok wire.Token) error {
					if len(tok.Labels) != 0 || len(tok.DataCategories) != 0 || tok.Rotation == nil || tok.Rotation.Interval != "14d" {
						return fmt.Errorf("service holds labels %v, categories %v, rotation %+v; want none, none, interval 14d",
							tok.Labels, tok.DataCategories, tok.Rotation)
					}
					return nil
				}),
			},
		},
	})
}

func TestAccAPIToken_renewalRequiresReview(t *testing.T) {
	ts := newTestService(t)
	t0 := ts.Clock.Now()
	renewal := `  renewal = {
    reason      = "Quarter-end close needs two more weeks"
    reviewed_by = "security@example.com"
  }`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ts.factories(),
		CheckDestroy:             ts.checkAllRevoked(t, testOwner, 1),
		Steps: []resource.TestStep{
			{Config: ts.config(tokenHCL("10d", ""))},
			{
				Config:      ts.config(tokenHCL("20d", "")),
				ExpectError: regexp.MustCompile(`Renewal Review Required`),
			},
			{
				PreConfig: func() { ts.Clock.Advance(day) },
				Config:    ts.config(tokenHCL("20d", renewal)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(testAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue(testAddr, at("expires_at")),
					plancheck.ExpectKnownValue(testAddr, at("secret_version"), knownvalue.Int64Exact(1)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testAddr, at("expires_at"), knownvalue.StringExact(rfc3339(t0.Add(day+20*day)))),
					statecheck.ExpectKnownValue(testAddr, at("ttl"), knownvalue.StringExact("20d")),
				},
			},
		},
	})
}

// checkReplaced checks a replacement after apply: the state holds a new id, the token it
// replaced (*oldID) is revoked in the service and the new one is active.
func (ts *testService) checkReplaced(oldID *string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		rs, ok := s.RootModule().Resources[testAddr]
		if !ok {
			return fmt.Errorf("%s is not in state", testAddr)
		}
		if *oldID == "" || rs.Primary.ID == *oldID {
			return fmt.Errorf("state id after the replacement = %q, want a new id (old %q)", rs.Primary.ID, *oldID)
		}
		old, err := ts.Client.GetToken(context.Background(), *oldID)
		if err != nil {
			return fmt.Errorf("reading the replaced token %s: %w", *oldID, err)
		}
		if old.Status != "revoked" {
			return fmt.Errorf("the replaced token %s has status %q, want revoked", *oldID, old.Status)
		}
		cur, err := ts.Client.GetToken(context.Background(), rs.Primary.ID)
		if err != nil {
			return fmt.Errorf("reading the new token %s: %w", rs.Primary.ID, err)
		}
		if cur.Status != "active" || cur.Name != "billing-export" {
			return fmt.Errorf("the new token %s is %q named %q, want active billing-export", cur.ID, cur.Status, cur.Name)
		}
		return nil
	}
}

// replacementSteps are the steps of a replacement test: apply before, then (after prepare)
// a plan that replaces the token, its apply and a follow-up plan that must be empty.
func replacementSteps(ts *testService, before, after string, prepare func(), extra ...plancheck.PlanCheck) []resource.TestStep {
	var oldID string
	return []resource.TestStep{
		{Config: ts.config(before), Check: captureAttr("id", &oldID)},
		{
			PreConfig: prepare,
			Config:    ts.config(after),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: append([]plancheck.PlanCheck{
				plancheck.ExpectResourceAction(testAddr, plancheck.ResourceActionDestroyBeforeCreate),
				plancheck.ExpectUnknownValue(testAddr, at("id")),
				plancheck.ExpectUnknownValue(testAddr, at("secret")),
			}, extra...)},
			Check: ts.checkReplaced(&oldID),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(testAddr, at("status"), knownvalue.StringExact("active")),
				statecheck.ExpectKnownValue(testAddr, at("secret"), knownvalue.StringRegexp(regexp.MustCompile(`^tg_test_`))),
				statecheck.ExpectKnownValue(testAddr, at("created_at"), knownvalue.StringFunc(func(v string) error {
					if v != rfc3339(ts.Clock.Now()) {
						return fmt.Errorf("created_at = %s, want the replacement time %s", v, rfc3339(ts.Clock.Now()))
					}
					return nil
				})),
			},
		},
		{
			Config: ts.config(after),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectEmptyPlan(),
			}},
		},
	}
}

func TestAccAPIToken_loweringTTLReplaces(t *testing.T) {
	ts := newTestService(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ts.factories(),
		CheckDestroy:             ts.checkAllRevoked(t, testOwner, 2),
		Steps: replacementSteps(ts, tokenHCL("30d", ""), tokenHCL("7d", ""), func() { ts.Clock.Advance(day) },
			plancheck.ExpectKnownValue(testAddr, at("ttl"), knownvalue.StringExact("7d"))),
	})
}

func TestAccAPIToken_changedDataSubjectsReplaces(t *testing.T) {
	ts := newTestService(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ts.factories(),
		CheckDestroy:             ts.checkAllRevoked(t, testOwner, 2),
		Steps: replacementSteps(ts, tokenHCL("30d", `  data_subjects = ["customer:4411"]`), tokenHCL("30d", `  data_subjects = ["customer:4412"]`),
			func() { ts.Clock.Advance(time.Hour) }),
	})
}

func TestAccAPIToken_expiredIsReplaced(t *testing.T) {
	ts := newTestService(t)
	cfg := tokenHCL("2d", "")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ts.factories(),
		CheckDestroy:             ts.checkAllRevoked(t, testOwner, 2),
		Steps:                    replacementSteps(ts, cfg, cfg, func() { ts.Clock.Advance(2 * day) }),
	})
}

func TestAccAPIToken_revokedOutsideTerraformIsReplaced(t *testing.T) {
	ts := newTestService(t)
	cfg := tokenHCL("30d", "")
	steps := replacementSteps(ts, cfg, cfg, nil)
	var id string
	steps[0].Check = resource.ComposeTestCheckFunc(steps[0].Check, captureAttr("id", &id))
	steps[1].PreConfig = func() {
		ts.Clock.Advance(time.Hour)
		if _, err := ts.Client.RevokeToken(context.Background(), id); err != nil {
			t.Fatalf("revoking %s out of band: %v", id, err)
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ts.factories(),
		CheckDestroy:             ts.checkAllRevoked(t, testOwner, 2),
		Steps:                    steps,
	})
}

func TestAccAPIToken_replacedWithinReplaceBefore(t *testing.T) {
	ts := newTestService(t)
	cfg := tokenHCL("10d", `  replace_before = "3d"`)
	steps := replacementSteps(ts, cfg, cfg, func() { ts.Clock.Advance(time.Second) })
	window := resource.TestStep{
		PreConfig: func() { ts.Clock.Advance(7*day - time.Second) },
		Config:    ts.config(cfg),
		PlanOnly:  true, // one second before the window: no change
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ts.factories(),
		CheckDestroy:             ts.checkAllRevoked(t, testOwner, 2),
		Steps:                    append([]resource.TestStep{steps[0], window}, steps[1:]...),
	})
}

// TestAccAPIToken_expiredIsReplacedCreateBeforeDestroy: under create_before_destroy the new
// token is created while the expired one still holds the name; the provider revokes the
// expired token (it can no longer be verified) to free the name.
func TestAccAPIToken_expiredIsReplacedCreateBeforeDestroy(t *testing.T) {
	ts := newTestService(t)
	cfg := tokenHCL("2d", "  lifecycle {\n    create_before_destroy = true\n  }")
	steps := replacementSteps(ts, cfg, cfg, func() { ts.Clock.Advance(2 * day) })
	steps[1].ConfigPlanChecks.PreApply[0] = plancheck.ExpectResourceAction(testAddr, plancheck.ResourceActionCreateBeforeDestroy)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ts.factories(),
		CheckDestroy:             ts.checkAllRevoked(t, testOwner, 2),
		Steps:                    steps,
	})
}

// TestAccAPIToken_activeNameCreateBeforeDestroy: a replacement of an active token under
// create_before_destroy cannot take its name; apply fails naming the fix and changes nothing.
func TestAccAPIToken_activeNameCreateBeforeDestroy(t *testing.T) {
	ts := newTestService(t)
	cbd := "  lifecycle {\n    create_before_destroy = true\n  }\n"
	var id string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ts.factories(),
		CheckDestroy:             ts.checkAllRevoked(t, testOwner, 1),
		Steps: []resource.TestStep{
			{Config: ts.config(tokenHCL("30d", cbd)), Check: captureAttr("id", &id)},
			{
				Config: ts.config(tokenHCL("7d", cbd)),
				ExpectError: wrappedText("Error: Token Name In Use", `already has an active token named "billing-export"`,
					"remove create_before_destroy"),
			},
			{
				// The refused replacement left the old token in place and active.
				Config: ts.config(tokenHCL("30d", cbd)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
				Check: func(*terraform.State) error {
					toks := ts.tokensOf(t, testOwner)
					if len(toks) != 1 || toks[0].ID != id || toks[0].Status != "active" {
						return fmt.Errorf("after the refused replacement the service holds %+v, want only %s, active", toks, id)
					}
					return nil
				},
			},
		},
	})
}

func TestAccAPIToken_deletedOutsideTerraformIsRecreated(t *testing.T) {
	ts := newTestService(t)
	cfg := ts.config(tokenHCL("30d", ""))
	differentID := statecheck.CompareValue(compare.ValuesDiffer())
	var id string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ts.factories(),
		CheckDestroy:             ts.checkAllRevoked(t, testOwner, 1),
		Steps: []resource.TestStep{
			{
				Config:            cfg,
				Check:             captureAttr("id", &id),
				ConfigStateChecks: []statecheck.StateCheck{differentID.AddStateValue(testAddr, at("id"))},
			},
			{
				// Refresh finds the token gone and drops it from state (with a warning), so
				// the plan creates a new one.
				PreConfig: func() { ts.deleteOutOfBand(t, id) },
				Config:    cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(testAddr, plancheck.ResourceActionCreate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{differentID.AddStateValue(testAddr, at("id"))},
			},
		},
	})
}

func TestAccAPIToken_retriedCreateLeavesOneToken(t *testing.T) {
	ts := newTestService(t)
	ts.dropCreates = 1
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ts.factories(),
		CheckDestroy:             ts.checkAllRevoked(t, testOwner, 1),
		Steps: []resource.TestStep{
			{
				Config: ts.config(tokenHCL("30d", "")),
				Check: func(*terraform.State) error {
					toks := ts.tokensOf(t, testOwner)
					if len(toks) != 1 {
						return fmt.Errorf("service holds %d tokens after a retried create, want exactly 1", len(toks))
					}
					keys := ts.recordedCreateKeys()
					if len(keys) != 2 || keys[0] == "" || keys[0] != keys[1] {
						return fmt.Errorf("create requests carried idempotency keys %q, want the same non-empty key twice", keys)
					}
					return nil
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testAddr, at("secret"), knownvalue.StringRegexp(regexp.MustCompile(`^tg_test_`))),
				},
			},
		},
	})
}

func TestAccAPIToken_validationErrors(t *testing.T) {
	ts := newTestService(t)
	base := func(purpose, scopes, categories, ttl, extra string) string {
		return ts.config(fmt.Sprintf(`resource "tokenguard_api_token" "test" {
  name            = "billing-export"
  owner           = %q
  purpose         = %q
  scopes          = %s
  data_categories = %s
  ttl             = %q
%s
}
`, testOwner, purpose, scopes, categories, ttl, extra))
	}
	const good = "Nightly export of invoice totals to the finance data warehouse"
	cases := []struct {
		name, config string
		want         *regexp.Regexp
	}{
		{"empty purpose", base("", `["a:read"]`, `[]`, "30d", ""), regexp.MustCompile(`Purpose Not Specific[\s\S]*purpose is required`)},
		{"generic purpose", base("misc", `["a:read"]`, `[]`, "30d", ""), regexp.MustCompile(`Purpose Not Specific[\s\S]*is generic`)},
		{"bad ttl", base(good, `["a:read"]`, `[]`, "30 days", ""), regexp.MustCompile(`Invalid Duration[\s\S]*30 days`)},
		{"bad rotation interval", base(good, `["a:read"]`, `[]`, "30d", `rotation = { interval = "weekly" }`), regexp.MustCompile(`Invalid Duration[\s\S]*weekly`)},
		{"unknown category", base(good, `["a:read"]`, `["shoe_size"]`, "30d", ""), regexp.MustCompile(`Unknown Data Category[\s\S]*shoe_size`)},
		{"empty scopes", base(good, `[]`, `[]`, "30d", ""), regexp.MustCompile(`scopes[\s\S]*at least 1`)},
		{"ttl above maximum", base(good, `["a:read"]`, `[]`, "91d", ""), regexp.MustCompile(`Duration Above Maximum[\s\S]*90d`)},
		{"reviewer is owner", base(good, `["a:read"]`, `[]`, "30d",
			`renewal = { reason = "Needs more time", reviewed_by = "`+testOwner+`" }`), regexp.MustCompile(`Renewal Reviewer Is The Owner`)},
		{"replace window too long", base(good, `["a:read"]`, `[]`, "3d", `replace_before = "3d"`), regexp.MustCompile(`Replace Window Not Shorter Than TTL`)},
	}
	steps := make([]resource.TestStep, 0, len(cases))
	for _, c := range cases {
		steps = append(steps, resource.TestStep{Config: c.config, PlanOnly: true, ExpectError: c.want})
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ts.factories(),
		Steps:                    steps,
		CheckDestroy: func(*terraform.State) error {
			if n := len(ts.tokensOf(t, testOwner)); n != 0 {
				return fmt.Errorf("invalid configurations created %d tokens, want 0", n)
			}
			return nil
		},
	})
}

// terraformCLI runs the Terraform CLI found for the acceptance tests in dir, against the
// provider served in-process.
type terraformCLI struct {
	t        *testing.T
	bin, dir string
	env      []string
}

func (tf terraformCLI) run(args ...string) string {
	tf.t.Helper()
	cmd := exec.Command(tf.bin, args...) //nolint:gosec // G204: the Terraform CLI of the acceptance tests, with the test's own arguments
	cmd.Dir = tf.dir
	cmd.Env = append(os.Environ(), tf.env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		tf.t.Fatalf("terraform %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// terraformBinary is the Terraform CLI of the acceptance tests: TF_ACC_TERRAFORM_PATH, else
// terraform on PATH. Nothing is downloaded.
func terraformBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("TF_ACC_TERRAFORM_PATH"); bin != "" {
		return bin
	}
	bin, err := exec.LookPath("terraform")
	if err != nil {
		t.Fatal("terraform is not on PATH and TF_ACC_TERRAFORM_PATH is not set")
	}
	return bin
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from) //nolint:gosec // G304: a file the test itself names
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil { //nolint:gosec // G703: a path in the test's temporary directory
		t.Fatal(err)
	}
}

// stateSecret reads the token secret from the local state file.
func stateSecret(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "terraform.tfstate")) //nolint:gosec // G304: the state file in the test's working directory
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Resources []struct {
			Type      string
			Instances []struct {
				Attributes map[string]any
			}
		}
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	for _, r := range st.Resources {
		if r.Type == "tokenguard_api_token" && len(r.Instances) == 1 {
			if s, ok := r.Instances[0].Attributes["secret"].(string); ok && strings.HasPrefix(s, "tg_") {
				return s
			}
		}
	}
	t.Fatal("no token secret in state")
	return ""
}

// TestAccAPIToken_planDoesNotRevealSecret runs the documented example with the Terraform CLI:
// neither apply, plan nor show prints a secret, and the plan JSON marks secret sensitive.
func TestAccAPIToken_planDoesNotRevealSecret(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("Acceptance tests skipped unless env 'TF_ACC' set") // the framework's standard gate
	}
	bin := terraformBinary(t)
	ts := newTestService(t)
	dir := t.TempDir()
	copyFile(t, "../../examples/provider/provider.tf", filepath.Join(dir, "provider.tf"))
	copyFile(t, "../../examples/resources/tokenguard_api_token/resource.tf", filepath.Join(dir, "resource.tf"))
	// An override file points the example's provider at the in-process service; the admin
	// credential comes from the environment, as the example documents.
	override := fmt.Sprintf("provider \"tokenguard\" {\n  endpoint = %q\n}\n", ts.URL)
	if err := os.WriteFile(filepath.Join(dir, "provider_override.tf"), []byte(override), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TOKENGUARD_TOKEN", ts.Admin) // read by the provider, which runs in this process
	tf := terraformCLI{t: t, bin: bin, dir: dir, env: []string{
		"TF_REATTACH_PROVIDERS=" + ts.serveForCLI(t), "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1", "NO_COLOR=1",
	}}

	tf.run("init", "-input=false", "-no-color")
	applied := tf.run("apply", "-input=false", "-no-color", "-auto-approve", "-var", "release=r1")
	first := stateSecret(t, dir)
	planned := tf.run("plan", "-input=false", "-no-color", "-var", "release=r2", "-out=rotate.tfplan")
	shown := tf.run("show", "-no-color", "rotate.tfplan")
	planJSON := tf.run("show", "-json", "rotate.tfplan")
	rotated := tf.run("apply", "-input=false", "-no-color", "rotate.tfplan")
	second := stateSecret(t, dir)
	stateShown := tf.run("show", "-no-color")
	if first == second {
		t.Fatal("changing rotation_triggers did not rotate the secret")
	}
	for name, out := range map[string]string{"apply": applied, "plan": planned, "show plan": shown, "rotating apply": rotated, "show state": stateShown} {
		if strings.Contains(out, first) || strings.Contains(out, second) {
			t.Errorf("terraform %s printed a token secret", name)
		}
		if strings.Contains(out, "tg_test_") {
			t.Errorf("terraform %s printed something shaped like a token secret", name)
		}
	}
	if !strings.Contains(shown, "secret") || !strings.Contains(shown, "(sensitive value)") {
		t.Errorf("the rotation plan does not show secret as a sensitive value:\n%s", shown)
	}

	var plan struct {
		ResourceChanges []struct {
			Address string
			Change  struct {
				Actions         []string
				BeforeSensitive map[string]any `json:"before_sensitive"`
				AfterSensitive  map[string]any `json:"after_sensitive"`
				AfterUnknown    map[string]any `json:"after_unknown"`
			}
		} `json:"resource_changes"`
	}
	if err := json.Unmarshal([]byte(planJSON[strings.Index(planJSON, "{"):]), &plan); err != nil {
		t.Fatalf("decoding plan JSON: %v", err)
	}
	found := false
	for _, rc := range plan.ResourceChanges {
		if rc.Address != "tokenguard_api_token.billing_export" {
			continue
		}
		found = true
		if got := strings.Join(rc.Change.Actions, ","); got != "update" {
			t.Errorf("rotation plan actions = %s, want update", got)
		}
		if rc.Change.BeforeSensitive["secret"] != true || rc.Change.AfterSensitive["secret"] != true {
			t.Errorf("plan JSON marks secret before_sensitive=%v after_sensitive=%v, want true and true",
				rc.Change.BeforeSensitive["secret"], rc.Change.AfterSensitive["secret"])
		}
		if rc.Change.AfterUnknown["secret"] != true {
			t.Errorf("plan JSON after_unknown secret = %v, want true (rotation)", rc.Change.AfterUnknown["secret"])
		}
	}
	if !found {
		t.Fatal("the plan JSON has no change for tokenguard_api_token.billing_export")
	}
	tf.run("destroy", "-input=false", "-no-color", "-auto-approve", "-var", "release=r2")
	if err := ts.checkAllRevoked(t, "team-finance@example.com", 1)(nil); err != nil {
		t.Fatal(err)
	}
}

func TestAccAPIToken_importThenRotateForSecret(t *testing.T) {
	ts := newTestService(t)
	existing, err := ts.Client.CreateToken(context.Background(), wire.CreateTokenRequest{
		Name: "billing-export", Owner: testOwner, Purpose: "Nightly export of invoice totals to the finance data warehouse",
		Scopes: []string{"invoices:read"}, DataCategories: []string{"commercial", "identifiers"}, TTL: "30d",
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg := func(release string) string {
		return ts.config(tokenHCL("30d", `  rotation_triggers = { release = "`+release+`" }`))
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ts.factories(),
		CheckDestroy:             ts.checkAllRevoked(t, testOwner, 1),
		Steps: []resource.TestStep{
			{
				Config:             cfg("r1"),
				ResourceName:       testAddr,
				ImportState:        true,
				ImportStateId:      existing.ID,
				ImportStatePersist: true,
				ImportStateCheck: func(states []*terraform.InstanceState) error {
					if len(states) != 1 || states[0].ID != existing.ID || states[0].Attributes["ttl"] != "30d" {
						return fmt.Errorf("imported %+v, want %s with ttl 30d", states, existing.ID)
					}
					if v := states[0].Attributes["secret"]; v != "" {
						return fmt.Errorf("secret is set after import; it must be null")
					}
					return nil
				},
			},
			{
				// The first triggers after the import are recorded; the secret is not rotated.
				Config: cfg("r1"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(testAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(testAddr, at("secret"), knownvalue.Null()),
					plancheck.ExpectKnownValue(testAddr, at("secret_version"), knownvalue.Int64Exact(1)),
				}},
			},
			{
				Config: cfg("r2"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(testAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue(testAddr, at("secret")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testAddr, at("id"), knownvalue.StringExact(existing.ID)),
					statecheck.ExpectKnownValue(testAddr, at("secret"), knownvalue.StringRegexp(regexp.MustCompile(`^tg_test_`))),
					statecheck.ExpectKnownValue(testAddr, at("secret_version"), knownvalue.Int64Exact(2)),
				},
			},
		},
	})
}
