# A token that breaks the CPRA rules: a wildcard scope, health data with no audience bound,
# a 60-day lifetime (the cap is 30 days for sensitive data) and no rotation. With the
# default (mandatory) policy gate, `terraform plan` stops with one error per rule id.
#
#   export TOKENGUARD_ENDPOINT=http://127.0.0.1:8790 TOKENGUARD_TOKEN=...
#   terraform plan                                      # blocked by the provider gate
#   terraform plan -var enforcement=advisory -out=tfplan
#   terraform show -json tfplan > plan.json
#   tokenguard check plan.json                          # blocked by the CI gate

terraform {
  required_providers {
    tokenguard = {
      source = "tokenguard/tokenguard"
    }
  }
}

variable "enforcement" {
  description = "Plan-time policy gate: mandatory (errors), advisory (warnings) or off."
  type        = string
  default     = "mandatory"
}

# endpoint and token come from TOKENGUARD_ENDPOINT and TOKENGUARD_TOKEN.
provider "tokenguard" {
  policy = {
    enforcement = var.enforcement
  }
}

resource "tokenguard_api_token" "patient_sync" {
  name            = "patient-sync"
  owner           = "team-care@example.com"
  purpose         = "Synchronise patient appointment records to the scheduling system"
  scopes          = ["*"]
  data_categories = ["health", "identifiers"]
  ttl             = "60d"
}
