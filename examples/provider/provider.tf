terraform {
  required_providers {
    tokenguard = {
      source = "tokenguard/tokenguard"
    }
  }
}

# The admin credential comes from the TOKENGUARD_TOKEN environment variable, so it never
# appears in configuration files. The endpoint may also come from TOKENGUARD_ENDPOINT.
provider "tokenguard" {
  endpoint = "https://tokens.example.com"
}
