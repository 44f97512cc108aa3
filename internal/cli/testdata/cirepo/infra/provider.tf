variable "tokenguard_policy_enforcement" {
  type    = string
  default = "mandatory"
}

provider "tokenguard" {
  endpoint = "https://tokens.example.com"
  policy = {
    enforcement = var.tokenguard_policy_enforcement
  }
}
