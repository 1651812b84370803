package wiring

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/queue"
)

// TestWorkerColdStartChecksThePolicy: the worker validates the same policy as
// the webhook (it checks every queued change against it again) and lists
// its problems with the others.
func TestWorkerColdStartChecksThePolicy(t *testing.T) {
	env := map[string]string{config.EnvPolicyJSON: `{"version": 1, "default": {"groups": ["nope"], "targetKinds": ["everything"]}}`}
	_, err := Worker(context.Background(), func(k string) string { return env[k] }, slog.New(slog.DiscardHandler), nil)
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("Worker = %v, want *config.Error", err)
	}
	for _, w := range []string{config.EnvIdempotency, config.EnvQueueSecret, config.EnvPolicyJSON + ": /default/groups/0", config.EnvPolicyJSON + ": /default/targetKinds/0"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("cold-start error lacks %q: %v", w, err)
		}
	}
	if len(ce.Problems) != 4 {
		t.Errorf("problems = %q, want 4", ce.Problems)
	}
}

// TestQueueKeyWhereMessagesCrossAQueue: the worker never starts without a
// queue key of its own, nor does a webhook that sends to SQS or to the
// scheduler; the published development key and a short key are refused
// there; the in-process queue of the local server may go without (the
// development key).
func TestQueueKeyWhereMessagesCrossAQueue(t *testing.T) {
	problems := func(err error) string {
		var ce *config.Error
		if errors.As(err, &ce) {
			return strings.Join(ce.Problems, "\n")
		}
		if err != nil {
			return err.Error()
		}
		return ""
	}
	log := slog.New(slog.DiscardHandler)
	sqsURL := "https://sqs.eu-west-1.amazonaws.com/123456789012/enrollhook-changes"
	for _, tc := range []struct {
		name, secret string
		build        func(getenv func(string) string) error
		want         string // in the problems; "" for no queue-key problem
	}{
		{"worker without a key", "", func(g func(string) string) error { _, err := Worker(context.Background(), g, log, nil); return err }, "must be set"},
		{"worker with the development key", queue.DevelopmentSecret, func(g func(string) string) error { _, err := Worker(context.Background(), g, log, nil); return err }, "published development key"},
		{"worker with the development key and the in-process queue's setting", queue.DevelopmentSecret, func(g func(string) string) error {
			env := func(k string) string {
				if k == config.EnvQueueURL {
					return config.QueueLocal
				}
				return g(k)
			}
			_, err := Worker(context.Background(), env, log, nil)
			return err
		}, "published development key"},
		{"worker with a short key", "short", func(g func(string) string) error { _, err := Worker(context.Background(), g, log, nil); return err }, "at least 32 bytes"},
		{"webhook to SQS without a key", "", func(g func(string) string) error {
			env := func(k string) string {
				if k == config.EnvQueueURL {
					return sqsURL
				}
				return g(k)
			}
			_, _, err := Webhook(context.Background(), env, log, nil)
			return err
		}, "must be set"},
		{"local server with the in-process queue", "", func(g func(string) string) error {
			env := func(k string) string {
				if k == config.EnvQueueURL {
					return config.QueueLocal
				}
				return g(k)
			}
			_, _, err := Webhook(context.Background(), env, log, &Options{Local: true})
			return err
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{config.EnvQueueSecret: tc.secret}
			got := problems(tc.build(func(k string) string { return env[k] }))
			if tc.want == "" {
				if strings.Contains(got, config.EnvQueueSecret) {
					t.Errorf("problems name %s: %s", config.EnvQueueSecret, got)
				}
				return
			}
			if !strings.Contains(got, config.EnvQueueSecret) || !strings.Contains(got, tc.want) {
				t.Errorf("problems = %s, want %s: %s", got, config.EnvQueueSecret, tc.want)
			}
			if tc.secret != "" && strings.Contains(got, tc.secret) {
				t.Errorf("the problems quote the key")
			}
		})
	}
}
