package lambdalog

import (
	"context"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// TraceKey is the key of the trace id on every line of an invocation (in
// the group, for a logger derived with WithGroup).
const TraceKey = "traceId"

// traceContextKey is the context key under which aws-lambda-go's invoke
// loop stores the invocation's X-Amzn-Trace-Id header (it also sets
// _X_AMZN_TRACE_ID, which one process shares across invocations, so the
// context is the reliable source).
const traceContextKey = "x-amzn-trace-id"

// New returns the logger the functions use on Lambda.
func New() *slog.Logger {
	return slog.New(NewHandler(lambdacontext.NewLogHandler()))
}

// NewHandler adds the invocation's trace id to every record next passes on.
func NewHandler(next slog.Handler) slog.Handler {
	return &handler{next: next}
}

type handler struct{ next slog.Handler }

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	if id := TraceID(ctx); id != "" {
		r.AddAttrs(slog.String(TraceKey, id))
	}
	return h.next.Handle(ctx, r)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &handler{next: h.next.WithAttrs(attrs)}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{next: h.next.WithGroup(name)}
}

// TraceID returns the X-Ray trace id of the invocation ctx belongs to: the
// Root of its X-Amzn-Trace-Id header (1-5759e988-bd862e3fe1be46a994272793),
// which the X-Ray console searches by; "" outside an invocation.
func TraceID(ctx context.Context) string {
	header, _ := ctx.Value(traceContextKey).(string)
	for part := range strings.SplitSeq(header, ";") {
		if root, ok := strings.CutPrefix(strings.TrimSpace(part), "Root="); ok {
			return root
		}
	}
	return ""
}
