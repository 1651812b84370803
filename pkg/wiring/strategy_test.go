package wiring

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/webhook"
)

// TestBuildWiresTheUpdateStrategy: ENROLLHOOK_UPDATE_STRATEGY reaches the
// handler (auto when unset), and an unknown one fails the cold start.
func TestBuildWiresTheUpdateStrategy(t *testing.T) {
	for _, tc := range []struct{ value, want string }{{"", "auto"}, {"patch", "patch"}, {"assign", "assign"}, {"put", ""}} {
		env := map[string]string{
			"ENROLLHOOK_GRAPH_URL":       "http://127.0.0.1:1/beta",
			"IDENTITY_ENDPOINT":          "http://127.0.0.1:1/msi/token",
			"IDENTITY_HEADER":            "h",
			"ENROLLHOOK_UPDATE_STRATEGY": tc.value,
		}
		h, _, err := build(func(k string) string { return env[k] }, slog.New(slog.NewTextHandler(io.Discard, nil)), false)
		if tc.want == "" {
			if err == nil || !strings.Contains(err.Error(), "ENROLLHOOK_UPDATE_STRATEGY") {
				t.Errorf("%q: build = %v, want a problem naming ENROLLHOOK_UPDATE_STRATEGY", tc.value, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: build = %v", tc.value, err)
		}
		wh, ok := h.(*webhook.Handler)
		if !ok {
			t.Fatalf("build returned %T", h)
		}
		if got, _ := wh.UpdateStrategy(); got != tc.want {
			t.Errorf("%q: strategy = %q, want %q", tc.value, got, tc.want)
		}
	}
}
