// Package lambdamain is the bootstrap the deployed functions share
// (functions/webhook, functions/worker, functions/events): it refuses to
// run off Lambda, sets the Lambda logger (pkg/lambdalog) as slog's default,
// builds the function's handler once with pkg/wiring at cold start (its Graph
// token fetched in the background meanwhile), and
// hands it to the Lambda runtime until SIGTERM. Each function's main
// package names only what differs: its stderr prefix, its hint for running
// it locally and its builder.
package lambdamain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/enrollhook/enrollhook/pkg/lambdalog"
	"github.com/enrollhook/enrollhook/pkg/wiring"
)

// Builder builds a function's handler at cold start: wiring.WebhookLambda,
// wiring.WorkerLambda or wiring.EventsLambda.
type Builder[H any] func(ctx context.Context, getenv func(string) string, log *slog.Logger, o *wiring.Options) (H, error)

// Main is a function's main: Run with the process environment, stopped by
// an interrupt or SIGTERM. On an error it prints it to stderr after prefix
// (e.g. "enrollhook worker:") and exits 1.
func Main[H any](prefix, hint string, build Builder[H]) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, os.Getenv, hint, build); err != nil {
		fmt.Fprintln(os.Stderr, prefix, err)
		os.Exit(1)
	}
}

// Run serves the function on Lambda: it returns hint as the error when
// AWS_LAMBDA_RUNTIME_API is unset (not on Lambda), and the builder's error,
// logged as "cold start failed", when the handler cannot be built; failing
// the init phase makes Lambda report an init error. Otherwise the Lambda
// runtime serves the handler until ctx ends.
func Run[H any](ctx context.Context, getenv func(string) string, hint string, build Builder[H]) error {
	if getenv("AWS_LAMBDA_RUNTIME_API") == "" {
		return errors.New(hint)
	}
	start := time.Now()
	log := lambdalog.New()
	slog.SetDefault(log)
	// The Graph token is fetched while the cold start goes on.
	h, err := build(ctx, getenv, log, &wiring.Options{PrefetchToken: true})
	if err != nil {
		log.Error("cold start failed", slog.String("error", err.Error()))
		return err
	}
	// What building took, of the init duration Lambda reports (which also
	// counts the process start and the packages' initialisation).
	log.InfoContext(ctx, "initialised", slog.Float64("buildMs", float64(time.Since(start).Microseconds())/1000))
	lambda.StartWithOptions(h, lambda.WithContext(ctx), lambda.WithEnableSIGTERM())
	return nil
}
