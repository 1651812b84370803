// Command events applies changes that arrive as EventBridge events
// (template.yaml, EventsFunction): a rule on a bus invokes it with each
// event, whose detail is the generic envelope. It is wiring only:
// pkg/wiring builds everything once, at cold start, and pkg/eventbridge
// handles each event (the policy's allow-list, the pipeline, the outcome).
//
// It reads the same environment as the worker: Graph, credential, policy
// (with its eventbridge allow-list), de-duplication table, change records
// and write limit. The handler returns an error only for a retryable
// failure, so that Lambda retries the asynchronous invocation and then
// sends the event to the dead-letter queue; a refusal is final.
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
		fmt.Fprintln(os.Stderr, "enrollhook events:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	if getenv("AWS_LAMBDA_RUNTIME_API") == "" {
		return fmt.Errorf("the events function runs on Lambda only; `sam local invoke EventsFunction -e events/eventbridge-approved.json` runs it locally")
	}
	log := lambdalog.New()
	slog.SetDefault(log)
	h, err := wiring.Events(ctx, getenv, log, nil)
	if err != nil {
		// Failing the init phase makes Lambda report an init error; the
		// asynchronous invocation is retried, then dead-lettered.
		log.Error("cold start failed", slog.String("error", err.Error()))
		return err
	}
	lambda.StartWithOptions(h, lambda.WithContext(ctx), lambda.WithEnableSIGTERM())
	return nil
}
