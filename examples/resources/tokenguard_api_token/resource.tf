variable "release" {
  description = "Release being deployed; a new release rotates the export token's secret."
  type        = string
}

resource "tokenguard_api_token" "billing_export" {
  name            = "billing-export"
  owner           = "team-finance@example.com"
  purpose         = "Nightly export of invoice totals to the finance data warehouse"
  scopes          = ["invoices:read"]
  data_categories = ["commercial", "identifiers"] # [] = reaches no personal information
  data_subjects   = ["customer:4411"]
  audiences       = ["warehouse"]
  ttl             = "30d"
  replace_before  = "3d" # plan a replacement three days before expiry

  rotation = {
    interval = "7d" # rotate weekly, in place: the id stays, the secret changes
    overlap  = "1h" # the previous secret keeps working for an hour
  }

  rotation_triggers = {
    release = var.release # any change rotates the secret
  }

  labels = {
    env = "prod"
  }
}

# Raising ttl later is a renewal and needs a review by someone other than the owner:
#
#   ttl = "45d"
#   renewal = {
#     reason      = "Quarter-end close needs two more weeks"
#     reviewed_by = "security@example.com"
#   }

# The secret is sensitive: hand it to its consumer without printing it, for example
# into a secret manager, and mark any output that carries it as sensitive.
output "billing_export_fingerprint" {
  value = tokenguard_api_token.billing_export.fingerprint
}
