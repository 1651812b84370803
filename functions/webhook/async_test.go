package main

import (
	"context"
	"log/slog"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/queue"
)

// TestAsyncOptionsDeadLetters: under `make run` the in-process queue's
// workers dead-letter to its own list by default, or to the SQS queue of
// ENROLLHOOK_DEAD_LETTER_URL; with SQS the worker function does it, not
// the webhook.
func TestAsyncOptionsDeadLetters(t *testing.T) {
	const dlq = "https://sqs.eu-west-1.amazonaws.com/123456789012/enrollhook-dead-letters"
	load := func(env map[string]string) config.Config {
		t.Helper()
		c, err := config.Load(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	log := slog.New(slog.DiscardHandler)
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "local")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")

	q, start, dl, err := asyncOptions(context.Background(), load(map[string]string{config.EnvQueueURL: "local"}), log, false)
	if err != nil || start == nil {
		t.Fatalf("asyncOptions = %v", err)
	}
	if local, ok := q.(*queue.Local); !ok || dl != local {
		t.Errorf("dead letters = %T, want the in-process queue's own list", dl)
	}
	q.(*queue.Local).Close()

	q, _, dl, err = asyncOptions(context.Background(), load(map[string]string{config.EnvQueueURL: "local", config.EnvDeadLetterURL: dlq}), log, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := dl.(*queue.SQS); !ok {
		t.Errorf("dead letters = %T, want the SQS queue", dl)
	}
	q.(*queue.Local).Close()

	_, _, dl, err = asyncOptions(context.Background(), load(map[string]string{config.EnvQueueURL: "https://sqs.eu-west-1.amazonaws.com/123456789012/q", config.EnvDeadLetterURL: dlq}), log, true)
	if err != nil || dl != nil {
		t.Errorf("with SQS: dead letters %T, %v; want none (the worker function sends them)", dl, err)
	}
}
