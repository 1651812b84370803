package wiring

import (
	"context"
	"log/slog"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/config"
)

// TestAsyncQueueDeadLetters: under `make run` the in-process queue's
// workers dead-letter to its own list by default, or to the SQS queue of
// ENROLLHOOK_DEAD_LETTER_URL; with SQS the worker function does it, not
// the webhook; on Lambda the in-process queue is refused.
func TestAsyncQueueDeadLetters(t *testing.T) {
	const dlq = "https://sqs.eu-west-1.amazonaws.com/123456789012/enrollhook-dead-letters"
	queue := func(local bool, env map[string]string) (async, error) {
		t.Helper()
		env["AWS_REGION"], env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = "eu-west-1", "local", "local"
		b, err := newBuilder(context.Background(), func(k string) string { return env[k] }, slog.New(slog.DiscardHandler), &Options{Local: local})
		if err != nil || b.err() != nil {
			t.Fatal(err, b.err())
		}
		return b.asyncQueue()
	}
	a, err := queue(true, map[string]string{config.EnvQueueURL: "local"})
	if err != nil || a.local == nil || a.deadLetters != nil || a.sqs != nil {
		t.Fatalf("asyncQueue = %+v, %v; want the in-process queue and its own dead-letter list", a, err)
	}
	a.local.Close()
	a, err = queue(true, map[string]string{config.EnvQueueURL: "local", config.EnvDeadLetterURL: dlq})
	if err != nil || a.local == nil || a.deadLetters == nil {
		t.Fatalf("asyncQueue = %+v, %v; want the SQS dead-letter queue", a, err)
	}
	a.local.Close()
	a, err = queue(false, map[string]string{config.EnvQueueURL: "https://sqs.eu-west-1.amazonaws.com/123456789012/q", config.EnvDeadLetterURL: dlq})
	if err != nil || a.sqs == nil || a.deadLetters != nil || a.local != nil {
		t.Errorf("with SQS: %+v, %v; want the SQS queue and no dead letters (the worker function sends them)", a, err)
	}
	if _, err := queue(false, map[string]string{config.EnvQueueURL: "local"}); err == nil {
		t.Error("the in-process queue on Lambda: no error")
	}
}
