package graph

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/enrollhook/enrollhook/pkg/change"
)

// PermissionName is the Graph application permission the function's identity
// needs for PATCH (and GET) on enrollment configuration assignments.
const PermissionName = "DeviceManagementServiceConfig.ReadWrite.All"

// fallbackRetryAfter is what a caller is told to wait when Graph said
// nothing: long enough not to hammer Intune's write limits.
const fallbackRetryAfter = 5 * time.Second

// ResponseError is Graph's answer to a failed call, for the operator's log:
// it is the Err of the *change.Error the client returns, found with
// errors.As. It holds identifiers and Graph's own words, never the request,
// the response body as a whole or the token.
type ResponseError struct {
	// Method and Operation name the call ("PATCH", "patchAssignment").
	Method    string
	Operation string
	// StatusCode is the HTTP status of the last attempt.
	StatusCode int
	// ErrorCode is Graph's error.code, the field to branch on
	// (e.g. "BadRequest", "ResourceNotFound", "No method match route template").
	ErrorCode string
	// Message is Graph's developer message, or the Message of the JSON
	// document Intune serializes into it (Intune's errors arrive as a JSON
	// string inside Graph's message),
	// truncated to 512 bytes. It may name Intune's backend URL: log it,
	// never send it to a caller.
	Message string
	// RequestID is Graph's request-id (response header, else innerError).
	RequestID string
	// ClientRequestID is the client-request-id this client sent.
	ClientRequestID string
	// ActivityID is the Intune "Activity ID" found in the message, if any;
	// Microsoft support asks for it.
	ActivityID string
	// Date is innerError.date as Graph wrote it (usually without a zone).
	Date string
	// RetryAfter is the wait Graph asked for, zero when it asked none.
	RetryAfter time.Duration
}

func (e *ResponseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "graph: %s %s: status %d", e.Method, e.Operation, e.StatusCode)
	if e.ErrorCode != "" {
		fmt.Fprintf(&b, " %s", e.ErrorCode)
	}
	fmt.Fprintf(&b, " (request-id %q, client-request-id %q", e.RequestID, e.ClientRequestID)
	if e.ActivityID != "" {
		fmt.Fprintf(&b, ", activity-id %q", e.ActivityID)
	}
	b.WriteByte(')')
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	return b.String()
}

// LogValue makes a logged ResponseError a JSON object rather than a string.
func (e *ResponseError) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("method", e.Method),
		slog.String("op", e.Operation),
		slog.Int("status", e.StatusCode),
		slog.String("graphCode", e.ErrorCode),
		slog.String("requestId", e.RequestID),
		slog.String("clientRequestId", e.ClientRequestID),
		slog.String("activityId", e.ActivityID),
		slog.String("date", e.Date),
		slog.String("message", e.Message),
	)
}

// odataError is the OData v4 error document Graph sends with 4xx and 5xx.
type odataError struct {
	Error struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError struct {
			RequestID string `json:"request-id"`
			Date      string `json:"date"`
		} `json:"innerError"`
	} `json:"error"`
}

// newResponseError reads what Graph said about a failure. A body that is
// not an OData error (a gateway's HTML page, nothing at all) leaves code and
// message empty; it is never copied in.
func newResponseError(k *call, resp *http.Response, payload []byte, clientRequestID string) *ResponseError {
	re := &ResponseError{
		Method:          k.method,
		Operation:       k.op,
		StatusCode:      resp.StatusCode,
		RequestID:       graphRequestID(resp.Header),
		ClientRequestID: clientRequestID,
	}
	re.RetryAfter, _ = retryAfter(resp)
	parseErrorBody(re, payload)
	return re
}

func parseErrorBody(re *ResponseError, payload []byte) {
	var doc odataError
	if len(payload) == 0 || json.Unmarshal(payload, &doc) != nil {
		return
	}
	re.ErrorCode = clip(doc.Error.Code, 128)
	re.Date = clip(doc.Error.InnerError.Date, 64)
	if re.RequestID == "" {
		re.RequestID = clip(doc.Error.InnerError.RequestID, 128)
	}
	msg := doc.Error.Message
	re.ActivityID = activityID(msg)
	if strings.HasPrefix(strings.TrimSpace(msg), "{") {
		var intune struct {
			Message string `json:"Message"`
		}
		if json.Unmarshal([]byte(msg), &intune) == nil && intune.Message != "" {
			msg = intune.Message
		}
	}
	re.Message = clip(msg, 512)
}

// activityID finds "Activity ID: <guid>" in an Intune message.
func activityID(msg string) string {
	const marker = "Activity ID:"
	i := strings.Index(msg, marker)
	if i < 0 {
		return ""
	}
	rest := strings.TrimLeft(msg[i+len(marker):], " ")
	if len(rest) < 36 || uuid.Validate(rest[:36]) != nil {
		return ""
	}
	return rest[:36]
}

// clip truncates s to at most n bytes of valid UTF-8.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}

// safeCode returns Graph's error code when it is short plain text that may
// appear in a caller-facing message, and "" otherwise.
func safeCode(code string) string {
	if code == "" || len(code) > 64 {
		return ""
	}
	for i := 0; i < len(code); i++ {
		c := code[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == ' ' || c == '.' || c == '_' || c == '-') {
			return ""
		}
	}
	return code
}

// statusError maps a non-2xx answer to the coded error callers see. The
// messages are fixed text plus, at most, Graph's error code.
func statusError(k *call, re *ResponseError) *change.Error {
	e := &change.Error{Err: re}
	what := "the request"
	if k.method == http.MethodPatch || k.op == OpAssign {
		what = "the change"
	}
	switch s := re.StatusCode; {
	case s == http.StatusNotFound:
		e.Code, e.Message = change.CodeNotFound, k.notFound
	case s == http.StatusUnauthorized:
		e.Code = change.CodeGraphPermission
		e.Message = "Graph did not accept the function's token; check its tenant and audience, and that the identity has the Graph application permission " + PermissionName + " with admin consent"
	case s == http.StatusForbidden:
		e.Code = change.CodeGraphPermission
		e.Message = "the function's identity needs the Graph application permission " + PermissionName + " with admin consent (and the tenant an Intune license)"
	case s == http.StatusTooManyRequests:
		e.Code, e.Message = change.CodeUnavailable, "Graph is throttling requests; try again later"
	case s == http.StatusRequestTimeout || s >= 500:
		e.Code, e.Message = change.CodeUnavailable, "Graph is unavailable; try again later"
	case s >= 400:
		e.Code = change.CodeGraphRefused
		if c := safeCode(re.ErrorCode); c != "" {
			e.Message = "Graph refused " + what + ": " + c
		} else {
			e.Message = fmt.Sprintf("Graph refused %s with status %d", what, s)
		}
	default:
		e.Code = change.CodeUnavailable
		e.Message = fmt.Sprintf("Graph answered with unexpected status %d", s)
	}
	if e.Code == change.CodeUnavailable {
		e.RetryAfter = callerRetryAfter(re.RetryAfter)
	}
	return e
}

// callerRetryAfter turns Graph's wait (or none) into what the caller is
// told: whole seconds, at least one, fallbackRetryAfter when Graph was
// silent.
func callerRetryAfter(d time.Duration) time.Duration {
	if d <= 0 {
		return fallbackRetryAfter
	}
	return (d + time.Second - 1).Truncate(time.Second)
}
