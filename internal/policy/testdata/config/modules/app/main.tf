variable "regions" {
  type = set(string)
}

resource "tokenguard_api_token" "generic" {
  for_each = var.regions
  name     = "misc-${each.key}"
  purpose  = "test"
  ttl      = "365d"
}

module "loop" {
  source = "../app"
}
