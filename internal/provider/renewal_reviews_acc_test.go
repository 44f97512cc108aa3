package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// A review approves one renewal (issue 21), with the real Terraform CLI against the real
// service: a second ttl increase under the renewal block that approved the first errors at
// plan, and the same review sent to the service's renew endpoint gets 409; removing the
// block plans nothing; a new review renews.
func TestAccAPIToken_renewalReviewApprovesOneIncrease(t *testing.T) {
	ts := newTestService(t)
	t0 := ts.Clock.Now()
	reviewA := `  renewal = {
    reason      = "Quarter-end close needs two more weeks"
    reviewed_by = "security@example.com"
  }`
	// The same review spelt otherwise: case, spaces.
	reviewAFolded := `  renewal = {
    reason      = "quarter-end close  needs two more weeks "
    reviewed_by = "Security@Example.com"
  }`
	reviewB := `  renewal = {
    reason      = "Audit extension approved in ticket SEC-118"
    reviewed_by = "security@example.com"
  }`
	var id string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ts.factories(),
		CheckDestroy:             ts.checkAllRevoked(t, testOwner, 1),
		Steps: []resource.TestStep{
			{Config: ts.config(tokenHCL("10d", "")), Check: captureAttr("id", &id)},
			{
				Config: ts.config(tokenHCL("20d", reviewA)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testAddr, at("expires_at"), knownvalue.StringExact(rfc3339(t0.Add(20*day)))),
				},
			},
			{
				PreConfig:   func() { ts.Clock.Advance(day) },
				Config:      ts.config(tokenHCL("30d", reviewA)),
				ExpectError: regexp.MustCompile(`Renewal Review Already Used[\s\S]*approved ttl 20d`),
			},
			{
				Config:      ts.config(tokenHCL("30d", reviewAFolded)),
				ExpectError: regexp.MustCompile(`Renewal Review Already Used`),
			},
			{
				// Outside Terraform the service refuses the same review: 409 naming the earlier use.
				Config:   ts.config(tokenHCL("20d", reviewA)),
				PlanOnly: true,
				Check: func(*terraform.State) error {
					_, err := ts.Client.RenewToken(context.Background(), id, wire.RenewRequest{
						TTL: "40d", Reason: "Quarter-end close needs two more weeks", ReviewedBy: "security@example.com"}, "")
					var re *client.ResponseError
					if !errors.As(err, &re) || re.StatusCode != http.StatusConflict || re.Code != "renewal_review_used" ||
						!regexp.MustCompile(`audit record seq \d+, ttl 20d`).MatchString(re.Message) {
						return fmt.Errorf("renewal under the used review = %s, want 409 renewal_review_used naming the earlier use", fmt.Sprint(err))
					}
					return nil
				},
			},
			{
				// Removing the block after its renewal plans nothing.
				Config:           ts.config(tokenHCL("20d", "")),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				Config:      ts.config(tokenHCL("30d", "")),
				ExpectError: regexp.MustCompile(`Renewal Review Required`),
			},
			{
				Config: ts.config(tokenHCL("30d", reviewB)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(testAddr, plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testAddr, at("expires_at"), knownvalue.StringExact(rfc3339(t0.Add(day+30*day)))),
				},
			},
			{
				PreConfig:   func() { ts.Clock.Advance(time.Hour) },
				Config:      ts.config(tokenHCL("50d", reviewB)),
				ExpectError: regexp.MustCompile(`Renewal Review Already Used[\s\S]*approved ttl 30d`),
			},
		},
	})
}

// A new token starts with no renewal but the configured one: a token created with a renewal
// block in its configuration needs a new review for its first ttl increase.
func TestAccAPIToken_createdRenewalApprovesNoIncrease(t *testing.T) {
	ts := newTestService(t)
	review := `  renewal = {
    reason      = "Quarter-end close needs two more weeks"
    reviewed_by = "security@example.com"
  }`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ts.factories(),
		CheckDestroy:             ts.checkAllRevoked(t, testOwner, 1),
		Steps: []resource.TestStep{
			{Config: ts.config(tokenHCL("10d", review))},
			{
				Config:      ts.config(tokenHCL("20d", review)),
				ExpectError: regexp.MustCompile(`Renewal Review Already Used[\s\S]*approved ttl 10d`),
			},
		},
	})
}
