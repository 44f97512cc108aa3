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

  # Plan-time CPRA policy gate: every planned token is checked against the policy bundle
  # embedded in the provider, the same one `tokenguard check` runs in CI. Without this block
  # the gate is on and mandatory.
  policy = {
    enforcement = "mandatory" # "advisory" turns findings into warnings; "off" skips the gate

    # Optional, relative to the working directory:
    # paths        = ["./policies"]   # extra Rego policies (tokenguard check --policy)
    # data_file    = "./cpra.json"    # thresholds and erased data subjects (--data)
    # waivers_file = "./waivers.yaml" # reviewed, expiring exceptions (--waivers)
  }
}
