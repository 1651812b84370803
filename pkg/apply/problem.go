package apply

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graph"
)

// ProblemTypePrefix starts every problem type URI; the slug after it names
// the exact reason (see the table of problem types in docs/contract.md).
const ProblemTypePrefix = "urn:enrollhook:problem:"

type problemSpec struct {
	status int
	title  string
}

var problems = map[change.Code]problemSpec{
	change.CodeMalformed:        {http.StatusBadRequest, "Malformed JSON"},
	change.CodeUnauthenticated:  {http.StatusUnauthorized, "Not authenticated"},
	change.CodeNotApproved:      {http.StatusForbidden, "Not approved"},
	change.CodeForbidden:        {http.StatusForbidden, "Forbidden"},
	change.CodeUnknownSource:    {http.StatusNotFound, "Unknown route"},
	change.CodeNotFound:         {http.StatusNotFound, "Not found in Intune"},
	change.CodeMethodNotAllowed: {http.StatusMethodNotAllowed, "Method not allowed"},
	change.CodeConflict:         {http.StatusConflict, "Conflict"},
	change.CodeTooLarge:         {http.StatusRequestEntityTooLarge, "Body too large"},
	change.CodeMediaType:        {http.StatusUnsupportedMediaType, "Unsupported media type"},
	change.CodeInvalid:          {http.StatusUnprocessableEntity, "Invalid fields"},
	change.CodeGraphRefused:     {http.StatusBadGateway, "Graph refused the change"},
	change.CodeGraphPermission:  {http.StatusBadGateway, "Graph permission missing"},
	change.CodeUnavailable:      {http.StatusServiceUnavailable, "Graph unavailable"},
	change.CodeTimeout:          {http.StatusServiceUnavailable, "Out of time"},
	change.CodeInternal:         {http.StatusInternalServerError, "Internal error"},
}

// Problem is the RFC 9457 body.
type Problem struct {
	Type     string              `json:"type"`
	Title    string              `json:"title"`
	Status   int                 `json:"status"`
	Detail   string              `json:"detail,omitempty"`
	Instance string              `json:"instance,omitempty"`
	Errors   []change.FieldError `json:"errors,omitempty"`
}

// ProblemFor maps an error to its RFC 9457 problem, and returns the coded
// error it read. Anything without a code is an internal error whose text
// stays in the log. The request path writes it as problem+json; the worker
// and the audit line read its slug and status.
func ProblemFor(err error, requestID string) (Problem, *change.Error) {
	d := Describe(err)
	return Problem{
		Type:     ProblemTypePrefix + d.Slug,
		Title:    d.Title,
		Status:   d.Status,
		Detail:   d.Err.Message,
		Instance: requestID,
		Errors:   d.Err.Fields,
	}, d.Err
}

// Description is what a problem is made of (ProblemFor), without building
// it: the request path encodes a refusal from it directly.
type Description struct {
	// Err is the coded error read: err's own, or an internal one for
	// anything without a code.
	Err *change.Error
	// Slug is the problem type after ProblemTypePrefix.
	Slug, Title string
	Status      int
}

// Describe reads the problem of err without allocating for a coded error.
func Describe(err error) Description {
	ce, ok := errors.AsType[*change.Error](err)
	if !ok {
		ce = &change.Error{Code: change.CodeInternal, Message: "an internal error occurred; the operator's log has the request id", Err: err}
	}
	spec, ok := problems[ce.Code]
	if !ok {
		spec = problems[change.CodeInternal]
	}
	slug, title := string(ce.Code), spec.title
	if ce.Kind != "" {
		// A kind's own title, where its code's would mislead, is
		// change's (kind.go): the one table of kinds.
		slug = string(ce.Kind)
		if t := ce.Kind.Title(); t != "" {
			title = t
		}
	}
	if len(ce.Fields) > MaxFieldErrors {
		// A body of thousands of unknown keys is refused in a few
		// kilobytes, not an answer many times its size.
		e := *ce
		e.Fields = ce.Fields[:MaxFieldErrors:MaxFieldErrors]
		e.Message += " (the first " + strconv.Itoa(MaxFieldErrors) + " of " + strconv.Itoa(len(ce.Fields)) + " field errors are listed)"
		ce = &e
	}
	return Description{Err: ce, Slug: slug, Title: title, Status: spec.status}
}

// MaxFieldErrors is the most field errors a problem lists.
const MaxFieldErrors = 50

// Cause describes an error's cause for the operator's log without the
// Graph URL or Intune's message text (which can name backend URLs): Graph
// failures are logged by their ids, transport errors without their URL.
// Every cause the pipeline, the handler and the worker log goes through it
// (or NamedCause).
func Cause(err error) slog.Attr { return NamedCause("cause", err) }

// NamedCause is Cause under another attribute name.
func NamedCause(key string, err error) slog.Attr {
	var re *graph.ResponseError
	if errors.As(err, &re) {
		return slog.Group(key, slog.Int("status", re.StatusCode), slog.String("graphCode", re.ErrorCode),
			slog.String("graphRequestId", re.RequestID), slog.String("clientRequestId", re.ClientRequestID),
			slog.String("activityId", re.ActivityID))
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return slog.String(key, ue.Op+": "+redactURLs(ue.Err.Error()))
	}
	if ce := (*change.Error)(nil); errors.As(err, &ce) {
		if ce.Err != nil {
			return NamedCause(key, ce.Err)
		}
		// A coded error without a cause: its message is written for callers.
		return slog.String(key, ce.Message)
	}
	return slog.String(key, redactURLs(err.Error()))
}

// urlText finds absolute URLs in an error's text.
var urlText = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.-]*://[^\s"'<>]+`)

// redactURLs replaces every URL in s by "<url>", so a log line names no
// Graph path, query or ticket link.
func redactURLs(s string) string {
	return urlText.ReplaceAllString(s, "<url>")
}
