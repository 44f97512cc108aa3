package provider

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

const ephemeralOwner = "ci@example.com"

func ephemeralHCL(ttl string) string {
	return fmt.Sprintf(`ephemeral "tokenguard_api_token" "run" {
  name            = "ci-deploy"
  owner           = %q
  purpose         = "Short-lived deploy credential for one Terraform run"
  scopes          = ["deploy:write"]
  data_categories = []
  ttl             = %q
}
`, ephemeralOwner, ttl)
}

func TestAccAPITokenEphemeral_revokedAfterRun(t *testing.T) {
	ts := newTestService(t)
	t0 := ts.Clock.Now()
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ts.factories(),
		Steps: []resource.TestStep{
			{
				Config:      ts.config(ephemeralHCL("2h")),
				ExpectError: regexp.MustCompile(`Duration Above Maximum[\s\S]*1h`),
			},
			{
				Config: ts.config(ephemeralHCL("30m")),
				Check: func(s *terraform.State) error {
					toks := ts.tokensOf(t, ephemeralOwner)
					if len(toks) == 0 {
						return fmt.Errorf("no ephemeral token was issued")
					}
					for _, tok := range toks {
						if !regexp.MustCompile(`^ci-deploy-[0-9a-z]{8}$`).MatchString(tok.Name) {
							return fmt.Errorf("ephemeral token named %q, want ci-deploy-<8 random characters>", tok.Name)
						}
						if tok.Status != "revoked" {
							return fmt.Errorf("ephemeral token %s has status %q after the run, want revoked", tok.ID, tok.Status)
						}
						if want := t0.Add(30 * time.Minute); !tok.ExpiresAt.Equal(want) {
							return fmt.Errorf("ephemeral token %s expires at %s, want %s", tok.ID, tok.ExpiresAt, want)
						}
					}
					for addr := range s.RootModule().Resources {
						if strings.Contains(addr, "tokenguard_api_token") {
							return fmt.Errorf("state holds %s; an ephemeral token must never reach state", addr)
						}
					}
					return nil
				},
			},
		},
	})
}
