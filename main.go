// Command wxlogin is a stateless login server for WeChat Mini Programs:
// it exchanges a wx.login code for a short-lived signed JWT that carries
// the user's session_key sealed inside, and publishes the public keys
// that downstream APIs verify it with.
//
//	wxlogin [serve] [-dev]   serve HTTP (configuration: WXLOGIN_* variables)
//	wxlogin keygen [-ed25519] [-shell]
//	                          print fresh key material as WXLOGIN_…=… lines
//	wxlogin healthcheck       exit 0 when the local server is healthy
//	wxlogin -h                print every variable with its default
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "wxlogin: %v\n", err)
		os.Exit(1)
	}
}

// run is the whole program: it dispatches on the subcommand and returns
// when the work is done or ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd, rest := "serve", args[1:]
	if len(rest) > 0 && len(rest[0]) > 0 && rest[0][0] != '-' {
		cmd, rest = rest[0], rest[1:]
	}
	switch cmd {
	case "serve":
		return runServe(ctx, rest, stdout, stderr)
	case "keygen":
		return runKeygen(rest, stdout, stderr)
	case "healthcheck":
		return runHealthcheck(ctx, rest, stdout, stderr)
	case "help":
		return runServe(ctx, []string{"-h"}, stdout, stderr)
	default:
		return fmt.Errorf("unknown command %q (want serve, keygen or healthcheck)", cmd)
	}
}
