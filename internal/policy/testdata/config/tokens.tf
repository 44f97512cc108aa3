# Tokens of other providers.

resource "gitlab_project_access_token" "deploy" {
  project = "acme/app"
  name    = "deploy"
  scopes  = ["read_repository"]
}
