package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/change"
)

// writeProblem writes err as application/problem+json and returns what it
// wrote. Only the coded, caller-safe message is sent; the cause goes to the
// log.
func (h *Handler) writeProblem(ctx context.Context, w http.ResponseWriter, err error, requestID string) apply.Description {
	d := apply.Describe(err)
	if d.Err.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Err.RetryAfter.Seconds()))))
	}
	if d.Err.Code == change.CodeInternal {
		h.log.ErrorContext(ctx, "internal error", slog.String("xRequestId", requestID), apply.Cause(err))
	}
	// A forged or malformed request is answered with this, so the body is
	// encoded by hand into a reused buffer rather than through
	// json.Marshal; problem_test.go holds it to json.Marshal's bytes.
	b := problemBuffers.Get().(*[]byte)
	*b = appendProblem((*b)[:0], d, requestID)
	writeBody(w, d.Status, "application/problem+json", *b)
	problemBuffers.Put(b)
	return d
}

var problemBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// mayHaveApplied ends the detail of a failure after which the change may
// be in Intune (change.MayHaveApplied): whatever the failure says of this
// attempt, a write of the delivery went to Graph without a clear answer.
const mayHaveApplied = " A write of this delivery went to Graph without a clear answer, so the change may have been applied: " +
	"send the delivery again (the same id), which reads Graph first and settles it."

// detailOf is the problem's detail: the error's caller-safe message, and
// for a change that may have been applied, mayHaveApplied, when the
// delivery was released for the sender's retry (a 5xx). A revert that
// stopped part way says itself what it did, and an enqueue the queue did
// not confirm that the change may be queued (no write went to Graph); a
// final refusal (kept, its replays answered alike) says what to do in
// its own words.
func detailOf(d apply.Description) string {
	if d.Status < 500 || d.Slug == string(change.KindQueueUnavailable) || !change.MayHaveApplied(d.Err) ||
		errors.Is(d.Err, change.ErrPartlyApplied) {
		return d.Err.Message
	}
	if d.Err.Message == "" {
		return strings.TrimSpace(mayHaveApplied)
	}
	return strings.TrimSuffix(d.Err.Message, ".") + "." + mayHaveApplied
}

// appendProblem appends the apply.Problem of d with instance requestID, as
// json.Marshal encodes it.
func appendProblem(b []byte, d apply.Description, requestID string) []byte {
	b = append(b, `{"type":"`+apply.ProblemTypePrefix...)
	b = change.AppendJSONEscaped(b, d.Slug)
	b = append(b, `","title":`...)
	b = change.AppendJSONString(b, d.Title)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(d.Status), 10)
	if msg := detailOf(d); msg != "" {
		b = append(b, `,"detail":`...)
		b = change.AppendJSONString(b, msg)
	}
	if requestID != "" {
		b = append(b, `,"instance":`...)
		b = change.AppendJSONString(b, requestID)
	}
	if len(d.Err.Fields) > 0 {
		b = append(b, `,"errors":[`...)
		for i, f := range d.Err.Fields {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"field":`...)
			b = change.AppendJSONString(b, f.Field)
			b = append(b, `,"reason":`...)
			b = change.AppendJSONString(b, f.Reason)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"type":"urn:enrollhook:problem:internal","title":"Internal error","status":500,"detail":"the answer could not be encoded","instance":"`+w.Header().Get(HeaderRequestID)+`"}`)
		contentType = "application/problem+json"
	}
	writeBody(w, status, contentType, b)
}

// writeBody sends b as the whole answer.
func writeBody(w http.ResponseWriter, status int, contentType string, b []byte) {
	// One allocation for both values instead of one per Header.Set.
	v := make([]string, 2)
	v[0], v[1] = contentType, strconv.Itoa(len(b))
	w.Header()["Content-Type"] = v[0:1:1]
	w.Header()["Content-Length"] = v[1:2:2]
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
