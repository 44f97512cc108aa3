# Find the finance team's active tokens with `terraform query` (Terraform 1.14 and later),
# for example to generate import blocks with `terraform query -generate-config-out=tokens.tf`.
list "tokenguard_api_token" "finance" {
  provider = tokenguard

  config {
    owner  = "team-finance@example.com"
    status = "active"
  }
}
