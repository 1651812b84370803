// Command webhook is the enrollhook function's Lambda bootstrap: it serves
// API Gateway HTTP API (payload 2.0) events, and answers an `aws lambda
// invoke` with an enrollhookCheck payload with the preflight
// (wiring.Event). It is wiring only: pkg/wiring builds everything once, at
// cold start. The local server, send, sign and check are functions/local's,
// which is never deployed.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/enrollhook/enrollhook/pkg/lambdalog"
	"github.com/enrollhook/enrollhook/pkg/wiring"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "enrollhook:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	if getenv("AWS_LAMBDA_RUNTIME_API") == "" {
		return fmt.Errorf("this is the Lambda bootstrap; locally, run `go run ./functions/local serve -emulator` (make run)")
	}
	log := lambdalog.New()
	slog.SetDefault(log)
	h, err := wiring.WebhookLambda(ctx, getenv, log, nil)
	if err != nil {
		// Failing the init phase makes Lambda report an init error instead
		// of answering callers with a half-configured function.
		log.Error("cold start failed", slog.String("error", err.Error()))
		return err
	}
	lambda.StartWithOptions(h, lambda.WithContext(ctx), lambda.WithEnableSIGTERM())
	return nil
}
