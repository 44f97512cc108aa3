// Command terraform-provider-tokenguard is the Terraform provider for tokenguard: it manages API
// tokens with a declared purpose, owner, data reach, expiry and rotation schedule.
package main

import (
	"context"
	"flag"
	"log"
	"os"
	runtimedebug "runtime/debug"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/provider"
)

// Registry docs in docs/ are generated from the schema descriptions and examples/:
//go:generate go run ./internal/policy/mappingguide templates/guides/cpra-mapping.md.tmpl
//go:generate go -C tools/tfplugindocs tool tfplugindocs generate --provider-dir ../.. --provider-name tokenguard

// providerGCPercent is the provider process's garbage collector target unless GOGC is set.
const providerGCPercent = 400

// version is set at build time: -ldflags "-X main.version=...".
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()
	// Terraform drops the SDK's trace lines unless TF_LOG is set: do not format them at all then.
	provider.QuietUnreadSDKLogs(debug)
	// A plan converts every resource's values several times (tftypes, the framework's
	// reflection, policy values): a sixth of the provider's CPU in a plan of 500 tokens went
	// to the garbage collector at the default GOGC=100. The provider's heap is tens of MB, so
	// collecting a quarter as often costs little memory (docs/benchmarks.md). GOGC wins if set.
	if os.Getenv("GOGC") == "" {
		runtimedebug.SetGCPercent(providerGCPercent)
	}

	stopProfile, err := provider.StartCPUProfile()
	if err != nil {
		log.Fatal(err)
	}
	err = providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: "registry.terraform.io/tokenguard/tokenguard",
		Debug:   debug,
	})
	stopProfile()
	if err != nil {
		log.Fatal(err)
	}
}
