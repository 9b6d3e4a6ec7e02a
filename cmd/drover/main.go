// Command drover is the whole of Drover in one binary: the server, the
// worker, a dev cluster, the CLI and the benchmark. See `drover --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/drover-run/drover/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
