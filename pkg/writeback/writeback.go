// Package writeback posts the outcome of a change back to the ticket that
// approved it: a work note on the ServiceNow record (Table API) or a comment
// on the Jira issue (REST API v3, Atlassian Document Format). It is
// optional and best effort: the caller has already applied (or failed to
// apply) the change and answered for it; a write-back that fails is
// reported to the caller to log and count, never to the sender.
package writeback

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/enrollhook/enrollhook/pkg/sender"
)

// Outcomes of a change, as written to the ticket.
const (
	Applied = "applied" // Graph applied the change
	Refused = "refused" // Graph refused it (4xx): not found, refused, no permission
	Failed  = "failed"  // nothing was applied: refused before Graph (the policy or the window checked again), no write slot, the store unavailable, a fault of ours before the write
	// Unknown: Graph did not answer in time or kept failing after the
	// write was sent, or a fault of ours came after it, or the queue did
	// not confirm a queued change; it may have been applied. The sender
	// retries.
	Unknown = "unknown"
	// Partial: a revert put back (or cancelled) part of what it was to,
	// then stopped; the reason says what was done and what was not.
	Partial = "partial"
)

// Systems a ticket can be written back to: the sender route names.
const (
	ServiceNow = sender.ServiceNow
	Jira       = sender.Jira
)

// Timeout bounds one write-back; the caller's deadline bounds it too.
const Timeout = 3 * time.Second

// Note is what is written to the ticket. It carries ids and the
// caller-safe outcome, never a secret or the delivery's body.
type Note struct {
	// System is ServiceNow or Jira; anything else is not written back.
	System string
	// Ticket is the ticket's number (ServiceNow) or issue key (Jira).
	Ticket string
	// Record is the ServiceNow record as "table/sys_id"; empty for Jira.
	Record string
	// Outcome is Applied, Refused, Failed, Unknown or Partial; Problem and
	// Detail say why for all but the first (the problem type and its caller-safe sentence).
	Outcome, Problem, Detail string
	// RequestID is ours (X-Request-Id); GraphRequestID is Graph's
	// request-id of the write, when Graph answered.
	RequestID, GraphRequestID string
	// ApprovedBy and RequestedBy are as the sender named them.
	ApprovedBy, RequestedBy string
	// ConfigurationID, AssignmentID and TargetType name the change.
	ConfigurationID, AssignmentID, TargetType string
}

// ErrSkipped is returned (wrapped) when a note is not written: the system
// is not configured, or the ticket lacks the ids it needs.
var ErrSkipped = errors.New("writeback: skipped")

// Target is one ticket system's API: an https URL (http only to a loopback
// host, for tests) and credentials "user:secret" for HTTP Basic.
type Target struct {
	URL         string
	Credentials string
}

// String shows the URL, never the credentials.
func (t Target) String() string { return "{" + t.URL + " credentials=REDACTED}" }

// GoString is String, so %#v does not show the credentials either.
func (t Target) GoString() string { return t.String() }

func (t Target) configured() bool { return t.URL != "" && t.Credentials != "" }

// Options configure a Writer.
type Options struct {
	ServiceNow Target
	Jira       Target
	// Client sends the requests; default a client with Timeout.
	Client *http.Client
	// Timeout bounds one write-back; default Timeout.
	Timeout time.Duration
}

// Writer writes notes back to ServiceNow and Jira.
type Writer struct {
	opts     Options
	failures atomic.Int64
	written  atomic.Int64
}

// New returns a Writer; nil when neither system is configured.
func New(o Options) *Writer {
	if !o.ServiceNow.configured() && !o.Jira.configured() {
		return nil
	}
	if o.Timeout <= 0 {
		o.Timeout = Timeout
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: o.Timeout}
	}
	o.ServiceNow.URL = strings.TrimRight(o.ServiceNow.URL, "/")
	o.Jira.URL = strings.TrimRight(o.Jira.URL, "/")
	return &Writer{opts: o}
}

// Configured reports whether notes of system are written back.
func (w *Writer) Configured(system string) bool {
	if w == nil {
		return false
	}
	switch system {
	case ServiceNow:
		return w.opts.ServiceNow.configured()
	case Jira:
		return w.opts.Jira.configured()
	}
	return false
}

// Failures is how many write-backs failed since the process started.
func (w *Writer) Failures() int64 {
	if w == nil {
		return 0
	}
	return w.failures.Load()
}

// Written is how many notes were written since the process started.
func (w *Writer) Written() int64 {
	if w == nil {
		return 0
	}
	return w.written.Load()
}

