package wiring

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/config"
)

// TestEventsColdStartListsProblems: the events function needs the
// de-duplication table (EventBridge delivers at least once) and validates
// the policy, its eventbridge section included, listing every problem.
func TestEventsColdStartListsProblems(t *testing.T) {
	env := map[string]string{config.EnvPolicyJSON: `{"version": 1, "eventbridge": {"sources": ["com.contoso.cmdb"], "accounts": ["12"]}}`}
	_, err := Events(context.Background(), func(k string) string { return env[k] }, slog.New(slog.DiscardHandler), nil)
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("Events = %v, want *config.Error", err)
	}
	for _, w := range []string{config.EnvIdempotency, config.EnvPolicyJSON + ": /eventbridge/accounts/0", config.EnvPolicyJSON + ": /eventbridge/detailTypes: required"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("cold-start error lacks %q: %v", w, err)
		}
	}
}
