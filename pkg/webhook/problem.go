package webhook

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"unicode/utf8"

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

// appendProblem appends the apply.Problem of d with instance requestID, as
// json.Marshal encodes it.
func appendProblem(b []byte, d apply.Description, requestID string) []byte {
	b = append(b, `{"type":"`+apply.ProblemTypePrefix...)
	b = appendEscaped(b, d.Slug)
	b = append(b, `","title":`...)
	b = appendString(b, d.Title)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(d.Status), 10)
	if d.Err.Message != "" {
		b = append(b, `,"detail":`...)
		b = appendString(b, d.Err.Message)
	}
	if requestID != "" {
		b = append(b, `,"instance":`...)
		b = appendString(b, requestID)
	}
	if len(d.Err.Fields) > 0 {
		b = append(b, `,"errors":[`...)
		for i, f := range d.Err.Fields {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"field":`...)
			b = appendString(b, f.Field)
			b = append(b, `,"reason":`...)
			b = appendString(b, f.Reason)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendString appends s as a JSON string, escaped as json.Marshal
// escapes it (HTML characters, U+2028 and U+2029, invalid UTF-8 as
// U+FFFD).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendEscaped(b, s)
	return append(b, '"')
}

// asIs marks the bytes json.Marshal writes as they are: printable ASCII
// but '"', '\\' and the HTML characters '<', '>' and '&'.
var asIs = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

func appendEscaped(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if asIs[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
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
