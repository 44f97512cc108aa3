// Command tokenguard is the token service, the CPRA plan checker and the admin CLI.
package main

import (
	"os"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/cli"
)

func main() { os.Exit(cli.Main()) }
