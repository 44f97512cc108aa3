# Tokens that meet the CPRA rules: a specific purpose, a named owner, one narrow scope,
# declared data categories (and subjects), an audience, a 30-day lifetime and scheduled
# rotation with a short overlap. Changing `release` rotates invoice_export's secret in place.
#
#   export TOKENGUARD_ENDPOINT=http://127.0.0.1:8790 TOKENGUARD_TOKEN=...
#   terraform apply -var release=1
#   terraform apply -var release=2   # same id, secret_version 2
#
# After `tokenguard erase --subject customer:4411` the token is revoked, and the next plan is
# blocked by CPRA-DEL-001 until customer:4411 is removed from data_subjects.

terraform {
  required_providers {
    tokenguard = {
      source = "tokenguard/tokenguard"
    }
  }
}

variable "release" {
  description = "Release being deployed; a new value rotates the token's secret."
  type        = string
  default     = "1"
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

resource "tokenguard_api_token" "invoice_export" {
  name            = "invoice-export"
  owner           = "team-billing@example.com"
  purpose         = "Nightly export of paid invoices to the accounting system"
  scopes          = ["invoices:read"]
  data_categories = ["commercial", "identifiers"]
  data_subjects   = ["customer:4411"]
  audiences       = ["accounting"]
  ttl             = "30d"

  rotation = {
    interval = "7d"
    overlap  = "1h"
  }

  rotation_triggers = {
    release = var.release
  }
}

# A second token that reaches customer data without acting for one customer: a deletion
# request does not revoke it, but names its owner as a holder to notify.
resource "tokenguard_api_token" "crm_sync" {
  name            = "crm-sync"
  owner           = "team-sales@example.com"
  purpose         = "Hourly sync of customer contact records from the CRM to the support desk"
  scopes          = ["contacts:read"]
  data_categories = ["identifiers", "customer_records"]
  audiences       = ["support-desk"]
  ttl             = "30d"

  rotation = {
    interval = "14d"
    overlap  = "2h"
  }
}

output "token_id" {
  value = tokenguard_api_token.invoice_export.id
}

output "secret_version" {
  value = tokenguard_api_token.invoice_export.secret_version
}

# The fingerprint is a keyed, non-reversible reference to the secret: safe to print.
# The secret itself is sensitive and is never an output here.
output "fingerprint" {
  value = tokenguard_api_token.invoice_export.fingerprint
}
