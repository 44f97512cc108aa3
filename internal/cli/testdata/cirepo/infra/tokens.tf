# Tokens of the billing team.

resource "tokenguard_api_token" "billing" {
  name            = "billing-report"
  purpose         = "Reads invoice totals from the billing API for the monthly revenue report"
  owner           = "team-finance"
  scopes          = ["invoices:read"]
  data_categories = ["commercial"]
  ttl             = "400d"
  rotation {
    interval = "7d"
    overlap  = "1h"
  }
}
