package apply_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/limiter"
	"github.com/enrollhook/enrollhook/pkg/record"
	"github.com/enrollhook/enrollhook/pkg/writeback"
)

// A refusal or failure never claims more than is known: a write that may
// have been applied is told as unknown, and a revert that stopped part way
// says what it put back.

// multiGraph holds assignments by id, each all-devices until written; a
// PATCH of failOn fails with failErr, without writing.
type multiGraph struct {
	mu      sync.Mutex
	held    map[string][]byte
	failOn  string
	failErr error
	writes  int
}

func (g *multiGraph) PatchAssignment(_ context.Context, _, asg string, body any) (*graph.Result, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if asg == g.failOn && g.failErr != nil {
		return nil, g.failErr
	}
	var m map[string]any
	b, _ := json.Marshal(body)
	_ = json.Unmarshal(b, &m)
	m["id"] = asg
	g.held[asg], _ = json.Marshal(m)
	g.writes++
	return &graph.Result{Body: g.held[asg], RequestID: "patch"}, nil
}

func (g *multiGraph) GetAssignment(_ context.Context, _, asg string) (*graph.Result, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held[asg] == nil {
		g.held[asg] = []byte(`{"id":"` + asg + `","target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}`)
	}
	return &graph.Result{Body: g.held[asg], RequestID: "get"}, nil
}

// targetType is the @odata.type of the target Graph holds for asg.
func (g *multiGraph) targetType(asg string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var a struct {
		Target map[string]any `json:"target"`
	}
	_ = json.Unmarshal(g.held[asg], &a)
	s, _ := a.Target["@odata.type"].(string)
	return s
}

// grants is a write limiter that grants n slots, then refuses, as Intune's
// budget would.
type grants struct {
	mu sync.Mutex
	n  int
}

func (s *grants) Wait(context.Context) (func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n <= 0 {
		return nil, &limiter.BudgetError{RetryAfter: time.Second}
	}
	s.n--
	return func() {}, nil
}

func (s *grants) add(n int) { s.mu.Lock(); s.n += n; s.mu.Unlock() }

const (
	asg1 = "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_5e6f0000-0000-0000-0000-000000000001"
	asg2 = "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_5e6f0000-0000-0000-0000-000000000002"
)

// twoChanges applies two changes of ticket CHG0030042 (deliveries A1, to
// asg1, and A2, to asg2).
func twoChanges(t *testing.T, p *apply.Pipeline) {
	t.Helper()
	if o := runServiceNow(p, "A1", decoded(t)); o.Err != nil {
		t.Fatal(o.Err)
	}
	req2, err := change.Decode([]byte(strings.Replace(body, asg1, asg2, 1)), nil)
	if err != nil || req2.AssignmentID != asg2 {
		t.Fatalf("%v %v", err, req2)
	}
	if o := runServiceNow(p, "A2", req2); o.Err != nil {
		t.Fatal(o.Err)
	}
}

