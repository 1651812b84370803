// Command worker applies queued changes: the consumer of the SQS queue of
// the async path (template.yaml, WorkerFunction). Each SQS record is one
// change the webhook authenticated, validated, found approved and recorded;
// the worker applies it exactly once through the same apply step as the
// webhook's and reports the records to receive again (partial batch
// failures). It is wiring only: pkg/wiring builds everything once, at cold
// start.
//
// It reads the same environment as the webhook, less the sender secrets it
// does not need: Graph, credential, de-duplication table and write limit;
// and one setting of its own, ENROLLHOOK_DEAD_LETTER_URL, where it sends a
// message it gives up on with the reason.
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
		fmt.Fprintln(os.Stderr, "enrollhook worker:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	if getenv("AWS_LAMBDA_RUNTIME_API") == "" {
		return fmt.Errorf("the worker runs on Lambda only; locally, ENROLLHOOK_QUEUE_URL=local makes the local server run the same worker in process")
	}
	log := lambdalog.New()
	slog.SetDefault(log)
	h, err := wiring.Worker(ctx, getenv, log, nil)
	if err != nil {
		// Failing the init phase makes Lambda report an init error; the
		// messages stay in the queue.
		log.Error("cold start failed", slog.String("error", err.Error()))
		return err
	}
	lambda.StartWithOptions(h, lambda.WithContext(ctx), lambda.WithEnableSIGTERM())
	return nil
}
