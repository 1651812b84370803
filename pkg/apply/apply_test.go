package apply_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/limiter"
)

// answerGraph answers every PATCH with res, or fails with err.
type answerGraph struct {
	noGraph
	res *graph.Result
	err error
}

func (g answerGraph) PatchAssignment(context.Context, string, string, any) (*graph.Result, error) {
	return g.res, g.err
}

// slots is a Limiter that refuses with err, or grants.
type slots struct{ err error }

func (s slots) Wait(context.Context) (func(), error) {
	if s.err != nil {
		return nil, s.err
	}
	return func() {}, nil
}

func decoded(t *testing.T) *change.Request {
	t.Helper()
	req, err := change.Decode([]byte(body), nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestApplyAnswersWhatGraphHolds: the answer is Graph's body without its
// control annotations, with Graph's request id as a header; when Graph
// applied the change but the read-back failed, it is what was applied,
// marked X-Enrollhook-Read-Back: failed, not an error the sender would
// retry.
func TestApplyAnswersWhatGraphHolds(t *testing.T) {
	req := decoded(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	p := apply.New(answerGraph{res: &graph.Result{RequestID: "g-1",
		Body: []byte(`{"@odata.context":"https://graph.microsoft.com/beta/$metadata#x","id":"a","target":{}}`)}}, &apply.Options{Logger: quiet})
	a, err := p.Apply(context.Background(), req, "r-1")
	if err != nil || string(a.Body) != `{"id":"a","target":{}}` || a.Headers[apply.HeaderGraphRequestID] != "g-1" || a.Headers[apply.HeaderReadBack] != "" {
		t.Fatalf("Apply = %s %v, %v", a.Body, a.Headers, err)
	}
	p = apply.New(answerGraph{res: &graph.Result{RequestID: "g-2", ReadBackErr: errors.New("read-back: 503")}}, &apply.Options{Logger: quiet})
	a, err = p.Apply(context.Background(), req, "r-2")
	if err != nil || a.Headers[apply.HeaderReadBack] != "failed" || !strings.Contains(string(a.Body), `"id":"`+req.AssignmentID+`"`) ||
		!strings.Contains(string(a.Body), "5e6f0000-0000-0000-0000-000000000001") {
		t.Fatalf("Apply after a failed read-back = %s %v, %v", a.Body, a.Headers, err)
	}
	refused := &change.Error{Code: change.CodeGraphRefused, Message: "Graph refused the change"}
	p = apply.New(answerGraph{err: refused}, &apply.Options{Logger: quiet})
	if a, err := p.Apply(context.Background(), req, "r-3"); !errors.Is(err, refused) || a == nil || a.Body != nil {
		t.Fatalf("Apply refused = %+v, %v", a, err)
	}
}

// TestWriteSlotRefusals: a write slot that would come too late is 503
// write-limit with the limiter's Retry-After; any other wait failure is
// out of time. Nothing reaches Graph either way.
func TestWriteSlotRefusals(t *testing.T) {
	req := decoded(t)
	for _, tc := range []struct {
		err   error
		code  change.Code
		slug  string
		after time.Duration
	}{
		{&limiter.BudgetError{RetryAfter: 7 * time.Second}, change.CodeUnavailable, "write-limit", 7 * time.Second},
		{context.DeadlineExceeded, change.CodeTimeout, "out-of-time", 5 * time.Second},
	} {
		p := apply.New(noGraph{}, &apply.Options{Update: apply.Update{Limiter: slots{tc.err}}})
		_, err := p.Apply(context.Background(), req, "r")
		var ce *change.Error
		if !errors.As(err, &ce) || ce.Code != tc.code || apply.Slug(err) != tc.slug || ce.RetryAfter != tc.after {
			t.Errorf("Apply with %v = %v, want %s (%s) after %s", tc.err, err, tc.code, tc.slug, tc.after)
		}
	}
}

// TestAuditOutcomes: a dry run writes no line; a refusal is the caller's
// (4xx) and a failure Graph's or ours; every line carries every key.
func TestAuditOutcomes(t *testing.T) {
	if got := apply.FailedOutcome(&change.Error{Code: change.CodeNotFound}); got != apply.AuditRefused {
		t.Errorf("FailedOutcome(not found) = %s", got)
	}
	if got := apply.FailedOutcome(errors.New("boom")); got != apply.AuditFailed {
		t.Errorf("FailedOutcome(internal) = %s", got)
	}
	// Told as the ticket is: a change that may have been applied is
	// unknown, whatever its status; a revert stopped part way partial.
	for _, c := range []struct {
		err  error
		want string
	}{
		{change.Mark(errors.New("boom"), change.ErrOutcomeUnknown), apply.AuditUnknown},
		{change.Mark(&change.Error{Code: change.CodeGraphRefused}, change.ErrOutcomeUnknown), apply.AuditUnknown},
		{&change.Error{Code: change.CodeTimeout}, apply.AuditUnknown},
		{&change.Error{Code: change.CodeTimeout, Err: change.ErrNothingSent}, apply.AuditFailed},
		{&change.Error{Code: change.CodeGraphRefused}, apply.AuditFailed},
		{change.Mark(change.Mark(&change.Error{Code: change.CodeForbidden, Kind: change.KindOutsideWindow}, change.ErrOutcomeUnknown), change.ErrPartlyApplied), apply.AuditPartial},
	} {
		if got := apply.FailedOutcome(c.err); got != c.want {
			t.Errorf("FailedOutcome(%v) = %s, want %s", c.err, got, c.want)
		}
	}
	var logs bytes.Buffer
	p := apply.New(noGraph{}, &apply.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	p.Audit(context.Background(), &apply.Entry{Outcome: "planned", Start: time.Now()})
	if logs.Len() != 0 {
		t.Fatalf("a plan wrote %s", logs.String())
	}
	p.Audit(context.Background(), &apply.Entry{Outcome: apply.AuditRefused, Reason: "not-approved", Start: time.Now()})
	line := strings.SplitN(logs.String(), "\n", 2)[0]
	for _, k := range []string{"xRequestId", "deliveryId", "sender", "ticketId", "ticketUrl", "requester", "approver",
		"configurationId", "assignmentId", "before", "after", "graphRequestId", "clientRequestId", "outcome", "reason", "durationMs"} {
		if !strings.Contains(line, `"`+k+`":`) {
			t.Errorf("audit line lacks %s: %s", k, line)
		}
	}
	if !strings.Contains(logs.String(), `"msg":"`+apply.MetricsMessage+`"`) || !strings.Contains(logs.String(), `"Refused":1`) {
		t.Errorf("no metrics document: %s", logs.String())
	}
}
