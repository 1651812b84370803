package change

import (
	"errors"
	"fmt"
	"time"
)

// Code classifies an error for the caller. The HTTP layer maps each code to
// one status and one problem type; nothing else about an error reaches a
// caller.
type Code string

// Error codes. The comment names the HTTP status the webhook answers with.
const (
	CodeMalformed        Code = "malformed-json"          // 400
	CodeUnauthenticated  Code = "unauthenticated"         // 401 (refined by Reason)
	CodeNotApproved      Code = "not-approved"            // 403
	CodeForbidden        Code = "forbidden"               // 403
	CodeUnknownSource    Code = "unknown-source"          // 404
	CodeNotFound         Code = "not-found"               // 404
	CodeMethodNotAllowed Code = "method-not-allowed"      // 405
	CodeConflict         Code = "conflict"                // 409
	CodeTooLarge         Code = "body-too-large"          // 413
	CodeMediaType        Code = "unsupported-media-type"  // 415
	CodeInvalid          Code = "invalid-fields"          // 422
	CodeGraphRefused     Code = "graph-refused"           // 502
	CodeGraphPermission  Code = "graph-permission-denied" // 502
	CodeUnavailable      Code = "graph-unavailable"       // 503
	CodeTimeout          Code = "out-of-time"             // 503
	CodeInternal         Code = "internal"                // 500
)

// FieldError is one invalid field, named by its JSON pointer (RFC 6901) into
// the request body, never by a Go field name.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Error is the one error type that carries a Code. Message is written for the
// caller and must never quote a secret, a signature, a token, a Graph URL or
// a raw Graph body.
type Error struct {
	Code Code
	// Kind refines the problem type inside a code, for example
	// KindSignatureMismatch inside CodeUnauthenticated (kind.go). Empty
	// means the code itself is the problem type.
	Kind    Kind
	Message string
	Fields  []FieldError
	// RetryAfter, when positive, is sent to the caller as Retry-After.
	RetryAfter time.Duration
	// Err is the cause, for the operator's log only.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrNothingSent is the cause of a timeout reached before any write went
// to Graph (a lock or a write slot that did not come, no time left to
// call): the outcome is known, nothing was applied.
var ErrNothingSent = errors.New("change: nothing was sent to Graph")

// ErrOutcomeUnknown marks a failure that came after a write went to Graph
// without a clear answer (a timeout, Graph unavailable or throttled, a
// fault of ours once it was sent, or a write retried after such an answer
// and then refused): the change may or may not have been applied, and
// whoever tells of the failure must say so. It outranks ErrNothingSent.
var ErrOutcomeUnknown = errors.New("change: the write may have been applied")

// ErrPartlyApplied marks a failure of a change made of several writes (a
// revert of a ticket's changes) after some of them were applied, or held
// changes cancelled; its message says which.
var ErrPartlyApplied = errors.New("change: part of the change was applied")

// Mark returns err with cause joined into its chain: a copy of err when it
// is an *Error (code, kind, message and retry hint unchanged), else
// errors.Join(cause, err), which keeps the rest of err's chain. A nil err
// stays nil.
func Mark(err, cause error) error {
	if err == nil || errors.Is(err, cause) {
		return err
	}
	ce, ok := err.(*Error)
	if !ok {
		return errors.Join(cause, err)
	}
	e := *ce
	e.Err = errors.Join(cause, ce.Err)
	return &e
}

// OutcomeUnknown reports whether err leaves it unknown whether the change
// was applied (ErrOutcomeUnknown).
func OutcomeUnknown(err error) bool { return errors.Is(err, ErrOutcomeUnknown) }

// MayHaveApplied reports whether the failure err leaves its change
// possibly applied, so that nobody is told it was not: marked so
// (ErrOutcomeUnknown), or Graph unavailable or out of time (the codes
// themselves, no kind) without ErrNothingSent: the write may have reached
// Graph before it stopped answering. The ticket, the audit line and the
// chat reply all tell it by this.
func MayHaveApplied(err error) bool {
	if OutcomeUnknown(err) {
		return true
	}
	if err == nil || errors.Is(err, ErrNothingSent) {
		return false
	}
	e, ok := errors.AsType[*Error](err)
	return ok && e.Kind == "" && (e.Code == CodeTimeout || e.Code == CodeUnavailable)
}

// Errorf returns an *Error with the given code and a caller-safe message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or
// CodeInternal for any other non-nil error.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err == nil {
		return ""
	}
	return CodeInternal
}
