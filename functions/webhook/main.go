// Command webhook is the enrollhook function. Under the Lambda runtime
// (AWS_LAMBDA_RUNTIME_API set) it serves API Gateway HTTP API events;
// otherwise it is a local HTTP server on ENROLLHOOK_ADDR. Subcommands:
//
//	bootstrap                    Lambda, or the local server
//	bootstrap serve [-emulator]  the local server; -emulator starts the embedded Graph emulator
//	bootstrap send [flags] FILE  sign a sample (an events/ file or a bare envelope) and send it
//	bootstrap sign [-secret S] EVENT  print an events/ sample re-signed now, for sam local invoke
//	bootstrap check -configuration ID  preflight: credential, token, Graph reachability, permission
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "enrollhook:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := ""
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "":
		if getenv("AWS_LAMBDA_RUNTIME_API") != "" {
			return runLambda(ctx, getenv)
		}
		return serve(ctx, nil, getenv, stdout, stderr)
	case "serve":
		return serve(ctx, args, getenv, stdout, stderr)
	case "send":
		return send(ctx, args, getenv, stdout, stderr)
	case "sign":
		return sign(args, getenv, stdout, stderr)
	case "check":
		return check(ctx, args, getenv, stdout, stderr)
	default:
		return fmt.Errorf("unknown command %q; use serve, send or sign, or check for the Graph preflight", cmd)
	}
}
