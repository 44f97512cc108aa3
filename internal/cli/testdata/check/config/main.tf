provider "tokenguard" {
  endpoint = "https://tokens.example.com"
}

resource "tokenguard_api_token" "good" {
  name    = "billing-report"
  purpose = "Reads invoice totals from the billing API for the monthly revenue report"
  ttl     = "30d"
}

module "app" {
  source = "./modules/app"
}

module "remote" {
  source = "registry.example.com/acme/tokens/tokenguard"
}