// Write posts n to its ticket, within ctx's deadline and the Writer's own
// timeout. It returns an error wrapping ErrSkipped when nothing was sent
// (not configured, or the ticket lacks the ids), and any other error when
// the write-back failed; that error names the status or the kind of
// failure, never the credentials or a response body.
func (w *Writer) Write(ctx context.Context, n *Note) error {
	if !w.Configured(n.System) {
		return fmt.Errorf("%w: %q is not configured for write-back", ErrSkipped, n.System)
	}
	var (
		t      Target
		method string
		path   string
		body   any
	)
	switch n.System {
	case ServiceNow:
		table, sysID, _ := strings.Cut(n.Record, "/")
		if !sender.IsServiceNowTable(table) || !sender.IsServiceNowSysID(sysID) {
			return fmt.Errorf("%w: the ServiceNow delivery names no record (table and sys_id)", ErrSkipped)
		}
		t, method = w.opts.ServiceNow, http.MethodPatch
		path = "/api/now/table/" + url.PathEscape(table) + "/" + url.PathEscape(sysID)
		body = map[string]string{"work_notes": plainJournal(n.Text())}
	case Jira:
		if !sender.IsJiraIssueKey(n.Ticket) {
			return fmt.Errorf("%w: the ticket is not a Jira issue key", ErrSkipped)
		}
		t, method = w.opts.Jira, http.MethodPost
		path = "/rest/api/3/issue/" + url.PathEscape(n.Ticket) + "/comment"
		body = map[string]any{"body": adf(n.Text())}
	}
	err := w.send(ctx, t, method, path, body)
	if err != nil {
		w.failures.Add(1)
		return err
	}
	w.written.Add(1)
	return nil
}

func (w *Writer) send(ctx context.Context, t Target, method, path string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("writeback: encoding the note: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, t.URL+path, bytes.NewReader(b))
	if err != nil {
		return errors.New("writeback: the request could not be built")
	}
	user, secret, _ := strings.Cut(t.Credentials, ":")
	req.SetBasicAuth(user, secret)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := w.opts.Client.Do(req)
	if err != nil {
		// Only the kind of failure: a *url.Error quotes the URL, which is
		// harmless, but keep the line short and uniform.
		switch {
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			return fmt.Errorf("writeback: %s %s: timed out", method, path)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return fmt.Errorf("writeback: %s %s: timed out", method, path)
		}
		return fmt.Errorf("writeback: %s %s: the API could not be reached", method, path)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("writeback: %s %s: HTTP %d", method, path, resp.StatusCode)
	}
	return nil
}

// Text is the note as plain text, one fact a line.
func (n *Note) Text() string {
	var b strings.Builder
	switch n.Outcome {
	case Applied:
		b.WriteString("enrollhook: the Intune change was applied.")
	case Refused:
		b.WriteString("enrollhook: the Intune change was NOT applied: Microsoft Graph refused it.")
	case Unknown:
		b.WriteString("enrollhook: the Intune change could not be confirmed: Microsoft Graph did not answer in time or kept failing, so it may or may not have been applied. Check the assignment in Intune (or with the chat command show).")
	case Partial:
		b.WriteString("enrollhook: the Intune change was applied only in part (the reason below says what was done and what was not).")
	default:
		b.WriteString("enrollhook: the Intune change was NOT applied (the reason is below).")
	}
	line := func(k, v string) {
		if v != "" {
			b.WriteString("\n" + k + ": " + v)
		}
	}
	line("Outcome", n.Outcome)
	line("Problem", n.Problem)
	line("Reason", n.Detail)
	line("Configuration", n.ConfigurationID)
	line("Assignment", n.AssignmentID)
	line("Target type", n.TargetType)
	line("Approved by", n.ApprovedBy)
	line("Requested by", n.RequestedBy)
	line("Graph request id", n.GraphRequestID)
	line("enrollhook request id", n.RequestID)
	return b.String()
}

// adf is text as an Atlassian Document Format document: one paragraph per
// line.
func adf(text string) map[string]any {
	var content []any
	for _, l := range strings.Split(text, "\n") {
		content = append(content, map[string]any{"type": "paragraph",
			"content": []any{map[string]any{"type": "text", "text": l}}})
	}
	return map[string]any{"type": "doc", "version": 1, "content": content}
}

// codeTag is ServiceNow's [code]...[/code] markup, in any letter case and
// spacing, which a journal field renders as HTML.
// Compiled on first use, not at every cold start.
var codeTag = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)\[[\s\p{Z}]*/?[\s\p{Z}]*code[\s\p{Z}]*\]`) })

// plainJournal keeps a work note plain text: the note quotes names and
// reasons from the delivery, and a [code] tag in them would make
// ServiceNow render what follows as HTML (a link, a script) in the
// ticket's activity stream. The tags are dropped; nothing else changes.
func plainJournal(s string) string {
	if !strings.Contains(s, "[") {
		return s
	}
	for { // until none is left: dropping one can join another ("[co[code]de]")
		t := codeTag().ReplaceAllString(s, "")
		if t == s {
			return s
		}
		s = t
	}
}
