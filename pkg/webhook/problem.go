package webhook

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/change"
)

// writeProblem writes err as application/problem+json. Only the coded,
// caller-safe message is sent; the cause goes to the log.
func (h *Handler) writeProblem(ctx context.Context, w http.ResponseWriter, err error, requestID string) apply.Problem {
	p, ce := apply.ProblemFor(err, requestID)
	if ce.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(ce.RetryAfter.Seconds()))))
	}
	if ce.Code == change.CodeInternal {
		h.log.ErrorContext(ctx, "internal error", slog.String("xRequestId", requestID), apply.Cause(err))
	}
	writeJSON(w, p.Status, "application/problem+json", p)
	return p
}

func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"type":"urn:enrollhook:problem:internal","title":"Internal error","status":500,"detail":"the answer could not be encoded","instance":"`+w.Header().Get(HeaderRequestID)+`"}`)
		contentType = "application/problem+json"
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
