package wiring

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/config"
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
	for _, w := range []string{config.EnvIdempotency, config.EnvPolicyJSON + ": /default/groups/0", config.EnvPolicyJSON + ": /default/targetKinds/0"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("cold-start error lacks %q: %v", w, err)
		}
	}
	if len(ce.Problems) != 3 {
		t.Errorf("problems = %q, want 3", ce.Problems)
	}
}