func revertRequest(t *testing.T, window string) *change.Request {
	t.Helper()
	rev, err := change.Decode([]byte(`{"action":"revert","ticket":{"id":"CHG0030042","system":"servicenow","state":"approved","requestedBy":"alice@contoso.com","approvedBy":"carol@contoso.com"`+window+`}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

// reverts counts the revert records of the ticket.
func reverts(t *testing.T, recs record.Store) int {
	t.Helper()
	rs, err := recs.ByTicket(context.Background(), "servicenow", "CHG0030042")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rs {
		if r.Action == record.ActionRevert {
			n++
		}
	}
	return n
}

// partly checks a revert that stopped after putting back one change: its
// answer names what it did and where it stopped, it is marked partly
// applied and not "nothing sent", and the ticket and the audit line are
// told "partial".
func partly(t *testing.T, o apply.Outcome, notes *ticketNotes, did string, unknown bool) {
	t.Helper()
	pr, _ := apply.ProblemFor(o.Err, "r")
	t.Logf("%d %s: %s", pr.Status, pr.Type, pr.Detail)
	if change.OutcomeUnknown(o.Err) != unknown {
		t.Errorf("err %v: outcome unknown = %v, want %v (the stopped step's own)", o.Err, change.OutcomeUnknown(o.Err), unknown)
	}
	if !strings.HasPrefix(pr.Detail, "the revert "+did) || !strings.Contains(pr.Detail, "stopped at servicenow:A1") ||
		!strings.Contains(pr.Detail, "send the revert again") {
		t.Errorf("detail = %q, want what the revert did (%s) and where it stopped", pr.Detail, did)
	}
	if !errors.Is(o.Err, change.ErrPartlyApplied) || errors.Is(o.Err, change.ErrNothingSent) {
		t.Errorf("err %v: want partly applied, not nothing sent", o.Err)
	}
	last := notes.got[len(notes.got)-1]
	if last.Outcome != writeback.Partial || strings.Contains(last.Text(), "NOT applied") || !strings.Contains(last.Text(), "only in part") {
		t.Errorf("the ticket is told %q:\n%s", last.Outcome, last.Text())
	}
	if o.Audit != apply.AuditPartial {
		t.Errorf("the audit line's outcome is %q, want %q", o.Audit, apply.AuditPartial)
	}
}

// TestARevertStoppedPartWaySaysWhatItDid: a revert of a ticket's two
// changes puts back the latest (A2), then its second write fails: no write
// slot, Graph refusing it, or the window closing meanwhile. The answer
// says A2 was put back and where it stopped, the ticket is told "partial",
// and the revert sent again puts back the rest.
func TestARevertStoppedPartWaySaysWhatItDid(t *testing.T) {
	for _, tt := range []struct {
		name    string
		status  int
		unknown bool
		setup   func(g *multiGraph, lim *grants)
		mend    func(g *multiGraph, lim *grants)
	}{
		{"no write slot", http.StatusServiceUnavailable, false,
			func(_ *multiGraph, lim *grants) { lim.n = 1 }, func(_ *multiGraph, lim *grants) { lim.add(5) }},
		{"Graph unavailable after the write went out", http.StatusServiceUnavailable, true,
			func(g *multiGraph, lim *grants) {
				lim.add(5)
				g.failOn, g.failErr = asg1, &change.Error{Code: change.CodeUnavailable, Message: "Graph is unavailable; try again later"}
			},
			func(g *multiGraph, _ *grants) { g.failErr = nil }},
		{"Graph refuses", http.StatusBadGateway, false,
			func(g *multiGraph, lim *grants) {
				lim.add(5)
				g.failOn, g.failErr = asg1, &change.Error{Code: change.CodeGraphRefused, Message: "Graph refused the change: BadRequest"}
			},
			func(g *multiGraph, _ *grants) { g.failErr = nil }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := &multiGraph{held: map[string][]byte{}}
			notes := &ticketNotes{}
			recs := record.NewMemory(nil)
			lim := &grants{n: 2}
			p := apply.New(g, &apply.Options{Logger: slog.New(slog.DiscardHandler), Records: recs,
				Deadlines: apply.Deadlines{Timeout: time.Second}, Dedupe: apply.Dedupe{Store: idempotency.NewMemory(nil, 0)},
				WriteBack: notes, Update: apply.Update{Limiter: lim}})
			twoChanges(t, p)
			tt.setup(g, lim)
			o := runServiceNow(p, "R", revertRequest(t, ""))
			if pr, _ := apply.ProblemFor(o.Err, "r"); o.Err == nil || pr.Status != tt.status || reverts(t, recs) != 1 {
				t.Fatalf("the revert = %v (%d), %d reverts recorded; want %d after one", o.Err, pr.Status, reverts(t, recs), tt.status)
			}
			partly(t, o, notes, "put back servicenow:A2", tt.unknown)
			tt.mend(g, lim)
			if o := runServiceNow(p, "R", revertRequest(t, "")); o.Err != nil {
				t.Fatalf("the revert sent again: %v", o.Err)
			}
			if g.targetType(asg1) != "#microsoft.graph.allDevicesAssignmentTarget" || g.targetType(asg2) != "#microsoft.graph.allDevicesAssignmentTarget" {
				t.Errorf("after the revert sent again Graph holds %s and %s, want both put back", g.held[asg1], g.held[asg2])
			}
		})
	}
	t.Run("the window closes", func(t *testing.T) {
		g := &multiGraph{held: map[string][]byte{}}
		notes := &ticketNotes{}
		recs := record.NewMemory(nil)
		inside := time.Now().Truncate(time.Hour).Add(30 * time.Minute)
		var mu sync.Mutex
		calls, counting := 0, false
		now := func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			if counting {
				if calls++; calls > 2 { // the window check, then the first write's
					return inside.Add(2 * time.Hour)
				}
			}
			return inside
		}
		p := apply.New(g, &apply.Options{Logger: slog.New(slog.DiscardHandler), Records: recs, Now: now,
			Deadlines: apply.Deadlines{Timeout: time.Second}, Dedupe: apply.Dedupe{Store: idempotency.NewMemory(nil, 0)}, WriteBack: notes})
		twoChanges(t, p)
		window := fmt.Sprintf(`,"window":{"start":%q,"end":%q}`, inside.Add(-time.Hour).Format(time.RFC3339), inside.Add(time.Hour).Format(time.RFC3339))
		rev := revertRequest(t, window)
		mu.Lock()
		counting = true
		mu.Unlock()
		o := runServiceNow(p, "R", rev)
		if pr, _ := apply.ProblemFor(o.Err, "r"); pr.Type != apply.ProblemTypePrefix+string(change.KindOutsideWindow) || reverts(t, recs) != 1 {
			t.Fatalf("the revert = %v, %d reverts recorded; want outside-change-window after one", o.Err, reverts(t, recs))
		}
		partly(t, o, notes, "put back servicenow:A2", false)
	})
}

// TestARevertThatCancelledThenFailedSaysSo: the revert cancels the
// ticket's change held for its window, then its first write gets no slot:
// the answer says the held change was cancelled.
func TestARevertThatCancelledThenFailedSaysSo(t *testing.T) {
	g := &multiGraph{held: map[string][]byte{}}
	notes := &ticketNotes{}
	recs := record.NewMemory(nil)
	p := apply.New(g, &apply.Options{Logger: slog.New(slog.DiscardHandler), Records: recs,
		Deadlines: apply.Deadlines{Timeout: time.Second}, Dedupe: apply.Dedupe{Store: idempotency.NewMemory(nil, 0)},
		WriteBack: notes, Update: apply.Update{Limiter: &grants{n: 1}}})
	if o := runServiceNow(p, "A1", decoded(t)); o.Err != nil {
		t.Fatal(o.Err)
	}
	held := &record.Record{ID: "servicenow:S1.scheduled", Action: record.ActionApply, State: record.StateScheduled, Sender: "servicenow",
		Ticket: record.Ticket{ID: "CHG0030042"}, ConfigurationID: "c", AssignmentID: asg2,
		Before: json.RawMessage("null"), After: json.RawMessage("null"), NotBefore: time.Now().Add(time.Hour)}
	if err := recs.Put(context.Background(), held); err != nil {
		t.Fatal(err)
	}
	o := runServiceNow(p, "R", revertRequest(t, ""))
	pr, _ := apply.ProblemFor(o.Err, "r")
	if o.Err == nil || !strings.HasPrefix(pr.Detail, "the revert cancelled held servicenow:S1.scheduled") || strings.HasPrefix(pr.Detail, "the revert put back") ||
		!errors.Is(o.Err, change.ErrPartlyApplied) {
		t.Errorf("the revert = %d %q, want it to say it cancelled S1", pr.Status, pr.Detail)
	}
	if last := notes.got[len(notes.got)-1]; last.Outcome != writeback.Partial {
		t.Errorf("the ticket is told %q", last.Outcome)
	}
}

// canceledGraph applies the PATCH, then fails as the Graph client does
// when the caller's context ends mid-call: an uncoded error (internal).
type canceledGraph struct{ heldGraph }

func (g *canceledGraph) PatchAssignment(ctx context.Context, cfg, asg string, body any) (*graph.Result, error) {
	_, _ = g.heldGraph.PatchAssignment(ctx, cfg, asg, body)
	return nil, fmt.Errorf("graph: PATCH patchAssignment: %w", context.Canceled)
}

// TestAFaultOfOursAfterTheWriteIsUnknown: a failure of our own after the
// PATCH went out tells the ticket "unknown", not "NOT applied".
func TestAFaultOfOursAfterTheWriteIsUnknown(t *testing.T) {
	g := &canceledGraph{}
	notes := &ticketNotes{}
	p := attemptPipeline(g, idempotency.NewMemory(nil, 0), notes)
	o := runServiceNow(p, "A", decoded(t))
	if o.Err == nil || g.writes != 1 || !change.OutcomeUnknown(o.Err) {
		t.Fatalf("err %v, writes %d; want an unknown outcome after one write", o.Err, g.writes)
	}
	if last := notes.got[len(notes.got)-1]; last.Outcome != writeback.Unknown {
		t.Errorf("the ticket is told %q:\n%s", last.Outcome, last.Text())
	}
}

// gatewayGraph is a Graph transport: the first PATCH is answered 504 (the
// gateway's; Intune may have applied it), the client's retry of it 400.
// GETs answer the assignment as it was.
type gatewayGraph struct {
	mu      sync.Mutex
	patches int
}

func (g *gatewayGraph) Do(r *http.Request) (*http.Response, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	answer := func(status int, body string) *http.Response {
		return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}, "Request-Id": {"5e6f0000-0000-0000-0000-0000000000a1"}},
			Body: io.NopCloser(bytes.NewReader([]byte(body))), Request: r}
	}
	if r.Method == http.MethodGet {
		return answer(200, `{"id":"`+asg1+`","target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}`), nil
	}
	g.patches++
	if g.patches == 1 {
		return answer(504, `{"error":{"code":"GatewayTimeout","message":"x"}}`), nil
	}
	return answer(400, `{"error":{"code":"BadRequest","message":"x"}}`), nil
}

// TestARetriedWriteRefusedAfterAnUnclearAnswerIsUnknown: the Graph client
// retried a PATCH answered 504, and the retry was refused 400: the first
// may have been applied, so the ticket is told "unknown" (not "refused")
// and the delivery keeps its note (its retry reads Graph first).
func TestARetriedWriteRefusedAfterAnUnclearAnswerIsUnknown(t *testing.T) {
	gg := &gatewayGraph{}
	gc, err := graph.NewClient("https://graph.microsoft.com/beta", staticToken{}, "https://graph.microsoft.com/.default",
		&graph.Options{Transport: gg, MaxRetries: 2, RetryDelay: time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	notes := &ticketNotes{}
	st := idempotency.NewMemory(nil, 0)
	p := apply.New(gc, &apply.Options{Logger: slog.New(slog.DiscardHandler), Records: record.NewMemory(nil),
		Deadlines: apply.Deadlines{Timeout: 5 * time.Second}, Dedupe: apply.Dedupe{Store: st}, WriteBack: notes})
	o := runServiceNow(p, "A", decoded(t))
	if gg.patches != 2 || !change.OutcomeUnknown(o.Err) {
		t.Fatalf("PATCHes = %d, err %v; want the 504 retried, then an unknown outcome", gg.patches, o.Err)
	}
	if pr, _ := apply.ProblemFor(o.Err, "r"); pr.Type != apply.ProblemTypePrefix+string(change.CodeGraphRefused) {
		t.Errorf("problem %s, want Graph's own refusal still named", pr.Type)
	}
	if last := notes.got[len(notes.got)-1]; last.Outcome != writeback.Unknown {
		t.Errorf("the ticket is told %q:\n%s", last.Outcome, last.Text())
	}
	key, fp := apply.Key("servicenow", "A", decoded(t))
	lease, err := st.Begin(t.Context(), key, fp, time.Now().Add(time.Minute))
	if err != nil || lease.Attempt == nil {
		t.Errorf("the delivery's record = %+v, %v; want it given up with the note for the retry", lease, err)
	}
}

// TestAnUnconfirmedEnqueueTellsTheTicket: an enqueue the queue did not
// confirm (marked change.ErrOutcomeUnknown) tells the ticket the outcome
// is unknown (the worker may apply it); one the queue refused tells it
// nothing (the sender's retry decides).
func TestAnUnconfirmedEnqueueTellsTheTicket(t *testing.T) {
	refused := &change.Error{Code: change.CodeUnavailable, Kind: change.KindQueueUnavailable, Message: "the queue is unavailable"}
	for name, tt := range map[string]struct {
		err   error
		notes int
	}{
		"unconfirmed": {change.Mark(refused, change.ErrOutcomeUnknown), 1},
		"refused":     {refused, 0},
	} {
		notes := &ticketNotes{}
		p := attemptPipeline(&heldGraph{}, idempotency.NewMemory(nil, 0), notes)
		job := &apply.Job{Sender: "servicenow", DeliveryID: "Q", RequestID: "r-Q", Request: decoded(t),
			Enqueue: func(context.Context, string, string, time.Time, bool) error { return tt.err }}
		o := p.Run(context.Background(), job)
		p.Finish(context.Background(), &o)
		if len(notes.got) != tt.notes || tt.notes == 1 && notes.got[0].Outcome != writeback.Unknown {
			t.Errorf("%s: notes %+v, want %d (unknown)", name, notes.got, tt.notes)
		}
	}
}

// TestARevertThatFailsBeforeWritingIsNotUnknown: a revert that fails on a
// fault of ours before its first write (a change record it cannot read)
// is known to have sent nothing: no "unknown" to the ticket, and its
// delivery is released without a note.
func TestARevertThatFailsBeforeWritingIsNotUnknown(t *testing.T) {
	g := &multiGraph{held: map[string][]byte{}}
	notes := &ticketNotes{}
	recs := record.NewMemory(nil)
	st := idempotency.NewMemory(nil, 0)
	p := apply.New(g, &apply.Options{Logger: slog.New(slog.DiscardHandler), Records: recs,
		Deadlines: apply.Deadlines{Timeout: time.Second}, Dedupe: apply.Dedupe{Store: st}, WriteBack: notes})
	if o := runServiceNow(p, "A1", decoded(t)); o.Err != nil {
		t.Fatal(o.Err)
	}
	r, err := recs.Get(t.Context(), "servicenow:A1")
	if err != nil {
		t.Fatal(err)
	}
	r.ID, r.Before = "servicenow:A0", json.RawMessage(`{"id":"x","target":{"@odata.type":5}}`) // unreadable
	if err := recs.Put(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	writes, told := g.writes, len(notes.got)
	o := runServiceNow(p, "R", revertRequest(t, ""))
	if o.Err == nil || g.writes != writes || change.OutcomeUnknown(o.Err) || !errors.Is(o.Err, change.ErrNothingSent) {
		t.Fatalf("the revert = %v, %d writes; want a failure before any write, nothing sent", o.Err, g.writes-writes)
	}
	for _, n := range notes.got[told:] {
		if n.Outcome == writeback.Unknown {
			t.Errorf("the ticket is told %q", n.Outcome)
		}
	}
	key, fp := apply.Key("servicenow", "R", revertRequest(t, ""))
	if l, err := st.Begin(t.Context(), key, fp, time.Now().Add(time.Minute)); err != nil || l.Attempt != nil {
		t.Errorf("the revert's record = %+v, %v; want it released without a note", l, err)
	}
}

// failingCancels is a change record that writes one cancellation, then
// cannot write any other (retried or not).
type failingCancels struct {
	*record.Memory
	mu    sync.Mutex
	first string
}

func (f *failingCancels) Put(ctx context.Context, r *record.Record) error {
	if strings.HasSuffix(r.ID, ".canceled") {
		f.mu.Lock()
		if f.first == "" {
			f.first = r.ID
		}
		other := f.first != r.ID
		f.mu.Unlock()
		if other {
			return errors.New("dynamodb: throttled")
		}
	}
	return f.Memory.Put(ctx, r)
}

// TestARevertWhoseCancellationsStopSaysWhatItCancelled: a revert that
// cancels the first of two held changes, then cannot record the second's
// cancellation, says the first is cancelled (it stands), not that nothing
// was changed, and the ticket hears of it (partial).
func TestARevertWhoseCancellationsStopSaysWhatItCancelled(t *testing.T) {
	recs := &failingCancels{Memory: record.NewMemory(nil)}
	notes := &ticketNotes{}
	p := apply.New(&multiGraph{held: map[string][]byte{}}, &apply.Options{Logger: slog.New(slog.DiscardHandler), Records: recs,
		Deadlines: apply.Deadlines{Timeout: time.Second}, Dedupe: apply.Dedupe{Store: idempotency.NewMemory(nil, 0)}, WriteBack: notes})
	for _, id := range []string{"S1", "S2"} {
		held := &record.Record{ID: "servicenow:" + id + ".scheduled", Action: record.ActionApply, State: record.StateScheduled, Sender: "servicenow",
			Ticket: record.Ticket{ID: "CHG0030042"}, ConfigurationID: "c", AssignmentID: asg2,
			Before: json.RawMessage("null"), After: json.RawMessage("null"), NotBefore: time.Now().Add(time.Hour)}
		if err := recs.Memory.Put(context.Background(), held); err != nil {
			t.Fatal(err)
		}
	}
	o := runServiceNow(p, "R", revertRequest(t, ""))
	pr, _ := apply.ProblemFor(o.Err, "r")
	if o.Err == nil || !strings.HasPrefix(pr.Detail, "the revert cancelled held servicenow:S") || !errors.Is(o.Err, change.ErrPartlyApplied) ||
		pr.Type != apply.ProblemTypePrefix+string(change.KindRecordUnavailable) {
		t.Errorf("the revert = %d %s %q (%v), want it to say what it cancelled", pr.Status, pr.Type, pr.Detail, o.Err)
	}
	if len(notes.got) != 1 || notes.got[0].Outcome != writeback.Partial || errors.Is(o.Err, change.ErrNothingSent) {
		t.Errorf("a revert that cancelled held servicenow:S… (it stands) then stopped: notes %+v, err %v; want one partial note", notes.got, o.Err)
	}
}

// scriptGraph: PATCH number n (1-based) does script[n]: "drop" fails
// unavailable without writing, "lose" writes then fails unavailable.
type scriptGraph struct {
	*multiGraph
	n      int
	script map[int]string
}

func (g *scriptGraph) PatchAssignment(ctx context.Context, c, asg string, body any) (*graph.Result, error) {
	g.n++
	switch g.script[g.n] {
	case "drop":
		return nil, &change.Error{Code: change.CodeUnavailable, Message: "Graph is unavailable; try again later"}
	case "lose":
		_, _ = g.multiGraph.PatchAssignment(ctx, c, asg, body)
		return nil, &change.Error{Code: change.CodeUnavailable, Message: "Graph is unavailable; try again later"}
	}
	return g.multiGraph.PatchAssignment(ctx, c, asg, body)
}

// oneAssignmentTwice is a pipeline over g with a change record, where
// ticket CHG0030042's changes A1 and then A2 were applied to one assignment
// (asg1); g's PATCHes, and its script, are counted from there.
func oneAssignmentTwice(t *testing.T, g *scriptGraph) (*apply.Pipeline, *record.Memory) {
	t.Helper()
	script := g.script
	g.script = nil
	defer func() { g.n, g.script = 0, script }()
	recs := record.NewMemory(nil)
	p := apply.New(g, &apply.Options{Logger: slog.New(slog.DiscardHandler), Records: recs,
		Deadlines: apply.Deadlines{Timeout: time.Second}, Dedupe: apply.Dedupe{Store: idempotency.NewMemory(nil, 0)}})
	if o := runServiceNow(p, "A1", decoded(t)); o.Err != nil {
		t.Fatal(o.Err)
	}
	second, _ := change.Decode([]byte(strings.Replace(body, `"include"`, `"exclude"`, 1)), nil)
	if o := runServiceNow(p, "A2", second); o.Err != nil {
		t.Fatal(o.Err)
	}
	return p, recs
}

// chatRevertJob is approval d of the chat request to revert CHG0030042
// (its plan: A2, then A1); attempted, when not zero, is when approval D1,
// by bob, sent a write without a clear answer (D1's records are the
// request's own).
func chatRevertJob(t *testing.T, d string, attempted time.Time) *apply.Job {
	j := &apply.Job{Sender: "slack", DeliveryID: d, RequestID: "r-" + d, Request: chatRevert(t), Start: time.Now(),
		Via: apply.ViaChat, Chat: true, Held: true, RevertOf: "CHG0030042", Attempted: attempted,
		Approved: &apply.RevertPlan{Reverts: []string{"servicenow:A2", "servicenow:A1"}}}
	if !attempted.IsZero() {
		j.AttemptedBy, j.AttemptedByID, j.AttemptedIDs = "bob", "U-bob", []string{"slack:D1"}
	}
	return j
}

func chatRevert(t *testing.T) *change.Request {
	t.Helper()
	rev, err := change.Decode([]byte(`{"action":"revert","ticket":{"id":"REQ00001","system":"slack","state":"approved","requestedBy":"alice","approvedBy":"carol"}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

// Two changes of CHG0030042 to ONE assignment; a chat revert approval puts
// back the newer (recorded), then its second write lands with its answer
// lost. The next approval finds Graph put back.
func TestAChatRevertRetryCountsItsOwnEarlierSteps(t *testing.T) {
	g := &scriptGraph{multiGraph: &multiGraph{held: map[string][]byte{}}, script: map[int]string{2: "lose"}}
	p, recs := oneAssignmentTwice(t, g)
	start1 := time.Now()
	job := func(d string, attempted time.Time) *apply.Job { return chatRevertJob(t, d, attempted) }
	o := p.Run(context.Background(), job("D1", time.Time{}))
	if !change.OutcomeUnknown(o.Err) {
		t.Fatalf("approval 1: %v", o.Err)
	}
	t.Logf("approval 1: %v; graph %s", o.Err, g.held[asg1])
	time.Sleep(10 * time.Millisecond)
	o = p.Run(context.Background(), job("D2", start1))
	rs, _ := recs.ByAssignment(context.Background(), "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_Windows10EnrollmentCompletionPageConfiguration", asg1, 0)
	for _, r := range rs {
		t.Logf("record %s ticket %s time %s after %s", r.ID, r.Ticket.ID, r.Time.Format(time.RFC3339Nano), r.After)
	}
	if o.Err != nil {
		pr, _ := apply.ProblemFor(o.Err, "r")
		t.Fatalf("approval 2 after approval 1's own step: %s %q (unknown=%v)", pr.Type, pr.Detail, change.OutcomeUnknown(o.Err))
	}
	reverted := map[string]bool{}
	for _, r := range rs {
		if r.Action == record.ActionRevert {
			reverted[r.Reverts] = true
		}
	}
	if !reverted["servicenow:A1"] || !reverted["servicenow:A2"] {
		t.Errorf("reverts recorded for %v, want both A1 and A2", reverted)
	}
}

// A chat approval after an earlier unknown write, refused by the window
// (checked in run, before apply): not told unknown.
func TestARefusalAfterAnEarlierAttemptIsUnknown(t *testing.T) {
	g := &multiGraph{held: map[string][]byte{}}
	p := apply.New(g, &apply.Options{Logger: slog.New(slog.DiscardHandler), Records: record.NewMemory(nil),
		Deadlines: apply.Deadlines{Timeout: time.Second}, Dedupe: apply.Dedupe{Store: idempotency.NewMemory(nil, 0)}})
	past := time.Now().Add(-3 * time.Hour)
	b := strings.Replace(body, `"approvedBy":"bob@contoso.com"`, `"approvedBy":"bob@contoso.com","window":{"start":"`+past.Format(time.RFC3339)+`","end":"`+past.Add(time.Hour).Format(time.RFC3339)+`"}`, 1)
	req, err := change.Decode([]byte(b), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Ticket.System, req.Ticket.ID = "slack", "REQ00002"
	cur, _ := g.GetAssignment(context.Background(), "", asg1)
	o := p.Run(context.Background(), &apply.Job{Sender: "slack", DeliveryID: "D9", RequestID: "r", Request: req, Via: apply.ViaChat, Chat: true, Held: true,
		ExpectBefore: cur.Body, Attempted: time.Now().Add(-time.Minute)})
	if o.Err == nil || !change.OutcomeUnknown(o.Err) {
		pr, _ := apply.ProblemFor(o.Err, "r")
		t.Errorf("window refusal after an unknown earlier write: %v %q (unknown=%v)", pr.Type, pr.Detail, change.OutcomeUnknown(o.Err))
	}
}

// Approval 1's write lands (answer lost); ticket Y then sets the assignment
// back (recorded). Approval 2 finds Graph as planned and writes again over Y.
func TestAnApprovalAfterAnEarlierAttemptKeepsANewerChange(t *testing.T) {
	g := &scriptGraph{multiGraph: &multiGraph{held: map[string][]byte{}}, script: map[int]string{1: "lose"}}
	recs := record.NewMemory(nil)
	p := apply.New(g, &apply.Options{Logger: slog.New(slog.DiscardHandler), Records: recs,
		Deadlines: apply.Deadlines{Timeout: time.Second}, Dedupe: apply.Dedupe{Store: idempotency.NewMemory(nil, 0)}})
	req := decoded(t)
	req.Ticket.System, req.Ticket.ID = "slack", "REQ00003"
	cur, _ := g.GetAssignment(context.Background(), "", asg1)
	planned := append([]byte(nil), cur.Body...)
	start1 := time.Now()
	job := func(d string, at time.Time) *apply.Job {
		r := *req
		return &apply.Job{Sender: "slack", DeliveryID: d, RequestID: "r-" + d, Request: &r, Via: apply.ViaChat, Chat: true, Held: true,
			ExpectBefore: planned, Attempted: at}
	}
	if o := p.Run(context.Background(), job("D1", time.Time{})); !change.OutcomeUnknown(o.Err) {
		t.Fatalf("approval 1: %v", o.Err)
	}
	landed := append([]byte(nil), g.held[asg1]...)
	time.Sleep(5 * time.Millisecond)
	g.held[asg1] = planned
	if err := recs.Put(context.Background(), &record.Record{ID: "servicenow:Y", Action: record.ActionApply, Sender: "servicenow",
		Ticket: record.Ticket{ID: "CHG0000Y"}, ConfigurationID: req.ConfigurationID, AssignmentID: asg1, Before: landed, After: planned}); err != nil {
		t.Fatal(err)
	}
	w := g.writes
	o := p.Run(context.Background(), job("D2", start1))
	if pr, _ := apply.ProblemFor(o.Err, "r"); g.writes > w || pr.Type != apply.ProblemTypePrefix+string(change.KindDrifted) || !strings.Contains(pr.Detail, "servicenow:Y") {
		t.Errorf("approval 2 after a newer change set the assignment back: %d writes, %v; want drifted naming servicenow:Y, no write", g.writes-w, o.Err)
	}
}

func TestARevertFoundDoneIsRecordedAsTheEarlierApprovers(t *testing.T) {
	g := &scriptGraph{multiGraph: &multiGraph{held: map[string][]byte{}}, script: map[int]string{}}
	recs := record.NewMemory(nil)
	p := apply.New(g, &apply.Options{Logger: slog.New(slog.DiscardHandler), Records: recs,
		Deadlines: apply.Deadlines{Timeout: time.Second}, Dedupe: apply.Dedupe{Store: idempotency.NewMemory(nil, 0)}})
	if o := runServiceNow(p, "A1", decoded(t)); o.Err != nil {
		t.Fatal(o.Err)
	}
	g.n, g.script = 0, map[int]string{1: "lose"}
	start1 := time.Now()
	job := func(d, by string, at time.Time) *apply.Job {
		r := chatRevert(t)
		r.Ticket.ApprovedBy, r.Ticket.ApprovedByID = by, "U-"+by
		return &apply.Job{Sender: "slack", DeliveryID: d, RequestID: "r-" + d, Request: r, Via: apply.ViaChat, Chat: true, Held: true,
			RevertOf: "CHG0030042", Attempted: at, AttemptedBy: "bob", AttemptedByID: "U-bob"}
	}
	j1 := job("D1", "bob", time.Time{})
	j1.AttemptedBy, j1.AttemptedByID = "", ""
	if o := p.Run(context.Background(), j1); !change.OutcomeUnknown(o.Err) {
		t.Fatalf("approval 1: %v", o.Err)
	}
	if o := p.Run(context.Background(), job("D2", "dave", start1)); o.Err != nil {
		t.Fatalf("approval 2: %v", o.Err)
	}
	r, err := recs.Get(context.Background(), "slack:D2")
	if err != nil {
		t.Fatal(err)
	}
	if r.Ticket.ApprovedByID != "U-bob" || !r.Time.Equal(start1) {
		t.Errorf("the revert found done is recorded approved by %s at %s; its write was bob's, begun %s", r.Ticket.ApprovedByID, r.Time, start1)
	}
}

// Approval 1 of a chat revert of CHG0030042 (A2 then A1, one assignment)
// sends nothing that lands. The ITSM then reverts the ticket itself: A2 put
// back (recorded), A1's write lands with its answer lost. Approval 2 must
// not record A1's put-back as its own (the ITSM's write did it).
func TestAnotherRevertOfAPlanChangeIsNotTheRequests(t *testing.T) {
	g := &scriptGraph{multiGraph: &multiGraph{held: map[string][]byte{}}, script: map[int]string{1: "drop", 3: "lose"}} // approval 1's write; the ITSM's second write
	p, recs := oneAssignmentTwice(t, g)
	start1 := time.Now()
	j1 := chatRevertJob(t, "D1", time.Time{})
	if o := p.Run(context.Background(), j1); !change.OutcomeUnknown(o.Err) {
		t.Fatalf("approval 1: %v", o.Err)
	}
	time.Sleep(5 * time.Millisecond)
	o := runServiceNow(p, "X", revertRequest(t, ""))
	t.Logf("ITSM revert: %v", o.Err)
	w := g.writes
	o = p.Run(context.Background(), chatRevertJob(t, "D2", start1))
	rs, _ := recs.ByAssignment(context.Background(), "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_Windows10EnrollmentCompletionPageConfiguration", asg1, 0)
	for _, r := range rs {
		t.Logf("record %s reverts %s approvedBy %s time %s", r.ID, r.Reverts, r.Ticket.ApprovedBy, r.Time.Format(time.RFC3339Nano))
	}
	if r, err := recs.Get(context.Background(), "slack:D2"); err == nil {
		t.Errorf("approval 2 (err %v, %d writes) recorded %s (reverts %s, approved by %s at %s) as the earlier approval's put-back; that approval's write never landed, the ITSM's revert servicenow:X did it",
			o.Err, g.writes-w, r.ID, r.Reverts, r.Ticket.ApprovedBy, r.Time.Format(time.RFC3339Nano))
	}
	if o.Err == nil {
		t.Errorf("approval 2 succeeded; want it refused (another revert put A1 back)")
	}
	// The ITSM's retry of its revert finds its own put-back, and records it.
	g.script = map[int]string{}
	if o = runServiceNow(p, "X", revertRequest(t, "")); o.Err != nil {
		t.Errorf("the ITSM's retry of its revert: %v", o.Err)
	}
}

// The commit's own scenario: approval 1 puts back A2 (recorded slack:D1.1),
// A1's write lands with its answer lost; approval 2 records A1's put-back
// at approval 1's start, before slack:D1.1: history's latest record no
// longer holds what Graph does.
func TestAStepFoundDoneKeepsHistoryInOrder(t *testing.T) {
	g := &scriptGraph{multiGraph: &multiGraph{held: map[string][]byte{}}, script: map[int]string{2: "lose"}}
	p, recs := oneAssignmentTwice(t, g)
	start1 := time.Now()
	job := func(d string, attempted time.Time) *apply.Job { return chatRevertJob(t, d, attempted) }
	if o := p.Run(context.Background(), job("D1", time.Time{})); !change.OutcomeUnknown(o.Err) {
		t.Fatalf("approval 1: %v", o.Err)
	}
	time.Sleep(5 * time.Millisecond)
	if o := p.Run(context.Background(), job("D2", start1)); o.Err != nil {
		t.Fatal(o.Err)
	}
	rs, _ := recs.ByAssignment(context.Background(), "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_Windows10EnrollmentCompletionPageConfiguration", asg1, 0)
	for _, r := range rs {
		t.Logf("record %s reverts %s time %s after %s", r.ID, r.Reverts, r.Time.Format(time.RFC3339Nano), graph.TargetOf(r.After))
	}
	cur, _ := g.GetAssignment(context.Background(), "", asg1)
	if string(graph.TargetOf(rs[0].After)) != string(graph.TargetOf(cur.Body)) {
		t.Errorf("history's latest record %s leaves %s; Graph holds %s (the put-back of A1, slack:D2, is listed before slack:D1.1)", rs[0].ID, graph.TargetOf(rs[0].After), graph.TargetOf(cur.Body))
	}
}
