// Command terraform-provider-tokenguard is the Terraform provider for tokenguard.
// The provider itself lands with its own issue; this entry point already takes the usual flags.
package main

import (
	"flag"
	"fmt"
	"os"
)

// version is set by goreleaser: -ldflags "-X main.version=...".
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()
	fmt.Fprintf(os.Stderr, "terraform-provider-tokenguard %s: this plugin is started by Terraform\n", version)
	os.Exit(1)
}
