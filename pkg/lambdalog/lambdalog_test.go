package lambdalog

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// invocation is a context as aws-lambda-go's invoke loop makes it: the
// Lambda context, and the trace header under the loop's plain string key.
func invocation(trace string) context.Context {
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "8f5c0a9e-req"})
	return invokeContext{ctx, trace}
}

type invokeContext struct {
	context.Context
	trace string
}

func (c invokeContext) Value(key any) any {
	if key == any(traceContextKey) {
		return c.trace
	}
	return c.Context.Value(key)
}

func TestTraceID(t *testing.T) {
	tests := []struct{ header, want string }{
		{"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1", "1-5759e988-bd862e3fe1be46a994272793"},
		{"Parent=53995c3f42cd8ad8; Root=1-5759e988-bd862e3fe1be46a994272793", "1-5759e988-bd862e3fe1be46a994272793"},
		{"Sampled=0", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := TraceID(invocation(tt.header)); got != tt.want {
			t.Errorf("TraceID(%q) = %q, want %q", tt.header, got, tt.want)
		}
	}
	if got := TraceID(context.Background()); got != "" {
		t.Errorf("TraceID(outside an invocation) = %q, want empty", got)
	}
}

// TestEveryLineCarriesTheTrace: lines from the logger, from loggers derived
// with With and WithGroup, at every level, carry traceId in an invocation
// and not outside one.
func TestEveryLineCarriesTheTrace(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	ctx := invocation("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	log.InfoContext(ctx, "audit", "outcome", "applied")
	log.With("sender", "generic").WarnContext(ctx, "graph call")
	log.DebugContext(ctx, "debug")
	log.ErrorContext(ctx, "graph credential failed")
	log.WithGroup("g").InfoContext(ctx, "grouped", "k", "v")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("lines = %d, want 5:\n%s", len(lines), buf.String())
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %s", l)
		}
		got, _ := m[TraceKey].(string)
		if g, ok := m["g"].(map[string]any); ok && got == "" {
			got, _ = g[TraceKey].(string)
		}
		if got != "1-5759e988-bd862e3fe1be46a994272793" {
			t.Errorf("line %s: traceId = %q, want the invocation's", l, got)
		}
	}
	buf.Reset()
	log.Info("cold start")
	if strings.Contains(buf.String(), TraceKey) {
		t.Errorf("a line outside an invocation has a trace id: %s", buf.String())
	}
}
