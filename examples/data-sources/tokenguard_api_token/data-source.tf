# Look a token up by id...
data "tokenguard_api_token" "by_id" {
  id = "tok_0123456789ABCDEF"
}

# ...or by owner and name.
data "tokenguard_api_token" "billing_export" {
  owner = "team-finance@example.com"
  name  = "billing-export"
}

output "billing_export_expires_at" {
  value = data.tokenguard_api_token.billing_export.expires_at
}
