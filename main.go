// Command terraform-provider-tokenguard is the Terraform provider for tokenguard: it manages API
// tokens with a declared purpose, owner, data reach, expiry and rotation schedule.
package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/provider"
)

// Registry docs in docs/ are generated from the schema descriptions and examples/:
//go:generate go run ./internal/policy/mappingguide templates/guides/cpra-mapping.md.tmpl
//go:generate go -C tools/tfplugindocs tool tfplugindocs generate --provider-dir ../.. --provider-name tokenguard

// version is set at build time: -ldflags "-X main.version=...".
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()
	// Terraform drops the SDK's trace lines unless TF_LOG is set: do not format them at all then.
	provider.QuietUnreadSDKLogs(debug)

	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: "registry.terraform.io/tokenguard/tokenguard",
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err)
	}
}
