package eventbridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/policy"
)

// detailMarker is a top-level property of every test detail that no log
// line may carry: the handler logs ids, never the detail.
const detailMarker = "detail-marker-5f1c0e"

const (
	source     = "com.contoso.cmdb"
	account    = "111122223333"
	detailType = "Enrollment Change Approved"
)

// detail is an approved change of the generic envelope; extra is spliced
// in at the top level.
func detail(extra string) json.RawMessage {
	return json.RawMessage(`{` + extra + `"note":"` + detailMarker + `",` +
		`"ticket":{"id":"CHG0030042","system":"servicenow","state":"approved","requestedBy":"alice@contoso.com","approvedBy":"bob@contoso.com"},` +
		`"configurationId":"2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_Windows10EnrollmentCompletionPageConfiguration",` +
		`"assignmentId":"2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_5e6f0000-0000-0000-0000-000000000001",` +
		`"assignment":{"target":{"@odata.type":"microsoft.graph.groupAssignmentTarget","groupId":"5e6f0000-0000-0000-0000-000000000001"},"source":"direct"}}`)
}

func event(id string, d json.RawMessage) events.EventBridgeEvent {
	return events.EventBridgeEvent{Version: "0", ID: id, Source: source, AccountID: account, DetailType: detailType,
		Time: time.Now().UTC(), Region: "eu-west-1", Detail: d}
}

// fakeGraph is an in-memory Graph behind a mutex: a PATCH answers the
// assignment sent, a GET the assignment as it is; or each fails with err.
type fakeGraph struct {
	mu            sync.Mutex
	patches, gets int
	err           error
}

var _ apply.Graph = (*fakeGraph)(nil)

