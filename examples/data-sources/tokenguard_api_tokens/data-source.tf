# Active tokens that reach health data (sensitive personal information).
data "tokenguard_api_tokens" "health" {
  status        = "active"
  data_category = "health"
}

# Tokens bound to one consumer, for a CPRA deletion request.
data "tokenguard_api_tokens" "customer_4411" {
  subject = "customer:4411"
}

# Tokens of one team not used for 90 days: candidates for revocation.
data "tokenguard_api_tokens" "stale" {
  owner      = "team-finance@example.com"
  unused_for = "90d"
}

output "stale_token_ids" {
  value = data.tokenguard_api_tokens.stale.ids
}
