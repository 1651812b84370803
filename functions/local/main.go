// Command local is enrollhook on a developer's machine; it is never
// deployed, and neither Lambda bootstrap links it. Subcommands:
//
//	local serve [-emulator]       the function as a local HTTP server on ENROLLHOOK_ADDR;
//	                              -emulator starts the embedded Graph emulator and uses it
//	local send [flags] FILE       sign a sample (an events/ file or a bare envelope) and send it
//	local sign [-secret S] EVENT  print an events/ sample re-signed now, for sam local invoke
//	local check -configuration ID preflight: credential, token, Graph reachability, permission
//	local check -emulator         the same preflight against the embedded Graph emulator
//
// It builds the handler with the same wiring as the Lambda function, but
// takes AWS settings from the SDK's default chain (profiles, SSO, ...).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/enrollhook/enrollhook/pkg/wiring"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "enrollhook:", err)
		os.Exit(1)
	}
}

// run runs one command. o tunes the wiring (a test's local Entra and STS);
// nil means the defaults, with the AWS SDK's default configuration chain,
// which a developer's machine needs and a Lambda function does not.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, o *wiring.Options) error {
	var opts wiring.Options
	if o != nil {
		opts = *o
	}
	opts.Local = true
	if opts.AWS == nil {
		opts.AWS = func(ctx context.Context) (aws.Config, error) { return awsconfig.LoadDefaultConfig(ctx) }
	}
	cmd := ""
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "", "serve":
		return serve(ctx, args, getenv, stdout, stderr, &opts)
	case "send":
		return send(ctx, args, getenv, stdout, stderr)
	case "sign":
		return sign(args, getenv, stdout, stderr)
	case "check":
		return check(ctx, args, getenv, stdout, stderr, &opts)
	default:
		return fmt.Errorf("unknown command %q; use serve, send or sign, or check for the Graph preflight", cmd)
	}
}
