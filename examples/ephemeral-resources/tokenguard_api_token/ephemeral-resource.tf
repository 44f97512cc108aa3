# A token for this Terraform run only (Terraform 1.10 and later): issued when Terraform opens
# the ephemeral resource, revoked when it closes it. The secret never reaches plan or state.
ephemeral "tokenguard_api_token" "deploy" {
  name            = "ci-deploy"
  owner           = "platform@example.com"
  purpose         = "Deploys the billing service configuration during this Terraform run"
  scopes          = ["config:write"]
  data_categories = []
  ttl             = "15m" # default 15m, at most 1h
}

# Use it, for example, in another provider's configuration:
#
# provider "billing" {
#   token = ephemeral.tokenguard_api_token.deploy.secret
# }