func (f *fakeGraph) PatchAssignment(ctx context.Context, cfg, asg string, body any) (*graph.Result, error) {
	b, _ := json.Marshal(body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.patches++
	if f.err != nil {
		return nil, f.err
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	m["id"] = asg
	out, _ := json.Marshal(m)
	return &graph.Result{Body: out, RequestID: "graph-req-1"}, nil
}

func (f *fakeGraph) GetAssignment(ctx context.Context, cfg, asg string) (*graph.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	if f.err != nil {
		return nil, f.err
	}
	return &graph.Result{Body: []byte(`{"id":"` + asg + `","source":"direct","target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"7a8b0000-0000-0000-0000-000000000002"}}`), RequestID: "graph-req-2"}, nil
}

func (f *fakeGraph) counts() (patches, gets int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.patches, f.gets
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines(msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range bytes.Split(l.b.Bytes(), []byte("\n")) {
		var m map[string]any
		if json.Unmarshal(line, &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

const allowList = `{"version":1,"eventbridge":{"sources":["` + source + `"],"accounts":["` + account + `"],"detailTypes":["` + detailType + `"]}}`

// newHandler is a handler over g with the embedded store and the policy
// allowList (nil: the built-in policy, without an allow-list).
func newHandler(t *testing.T, g apply.Graph, withAllowList bool) (*Handler, *lockedBuffer) {
	t.Helper()
	pol := policy.Default()
	if withAllowList {
		var err error
		if pol, err = policy.Parse([]byte(allowList), "test", false); err != nil {
			t.Fatal(err)
		}
	}
	logs := &lockedBuffer{}
	p := apply.New(g, &apply.Options{Logger: testLogger(logs), Policy: pol,
		Dedupe: apply.Dedupe{Store: idempotency.NewMemory(nil, 0)}})
	return New(p, pol), logs
}

// TestAnEventOutsideItsTimeIsRefused: an event older than its id is kept
// (less an hour), or dated ahead of the clock, or without a time, is
// refused before anything is read, with the reason in its audit line; so
// the same event sent again after its record expired is never applied a
// second time.
func TestAnEventOutsideItsTimeIsRefused(t *testing.T) {
	g := &fakeGraph{}
	h, logs := newHandler(t, g, true)
	old := event("e-old", detail(""))
	old.Time = time.Now().Add(-47*time.Hour - time.Minute)
	ahead := event("e-ahead", detail(""))
	ahead.Time = time.Now().Add(10 * time.Minute)
	none := event("e-none", detail(""))
	none.Time = time.Time{}
	for _, ev := range []events.EventBridgeEvent{old, ahead, none} {
		if err := h.Handle(context.Background(), ev); err != nil {
			t.Fatalf("%s: Handle = %v, want nil (refused for good)", ev.ID, err)
		}
	}
	if p, gets := g.counts(); p != 0 || gets != 0 {
		t.Errorf("%d PATCHes, %d GETs for events refused on their time", p, gets)
	}
	a := logs.lines(apply.AuditMessage)
	want := []string{"timestamp-out-of-window", "timestamp-out-of-window", "malformed-request"}
	if len(a) != len(want) {
		t.Fatalf("audit lines %v, want %d", a, len(want))
	}
	for i, w := range want {
		if a[i]["outcome"] != "refused" || a[i]["reason"] != w {
			t.Errorf("audit line %d = %v, want refused %s", i, a[i], w)
		}
	}

	// An event applied within its time, sent again once its record is
	// gone: refused, not applied again.
	recent := event("e-recent", detail(""))
	recent.Time = time.Now().Add(-46 * time.Hour)
	if err := h.Handle(context.Background(), recent); err != nil {
		t.Fatal(err)
	}
	h.now = func() time.Time { return time.Now().Add(3 * time.Hour) }
	if err := h.Handle(context.Background(), recent); err != nil {
		t.Fatal(err)
	}
	if p, _ := g.counts(); p != 1 {
		t.Errorf("%d PATCHes, want 1: the event within its time, once", p)
	}
	if a := logs.lines(apply.AuditMessage); a[len(a)-1]["reason"] != "timestamp-out-of-window" {
		t.Errorf("the late copy's audit line = %v", a[len(a)-1])
	}
}

// TestHandleMapsOutcomes: each outcome of the pipeline is nil (decided:
// applied, planned, replayed, refused) or a *RetryError (retryable), with
// one audit line per decision and its reason.
func TestHandleMapsOutcomes(t *testing.T) {
	unavailable := &change.Error{Code: change.CodeUnavailable, Message: "Graph is unavailable"}
	tests := []struct {
		name      string
		ev        func() events.EventBridgeEvent
		graphErr  error
		noAllow   bool
		retry     bool
		patches   int
		gets      int
		audit     string // the audit outcome; "" for none
		reason    string
		eventLine string
	}{
		{name: "approved", ev: func() events.EventBridgeEvent { return event("e-1", detail("")) }, patches: 1, audit: "applied", eventLine: "applied"},
		{name: "dry run", ev: func() events.EventBridgeEvent { return event("e-1", detail(`"dryRun":true,`)) }, gets: 1, eventLine: "planned"},
		{name: "dry run, any value", ev: func() events.EventBridgeEvent { return event("e-1", detail(`"DryRun":"yes",`)) }, gets: 1, eventLine: "planned"},
		{name: "dryRun false", ev: func() events.EventBridgeEvent { return event("e-1", detail(`"dryRun":false,`)) }, patches: 1, audit: "applied", eventLine: "applied"},
		{name: "dry_run spelled otherwise", ev: func() events.EventBridgeEvent { return event("e-1", detail(`"dry_run":true,`)) }, gets: 1, eventLine: "planned"},
		{name: "DRY-RUN spelled otherwise", ev: func() events.EventBridgeEvent { return event("e-1", detail(`"DRY-RUN":1,`)) }, gets: 1, eventLine: "planned"},
		{name: "dryRun false after dry_run true", ev: func() events.EventBridgeEvent { return event("e-1", detail(`"dry_run":true,"dryRun":false,`)) }, gets: 1, eventLine: "planned"},
		{name: "dry_run false", ev: func() events.EventBridgeEvent { return event("e-1", detail(`"dry_run":false,`)) }, patches: 1, audit: "applied", eventLine: "applied"},
		{name: "source not listed", ev: func() events.EventBridgeEvent { e := event("e-1", detail("")); e.Source = "com.contoso.hr"; return e },
			audit: "refused", reason: "policy-event", eventLine: "refused"},
		{name: "account not listed", ev: func() events.EventBridgeEvent { e := event("e-1", detail("")); e.AccountID = "444455556666"; return e },
			audit: "refused", reason: "policy-event", eventLine: "refused"},
		{name: "no allow-list", noAllow: true, ev: func() events.EventBridgeEvent { return event("e-1", detail("")) },
			audit: "refused", reason: "policy-event", eventLine: "refused"},
		{name: "no id", ev: func() events.EventBridgeEvent { return event("", detail("")) }, audit: "refused", reason: "malformed-request", eventLine: "refused"},
		{name: "malformed detail", ev: func() events.EventBridgeEvent { return event("e-1", json.RawMessage(`{"ticket":`)) },
			audit: "refused", reason: "malformed-json", eventLine: "refused"},
		{name: "no detail", ev: func() events.EventBridgeEvent { return event("e-1", nil) }, audit: "refused", reason: "malformed-json", eventLine: "refused"},
		{name: "invalid detail", ev: func() events.EventBridgeEvent { return event("e-1", json.RawMessage(`{"ticket":{"id":"X"}}`)) },
			audit: "refused", reason: "invalid-fields", eventLine: "refused"},
		{name: "not approved", ev: func() events.EventBridgeEvent {
			return event("e-1", json.RawMessage(strings.Replace(string(detail("")), `"approved"`, `"rejected"`, 1)))
		}, audit: "refused", reason: "not-approved", eventLine: "refused"},
		{name: "graph unavailable", ev: func() events.EventBridgeEvent { return event("e-1", detail("")) }, graphErr: unavailable,
			retry: true, patches: 1, eventLine: "retry"},
		{name: "graph not found", ev: func() events.EventBridgeEvent { return event("e-1", detail("")) },
			graphErr: &change.Error{Code: change.CodeNotFound, Message: "no such assignment"}, patches: 1, audit: "refused", reason: "not-found", eventLine: "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &fakeGraph{err: tt.graphErr}
			h, logs := newHandler(t, g, !tt.noAllow)
			err := h.Handle(context.Background(), tt.ev())
			var re *RetryError
			if tt.retry != errors.As(err, &re) || !tt.retry && err != nil {
				t.Fatalf("Handle = %v, want retry %v", err, tt.retry)
			}
			if tt.retry && (re.Problem != "graph-unavailable" && re.Problem != string(change.CodeUnavailable) || !strings.Contains(re.Error(), "e-1")) {
				t.Errorf("RetryError = %q (problem %q)", re.Error(), re.Problem)
			}
			if p, gets := g.counts(); p != tt.patches || gets != tt.gets {
				t.Errorf("Graph PATCHes, GETs = %d, %d, want %d, %d", p, gets, tt.patches, tt.gets)
			}
			audits := logs.lines(apply.AuditMessage)
			switch {
			case tt.audit == "" && len(audits) != 0:
				t.Errorf("audit lines %v, want none", audits)
			case tt.audit != "" && len(audits) != 1:
				t.Errorf("%d audit lines, want 1", len(audits))
			case tt.audit != "":
				a := audits[0]
				if a["outcome"] != tt.audit || a["sender"] != "eventbridge" || a["deliveryId"] != tt.ev().ID && tt.ev().ID != "" {
					t.Errorf("audit line %v, want outcome %s from eventbridge", a, tt.audit)
				}
				if tt.reason != "" && a["reason"] != tt.reason {
					t.Errorf("audit reason = %v, want %s", a["reason"], tt.reason)
				}
				if tt.audit == "refused" && len(logs.lines(apply.MetricsMessage)) != 1 {
					t.Error("a refusal wrote no metrics document")
				}
			}
			lines := logs.lines("eventbridge")
			if len(lines) != 1 || lines[0]["outcome"] != tt.eventLine {
				t.Errorf("eventbridge lines %v, want one with outcome %s", lines, tt.eventLine)
			}
		})
	}
}

// TestHandleAppliesAnEventOnce: EventBridge delivers at least once with the
// same id; the second delivery is answered from the store.
func TestHandleAppliesAnEventOnce(t *testing.T) {
	g := &fakeGraph{}
	h, logs := newHandler(t, g, true)
	for range 2 {
		if err := h.Handle(context.Background(), event("e-dup", detail(""))); err != nil {
			t.Fatal(err)
		}
	}
	if p, _ := g.counts(); p != 1 {
		t.Errorf("%d PATCHes, want 1", p)
	}
	var outcomes []any
	for _, a := range logs.lines(apply.AuditMessage) {
		outcomes = append(outcomes, a["outcome"])
	}
	if len(outcomes) != 2 || outcomes[0] != "applied" || outcomes[1] != "replayed" {
		t.Errorf("audit outcomes %v, want applied, replayed", outcomes)
	}
	// Another event id is another delivery.
	if err := h.Handle(context.Background(), event("e-other", detail(""))); err != nil {
		t.Fatal(err)
	}
	if p, _ := g.counts(); p != 2 {
		t.Errorf("%d PATCHes, want 2", p)
	}
}

// TestHandleKeepsRefusals: a refusal after the take (Graph: not found) is
// kept with its reason, so the redelivered event gets it again without
// reaching Graph; a retryable failure is released, so the retry runs.
func TestHandleKeepsRefusals(t *testing.T) {
	g := &fakeGraph{err: &change.Error{Code: change.CodeNotFound, Message: "no such assignment"}}
	h, _ := newHandler(t, g, true)
	for range 2 {
		if err := h.Handle(context.Background(), event("e-gone", detail(""))); err != nil {
			t.Fatal(err)
		}
	}
	if p, _ := g.counts(); p != 1 {
		t.Errorf("%d PATCHes for a refused event delivered twice, want 1", p)
	}

	g = &fakeGraph{err: &change.Error{Code: change.CodeUnavailable, Message: "Graph is unavailable"}}
	h, logs := newHandler(t, g, true)
	if err := h.Handle(context.Background(), event("e-busy", detail(""))); err == nil {
		t.Fatal("Handle = nil for Graph unavailable, want a retry")
	}
	g.mu.Lock()
	g.err = nil
	g.mu.Unlock()
	if err := h.Handle(context.Background(), event("e-busy", detail(""))); err != nil {
		t.Fatalf("the retry: Handle = %v", err)
	}
	if p, _ := g.counts(); p != 2 {
		t.Errorf("%d PATCHes, want 2 (the failure, then the retry)", p)
	}
	if a := logs.lines(apply.AuditMessage); len(a) != 1 || a[0]["outcome"] != "applied" {
		t.Errorf("audit lines %v, want one: applied (a retry is not a decision)", a)
	}
}
