// Command flowsync keeps Adobe Experience Platform Amazon S3 base connections in the state
// that a YAML manifest declares. See README.md.
package main

import (
	"context"
	"os"

	"github.com/flowsync/flowsync/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], cli.Std()))
}
