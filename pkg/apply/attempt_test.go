package apply_test

import (
	"context"
	"encoding/json"
	"errors"
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

// heldGraph holds one assignment: a PATCH replaces it (and in "lose" mode
// is applied but answered unavailable, its answer lost); in "unsent" mode
// it fails as the Graph client does when no request went out (no token).
type heldGraph struct {
	mu     sync.Mutex
	held   []byte
	mode   string
	writes int
}

func (g *heldGraph) PatchAssignment(_ context.Context, _, asg string, body any) (*graph.Result, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.mode == "unsent" {
		return nil, &change.Error{Code: change.CodeUnavailable, Message: "could not get a token for Graph", Err: change.ErrNothingSent}
	}
	var m map[string]any
	b, _ := json.Marshal(body)
	_ = json.Unmarshal(b, &m)
	m["id"] = asg
	g.held, _ = json.Marshal(m)
	g.writes++
	if g.mode == "lose" {
		return nil, &change.Error{Code: change.CodeUnavailable, Message: "Graph is unavailable"}
	}
	return &graph.Result{Body: g.held, RequestID: "patch"}, nil
}

func (g *heldGraph) GetAssignment(_ context.Context, _, asg string) (*graph.Result, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held == nil {
		g.held = []byte(`{"id":"` + asg + `","target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}`)
	}
	return &graph.Result{Body: g.held, RequestID: "get"}, nil
}

func (g *heldGraph) set(mode string) { g.mu.Lock(); g.mode = mode; g.mu.Unlock() }

// ticketNotes keeps the write-back's notes.
type ticketNotes struct {
	mu  sync.Mutex
	got []writeback.Note
}

func (n *ticketNotes) Write(_ context.Context, x *writeback.Note) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.got = append(n.got, *x)
	return nil
}

// attemptPipeline is a pipeline with a change record, store and notes.
func attemptPipeline(g apply.Graph, st apply.Store, wb apply.WriteBacker) *apply.Pipeline {
	return apply.New(g, &apply.Options{Logger: slog.New(slog.DiscardHandler), Records: record.NewMemory(nil),
		Deadlines: apply.Deadlines{Timeout: 100 * time.Millisecond}, Dedupe: apply.Dedupe{Store: st}, WriteBack: wb})
}

// newerChange is another ticket's change of the same assignment.
func newerChange(t *testing.T) *change.Request {
	t.Helper()
	req, err := change.Decode([]byte(strings.NewReplacer("CHG0030042", "CHG0030099", `"include"`, `"exclude"`).Replace(body)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func runServiceNow(p *apply.Pipeline, id string, req *change.Request) apply.Outcome {
	o := p.Run(context.Background(), &apply.Job{Sender: "servicenow", DeliveryID: id, RequestID: "r-" + id, Request: req})
	p.Finish(context.Background(), &o)
	return o
}

// loseAThenApplyB sends A (decoded(t)) while g loses write answers, then
// another ticket's change B of the same assignment, applied.
func loseAThenApplyB(t *testing.T, p *apply.Pipeline, g *heldGraph) {
	t.Helper()
	g.set("lose")
	if o := runServiceNow(p, "A", decoded(t)); o.Err == nil {
		t.Fatal("the write whose answer was lost succeeded")
	}
	g.set("")
	if o := runServiceNow(p, "B", newerChange(t)); o.Err != nil {
		t.Fatal(o.Err)
	}
}

// noAttempted is a store whose Attempted never lands (the store timed out,
// or the invoke died right after the write).
type noAttempted struct{ *idempotency.Memory }

func (noAttempted) Attempted(context.Context, *idempotency.Lease, []byte, time.Time) error {
	return errors.New("store timed out")
}

// TestTheNoteIsKeptBeforeTheWrite: the note a retry needs is on the
// delivery's record before the write goes out, so a write whose answer was
// lost and whose attempt then could not give its record up is still not
// applied again over a newer change once its hold has ended.
func TestTheNoteIsKeptBeforeTheWrite(t *testing.T) {
	g := &heldGraph{mode: "lose"}
	p := attemptPipeline(g, noAttempted{idempotency.NewMemory(nil, 0)}, nil)
	if o := runServiceNow(p, "A", decoded(t)); o.Err == nil {
		t.Fatal("the write whose answer was lost succeeded")
	}
	g.set("")
	time.Sleep(150 * time.Millisecond) // A's hold ends
	if o := runServiceNow(p, "B", newerChange(t)); o.Err != nil {
		t.Fatal(o.Err)
	}
	o := runServiceNow(p, "A", decoded(t))
	if ce, ok := errors.AsType[*change.Error](o.Err); !ok || ce.Kind != change.KindDrifted {
		t.Fatalf("A's retry = %v, want 409 drifted; Graph holds %s", o.Err, g.held)
	}
	if g.writes != 2 || !strings.Contains(string(g.held), `"exclude"`) {
		t.Errorf("%d writes, Graph holds %s; want B standing", g.writes, g.held)
	}
}

// TestTheTicketIsToldUnknown: the retry refused because a newer change
// stands wrote nothing, but its delivery's first write may have landed:
// the ticket's note says unknown, not failed.
func TestTheTicketIsToldUnknown(t *testing.T) {
	g, wb := &heldGraph{mode: "lose"}, &ticketNotes{}
	p := attemptPipeline(g, idempotency.NewMemory(nil, 0), wb)
	loseAThenApplyB(t, p, g)
	if o := runServiceNow(p, "A", decoded(t)); o.Err == nil {
		t.Fatal("A's retry over B succeeded")
	}
	var outcomes []string
	for _, n := range wb.got {
		outcomes = append(outcomes, n.Ticket+":"+n.Outcome)
	}
	want := []string{"CHG0030042:" + writeback.Unknown, "CHG0030099:" + writeback.Applied, "CHG0030042:" + writeback.Unknown}
	if strings.Join(outcomes, " ") != strings.Join(want, " ") {
		t.Errorf("ticket notes = %q, want %q", outcomes, want)
	}
}

// TestNothingSentLeavesNoNote: a write that never went out (no token) is
// known not to be applied: its retry after a newer change applies it, as
// any late delivery, with no claim that an earlier write may have landed.
func TestNothingSentLeavesNoNote(t *testing.T) {
	g := &heldGraph{mode: "unsent"}
	p := attemptPipeline(g, idempotency.NewMemory(nil, 0), nil)
	if o := runServiceNow(p, "A", decoded(t)); o.Err == nil {
		t.Fatal("a write without a token succeeded")
	}
	g.set("")
	runServiceNow(p, "B", newerChange(t))
	if o := runServiceNow(p, "A", decoded(t)); o.Err != nil {
		t.Fatalf("A's retry = %v, want it applied", o.Err)
	}
	if g.writes != 2 || strings.Contains(string(g.held), `"exclude"`) {
		t.Errorf("%d writes, Graph holds %s; want A applied after B", g.writes, g.held)
	}
}

// revertOfTheTicket is a revert of decoded(t)'s ticket, approved by
// another person.
func revertOfTheTicket(t *testing.T) *change.Request {
	t.Helper()
	r, err := change.Decode([]byte(`{"action":"revert","ticket":{"id":"CHG0030042","system":"servicenow","state":"approved","requestedBy":"alice@contoso.com","approvedBy":"carol@contoso.com"}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestADryRunKeepsTheNote: a dry run of a delivery whose write's answer
// was lost answers its plan but does not spend the delivery on it: the
// real retry still finds the change applied, rather than being refused as
// a dry run's delivery.
func TestADryRunKeepsTheNote(t *testing.T) {
	g := &heldGraph{mode: "lose"}
	p := attemptPipeline(g, idempotency.NewMemory(nil, 0), nil)
	if o := runServiceNow(p, "A", decoded(t)); o.Err == nil {
		t.Fatal("the write whose answer was lost succeeded")
	}
	g.set("")
	dry := p.Run(t.Context(), &apply.Job{Sender: "servicenow", DeliveryID: "A", RequestID: "dry", Request: decoded(t), DryRun: true})
	if dry.Err != nil || !dry.Planned {
		t.Fatalf("the dry run = %+v", dry)
	}
	if o := runServiceNow(p, "A", decoded(t)); o.Err != nil || o.Replay || g.writes != 1 {
		t.Errorf("the real retry = %v (replay %v), %d writes; want the change answered as applied, one write", o.Err, o.Replay, g.writes)
	}
}

// TestARevertKeepsItsNoteBeforeTheWrite: a revert whose write's answer was
// lost and whose attempt could not give its record up (the store timed
// out, or the invoke died) is still recognised on the retry: the change
// put back is recorded as reverted, not refused as drifted.
func TestARevertKeepsItsNoteBeforeTheWrite(t *testing.T) {
	g := &heldGraph{}
	p := attemptPipeline(g, noAttempted{idempotency.NewMemory(nil, 0)}, nil)
	if o := runServiceNow(p, "A", decoded(t)); o.Err != nil {
		t.Fatal(o.Err)
	}
	g.set("lose")
	if o := runServiceNow(p, "R", revertOfTheTicket(t)); o.Err == nil {
		t.Fatal("the revert whose answer was lost succeeded")
	}
	g.set("")
	time.Sleep(150 * time.Millisecond) // R's hold ends
	if o := runServiceNow(p, "R", revertOfTheTicket(t)); o.Err != nil || o.Reverted == nil || len(o.Reverted.Changes) != 1 || g.writes != 2 {
		t.Errorf("the revert's retry = %v, %+v, %d writes; want the change reverted, no write again", o.Err, o.Reverted, g.writes)
	}
}

// TestARevertRetryFindingItDoneTellsTheTicket: the retry of a revert whose
// write had landed writes nothing, but the ticket, told "unknown" by the
// first attempt, is told it is applied.
func TestARevertRetryFindingItDoneTellsTheTicket(t *testing.T) {
	g, wb := &heldGraph{}, &ticketNotes{}
	p := attemptPipeline(g, idempotency.NewMemory(nil, 0), wb)
	if o := runServiceNow(p, "A", decoded(t)); o.Err != nil {
		t.Fatal(o.Err)
	}
	g.set("lose")
	runServiceNow(p, "R", revertOfTheTicket(t))
	g.set("")
	if o := runServiceNow(p, "R", revertOfTheTicket(t)); o.Err != nil {
		t.Fatalf("the revert's retry = %v", o.Err)
	}
	var outcomes []string
	for _, n := range wb.got {
		outcomes = append(outcomes, n.Outcome)
	}
	if want := []string{writeback.Applied, writeback.Unknown, writeback.Applied}; strings.Join(outcomes, " ") != strings.Join(want, " ") {
		t.Errorf("ticket notes = %q, want %q", outcomes, want)
	}
}

// clockPipeline is attemptPipeline on the clock *now (change windows).
func clockPipeline(g apply.Graph, st apply.Store, recs record.Store, now *time.Time) *apply.Pipeline {
	return apply.New(g, &apply.Options{Logger: slog.New(slog.DiscardHandler), Records: recs,
		Deadlines: apply.Deadlines{Timeout: 100 * time.Millisecond}, Dedupe: apply.Dedupe{Store: st},
		Now: func() time.Time { return *now }})
}

// TestARevertDoesNotHideALandedScheduledChange: a change arriving from its
// schedule is written, its answer lost; a revert of the ticket then finds
// it still scheduled and cancels it. The change's retry finds it applied
// all the same and records it (so a revert can put it back), rather than
// saying that it was cancelled and nothing changed.
func TestARevertDoesNotHideALandedScheduledChange(t *testing.T) {
	arrive, g, p := landedThenCancelled(t, idempotency.NewMemory(nil, 0), true)
	if o := arrive(); o.Err != nil || g.writes != 1 {
		t.Fatalf("the change's retry = %v, %d writes; want it answered as applied, no write", o.Err, g.writes)
	}
	if o := runServiceNow(p, "R2", revertOfTheTicket(t)); o.Err != nil || g.writes != 2 || strings.Contains(string(g.held), `"include"`) {
		t.Errorf("a revert after it = %v, %d writes, Graph holds %s; want the change put back", o.Err, g.writes, g.held)
	}
}

// TestARetryAfterTheWindowClosedFindsTheChange: the retry of a change
// whose answer was lost arrives after its window closed: it finds the
// change applied and answers so (and records it), rather than refusing it
// outside its window, which would keep "nothing was changed" for good.
func TestARetryAfterTheWindowClosedFindsTheChange(t *testing.T) {
	start := time.Now().Truncate(time.Second)
	now := start
	g, recs := &heldGraph{mode: "lose"}, record.NewMemory(nil)
	p := clockPipeline(g, idempotency.NewMemory(nil, 0), recs, &now)
	job := func() *apply.Job {
		r := decoded(t)
		r.Ticket.Window = &change.Window{Start: start.Add(-time.Hour).Format(time.RFC3339), End: start.Add(time.Minute).Format(time.RFC3339)}
		return &apply.Job{Sender: "servicenow", DeliveryID: "A", Request: r, Via: apply.ViaWorker, KeepRefusals: true}
	}
	if o := p.Run(t.Context(), job()); o.Err == nil {
		t.Fatal("the write whose answer was lost succeeded")
	}
	g.set("")
	now = start.Add(2 * time.Minute)
	if o := p.Run(t.Context(), job()); o.Err != nil || g.writes != 1 {
		t.Fatalf("the retry after the window = %v, %d writes; want it answered as applied", o.Err, g.writes)
	}
	if got, err := recs.ByTicket(t.Context(), "servicenow", "CHG0030042"); err != nil || len(got) != 1 {
		t.Errorf("change records = %+v, %v; want the change", got, err)
	}
}

// dropGraph does not apply a PATCH whose body holds drop, and answers it
// unavailable: a write Graph never took, whose outcome is unknown here.
type dropGraph struct {
	heldGraph
	drop string
}

func (g *dropGraph) PatchAssignment(ctx context.Context, cfg, asg string, body any) (*graph.Result, error) {
	b, _ := json.Marshal(body)
	if g.drop != "" && strings.Contains(string(b), g.drop) {
		return nil, &change.Error{Code: change.CodeUnavailable, Message: "Graph is unavailable"}
	}
	return g.heldGraph.PatchAssignment(ctx, cfg, asg, body)
}

// TestACancellationIsNotAChange: a revert of another ticket that only
// cancelled that ticket's held change of the assignment wrote nothing to
// it, so the retry of a change Graph never took still applies it.
func TestACancellationIsNotAChange(t *testing.T) {
	g := &dropGraph{drop: `"include"`}
	p := attemptPipeline(g, idempotency.NewMemory(nil, 0), nil)
	other := newerChange(t)
	other.Ticket.Window = &change.Window{Start: time.Now().Add(10 * time.Minute).Format(time.RFC3339), End: time.Now().Add(time.Hour).Format(time.RFC3339)}
	if o := p.Run(t.Context(), &apply.Job{Sender: "servicenow", DeliveryID: "S", Request: other,
		Enqueue: func(context.Context, string, string, time.Time, bool) error { return nil }}); o.Err != nil {
		t.Fatal(o.Err)
	}
	if o := runServiceNow(p, "A", decoded(t)); o.Err == nil {
		t.Fatal("the write Graph did not take succeeded")
	}
	g.drop = ""
	rev, err := change.Decode([]byte(`{"action":"revert","ticket":{"id":"CHG0030099","system":"servicenow","state":"approved","requestedBy":"alice@contoso.com","approvedBy":"carol@contoso.com"}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if o := runServiceNow(p, "R", rev); o.Err != nil {
		t.Fatal(o.Err)
	}
	if o := runServiceNow(p, "A", decoded(t)); o.Err != nil || !strings.Contains(string(g.held), `"include"`) {
		t.Errorf("the retry = %v, Graph holds %s; want it applied: nothing was written to the assignment since", o.Err, g.held)
	}
}

// lateRecords holds the Put of one record until released.
type lateRecords struct {
	record.Store
	id      string
	release chan struct{}
}

func (l *lateRecords) Put(ctx context.Context, r *record.Record) error {
	if r.ID == l.id {
		<-l.release
	}
	return l.Store.Put(ctx, r)
}

// TestAChangeRecordedLateIsNotAChangeSince: another ticket's change B is
// written before this delivery reads the assignment, but recorded after
// it: B is part of what the note read, so the retry of a write Graph never
// took applies it.
func TestAChangeRecordedLateIsNotAChangeSince(t *testing.T) {
	g := &dropGraph{drop: `"include"`}
	recs := &lateRecords{Store: record.NewMemory(nil), id: "servicenow:B", release: make(chan struct{})}
	p := apply.New(g, &apply.Options{Logger: slog.New(slog.DiscardHandler), Records: recs,
		Deadlines: apply.Deadlines{Timeout: 2 * time.Second}, Dedupe: apply.Dedupe{Store: idempotency.NewMemory(nil, 0)}})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); runServiceNow(p, "B", newerChange(t)) }()
	for written := false; !written; {
		g.mu.Lock()
		written = g.writes == 1
		g.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	if o := runServiceNow(p, "A", decoded(t)); o.Err == nil {
		t.Fatal("the write Graph did not take succeeded")
	}
	close(recs.release)
	wg.Wait()
	g.drop = ""
	if o := runServiceNow(p, "A", decoded(t)); o.Err != nil {
		t.Errorf("the retry = %v; want it applied: B was in what A read", o.Err)
	}
}

// TestANoteOutlivesTheDeadLetterQueue: a queued change given up with a note
// and moved back from the dead-letter queue days later (it keeps messages
// 14 days, answers are kept 48 h) still meets its note: it does not
// overwrite a newer change.
func TestANoteOutlivesTheDeadLetterQueue(t *testing.T) {
	now := time.Now()
	st := idempotency.NewMemory(func() time.Time { return now }, 0)
	g := &heldGraph{mode: "lose"}
	p := attemptPipeline(g, st, nil)
	loseAThenApplyB(t, p, g)
	now = now.Add(13 * 24 * time.Hour)
	if o := runServiceNow(p, "A", decoded(t)); o.Err == nil || strings.Contains(string(g.held), `"include"`) {
		t.Errorf("moved back 13 days later = %v, Graph holds %s; want 409, B kept", o.Err, g.held)
	}
}

// TestANewerChangeBackToThePriorIsAChangeSince: A's write lands, its
// answer lost; another ticket's change B then sets the assignment back to
// what A's note read, and is recorded. A's late retry reads what its note
// did, but B's record shows A had landed and B is newer: 409 drifted, B
// kept.
func TestANewerChangeBackToThePriorIsAChangeSince(t *testing.T) {
	g := &heldGraph{mode: "lose"}
	g.held = []byte(`{"id":"2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_5e6f0000-0000-0000-0000-000000000001","target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget",` +
		`"groupId":"5e6f0000-0000-0000-0000-000000000001","deviceAndAppManagementAssignmentFilterId":"a1b2c3d4-0000-0000-0000-00000000f117","deviceAndAppManagementAssignmentFilterType":"exclude"},"source":"direct"}`)
	p := attemptPipeline(g, idempotency.NewMemory(nil, 0), nil)
	if o := runServiceNow(p, "A", decoded(t)); o.Err == nil || !strings.Contains(string(g.held), `"include"`) {
		t.Fatalf("A = %v, Graph holds %s; want the write applied, its answer lost", o.Err, g.held)
	}
	g.set("")
	time.Sleep(5 * time.Millisecond) // B is recorded after A's note
	if o := runServiceNow(p, "B", newerChange(t)); o.Err != nil || !strings.Contains(string(g.held), `"exclude"`) {
		t.Fatalf("B = %v, Graph holds %s", o.Err, g.held)
	}
	o := runServiceNow(p, "A", decoded(t))
	if ce, ok := errors.AsType[*change.Error](o.Err); !ok || ce.Kind != change.KindDrifted || !strings.Contains(ce.Message, "servicenow:B") ||
		strings.Contains(string(g.held), `"include"`) {
		t.Errorf("A's late retry = %v, Graph holds %s; want 409 drifted naming B, B kept", o.Err, g.held)
	}
}

// switchStore fails Begin as told: "down" (store unavailable) or "busy"
// (another attempt holds it).
type switchStore struct {
	*idempotency.Memory
	mu   sync.Mutex
	mode string
}

func (s *switchStore) set(m string) { s.mu.Lock(); s.mode = m; s.mu.Unlock() }

func (s *switchStore) Begin(ctx context.Context, k, f string, until time.Time) (*idempotency.Lease, error) {
	s.mu.Lock()
	m := s.mode
	s.mu.Unlock()
	switch m {
	case "down":
		return nil, errors.New("store timed out")
	case "busy":
		return nil, &idempotency.InProgressError{RetryAfter: time.Second}
	}
	return s.Memory.Begin(ctx, k, f, until)
}

// landedThenCancelled: a scheduled change lands, its answer is lost, a
// revert cancels it; returns arrive() (the change arriving from its
// schedule again, on a worker that keeps refusals when keep is set) and
// the graph.
func landedThenCancelled(t *testing.T, st apply.Store, keep bool) (func() apply.Outcome, *heldGraph, *apply.Pipeline) {
	start := time.Now().Truncate(time.Second)
	now := start
	g, recs := &heldGraph{}, record.NewMemory(nil)
	p := clockPipeline(g, st, recs, &now)
	window := &change.Window{Start: start.Add(10 * time.Minute).Format(time.RFC3339), End: start.Add(time.Hour).Format(time.RFC3339)}
	held := decoded(t)
	held.Ticket.Window = window
	var key, fp string
	if o := p.Run(t.Context(), &apply.Job{Sender: "servicenow", DeliveryID: "A", Request: held,
		Enqueue: func(_ context.Context, k, f string, _ time.Time, _ bool) error { key, fp = k, f; return nil }}); o.Err != nil || !o.Queued {
		t.Fatalf("the held change = %+v", o)
	}
	now = start.Add(11 * time.Minute)
	arrive := func() apply.Outcome {
		r := decoded(t)
		r.Ticket.Window = window
		return p.Run(t.Context(), &apply.Job{Sender: "servicenow", DeliveryID: "A", Request: r, Via: apply.ViaWorker,
			Key: apply.WorkKey(key), Fingerprint: fp, Scheduled: true, KeepRefusals: keep})
	}
	g.set("lose")
	if o := arrive(); o.Err == nil {
		t.Fatal("the write whose answer was lost succeeded")
	}
	g.set("")
	if o := runServiceNow(p, "R", revertOfTheTicket(t)); o.Err != nil {
		t.Fatalf("the revert = %v", o.Err)
	}
	return arrive, g, p
}

// TestACopyOfASettledChangeIsNotCancelled: a copy of the scheduled change
// its retry settled (applied, recorded) is a replay, not "cancelled,
// nothing was changed".
func TestACopyOfASettledChangeIsNotCancelled(t *testing.T) {
	arrive, g, _ := landedThenCancelled(t, idempotency.NewMemory(nil, 0), false)
	if o := arrive(); o.Err != nil || g.writes != 1 {
		t.Fatalf("settle = %v", o.Err)
	}
	o := arrive() // SQS duplicate / copy moved back
	if !o.Replay || o.Err != nil {
		t.Errorf("copy of the applied change: replay=%v err=%v audit=%q; want the replayed 200 (the change stands)", o.Replay, o.Err, o.Audit)
	}
}

// TestAStoreDownDoesNotDropTheNote: the store down at the cancelled
// change's retry is a retry later, not "cancelled" (which the worker
// deletes): the note is settled when the store answers again.
func TestAStoreDownDoesNotDropTheNote(t *testing.T) {
	st := &switchStore{Memory: idempotency.NewMemory(nil, 0)}
	arrive, g, p := landedThenCancelled(t, st, false)
	st.set("down")
	o := arrive()
	if apply.Canceled(o.Err) {
		t.Errorf("store unavailable answered %v (Canceled: the worker deletes the message, the note is never settled)", o.Err)
	}
	st.set("")
	if o := arrive(); o.Err != nil {
		t.Fatalf("the retry once the store answers = %v, want the change found applied", o.Err)
	}
	if o := runServiceNow(p, "R2", revertOfTheTicket(t)); o.Err != nil || strings.Contains(string(g.held), `"include"`) {
		t.Errorf("a second revert = %v, Graph holds %s; want the landed change put back", o.Err, g.held)
	}
}

// TestAChangeInProgressIsNotCancelled: another attempt holds the delivery
// (it may be settling the note): this copy comes back later, not
// "cancelled".
func TestAChangeInProgressIsNotCancelled(t *testing.T) {
	st := &switchStore{Memory: idempotency.NewMemory(nil, 0)}
	arrive, _, _ := landedThenCancelled(t, st, false)
	st.set("busy")
	if o := arrive(); !apply.InProgress(o.Err) {
		t.Errorf("held by another attempt = %v; want InProgress (the holder settles a note whose change landed)", o.Err)
	}
}

// TestALateRecordOfAnEarlierWriteIsNotAChangeSince: X's write (from what A
// makes to what A's note reads) lands before A reads, but its answer is
// lost and X is recorded only when its retry settles it, after A's note.
// A's own write never landed. X's record carries the time of its write, so
// A's retry applies A.
func TestALateRecordOfAnEarlierWriteIsNotAChangeSince(t *testing.T) {
	g := &dropGraph{drop: `"include"`}
	g.held = []byte(`{"id":"2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_5e6f0000-0000-0000-0000-000000000001","target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget",` +
		`"groupId":"5e6f0000-0000-0000-0000-000000000001","deviceAndAppManagementAssignmentFilterId":"a1b2c3d4-0000-0000-0000-00000000f117","deviceAndAppManagementAssignmentFilterType":"include"},"source":"direct"}`)
	p := attemptPipeline(g, idempotency.NewMemory(nil, 0), nil)
	g.set("lose")
	if o := runServiceNow(p, "X", newerChange(t)); o.Err == nil || !strings.Contains(string(g.held), `"exclude"`) {
		t.Fatalf("X = %v, %s", o.Err, g.held)
	}
	time.Sleep(5 * time.Millisecond)
	if o := runServiceNow(p, "A", decoded(t)); o.Err == nil || !strings.Contains(string(g.held), `"exclude"`) {
		t.Fatalf("A = %v, %s; want lost and not landed", o.Err, g.held)
	}
	g.set("")
	g.drop = ""
	time.Sleep(5 * time.Millisecond)
	if o := runServiceNow(p, "X", newerChange(t)); o.Err != nil {
		t.Fatalf("X's retry = %v", o.Err)
	}
	o := runServiceNow(p, "A", decoded(t))
	if o.Err != nil || !strings.Contains(string(g.held), `"include"`) {
		t.Errorf("A's retry = %v, Graph holds %s; want A applied (X's write came before A's read: nothing changed since)", o.Err, g.held)
	}
}

// TestARetrysWriteTimeIsTheRecordsTime: X's first write never lands; A
// reads the assignment and its write never lands; X's retry writes again,
// lands, its answer lost; X is settled and recorded at the time of that
// second write, not the first, and reverted (back to what A read). A's
// retry: X wrote after A's read, so X is a change since: 409 drifted.
func TestARetrysWriteTimeIsTheRecordsTime(t *testing.T) {
	g := &dropGraph{drop: `"exclude"`}
	recs := record.NewMemory(nil)
	p := apply.New(g, &apply.Options{Logger: slog.New(slog.DiscardHandler), Records: recs,
		Deadlines: apply.Deadlines{Timeout: 100 * time.Millisecond}, Dedupe: apply.Dedupe{Store: idempotency.NewMemory(nil, 0)}})
	if o := runServiceNow(p, "X", newerChange(t)); o.Err == nil {
		t.Fatal("X 1 applied")
	}
	time.Sleep(5 * time.Millisecond)
	g.drop = `"include"`
	if o := runServiceNow(p, "A", decoded(t)); o.Err == nil {
		t.Fatal("A 1 applied")
	}
	time.Sleep(5 * time.Millisecond)
	g.drop = ""
	g.set("lose")
	secondAttempt := time.Now() // X's second attempt, and its write, begin after this
	if o := runServiceNow(p, "X", newerChange(t)); o.Err == nil || !strings.Contains(string(g.held), `"exclude"`) {
		t.Fatalf("X 2 = %v %s", o.Err, g.held)
	}
	g.set("")
	if o := runServiceNow(p, "X", newerChange(t)); o.Err != nil {
		t.Fatalf("X 3 = %v", o.Err)
	}
	if r, err := recs.Get(t.Context(), "servicenow:X"); err != nil || r.Time.Before(secondAttempt) {
		t.Errorf("X recorded at %v (%v), before its second attempt began (%s): the time of the first write, which did not land", r, err, secondAttempt)
	}
	rev, _ := change.Decode([]byte(`{"action":"revert","ticket":{"id":"CHG0030099","system":"servicenow","state":"approved","requestedBy":"alice@contoso.com","approvedBy":"carol@contoso.com"}}`), nil)
	if o := runServiceNow(p, "R", rev); o.Err != nil {
		t.Fatalf("revert = %v", o.Err)
	}
	o := runServiceNow(p, "A", decoded(t))
	if ce, ok := errors.AsType[*change.Error](o.Err); !ok || ce.Kind != change.KindDrifted {
		t.Errorf("A's retry = %v, Graph %s; want 409 drifted (X wrote after A's read)", o.Err, g.held)
	}
}

// TestAKeptUnknownIsNotRelabelledCancelled: a cancelled scheduled change
// whose retry was refused 409 drifted (its write's outcome unknown) keeps
// that answer: a copy is not told "cancelled, nothing was changed".
func TestAKeptUnknownIsNotRelabelledCancelled(t *testing.T) {
	arrive, _, p := landedThenCancelled(t, idempotency.NewMemory(nil, 0), false)
	if o := runServiceNow(p, "B", newerChange(t)); o.Err != nil {
		t.Fatal(o.Err)
	}
	o := arrive()
	if apply.Canceled(o.Err) || change.ErrorCode(o.Err) != change.CodeConflict {
		t.Fatalf("settle = %v", o.Err)
	}
	o = arrive()
	if apply.Canceled(o.Err) {
		t.Errorf("copy = %v; the kept answer was drifted/unknown (the write landed), now told cancelled, nothing was changed", o.Err)
	}
}

// switchSlots refuses write slots while refuse is set (Intune's write
// limit reached), else hands them out.
type switchSlots struct{ refuse *bool }

func (s switchSlots) Wait(context.Context) (func(), error) {
	if *s.refuse {
		return nil, &limiter.BudgetError{RetryAfter: time.Second}
	}
	return func() {}, nil
}

// TestARetryThatSentNothingLeavesTheNoteAsItWas: a retry of a write whose
// answer was lost that gets no write slot sends nothing: the note it
// rewrote for its write goes back as it was, so a later retry does not
// take that write for one that went out.
func TestARetryThatSentNothingLeavesTheNoteAsItWas(t *testing.T) {
	g, refuse := &dropGraph{drop: `"include"`}, false
	st := idempotency.NewMemory(nil, 0)
	p := apply.New(g, &apply.Options{Logger: slog.New(slog.DiscardHandler), Records: record.NewMemory(nil),
		Deadlines: apply.Deadlines{Timeout: 100 * time.Millisecond}, Dedupe: apply.Dedupe{Store: st},
		Update: apply.Update{Limiter: switchSlots{&refuse}}})
	if o := runServiceNow(p, "A", decoded(t)); o.Err == nil {
		t.Fatal("the write Graph did not take succeeded")
	}
	key, fp := apply.Key("servicenow", "A", decoded(t))
	peek := func() []byte {
		l, err := st.Begin(t.Context(), key, fp, time.Now().Add(time.Second))
		if err != nil || l.Attempt == nil {
			t.Fatalf("the delivery's record = %+v, %v; want its note", l, err)
		}
		note := l.Attempt
		if err := st.Release(t.Context(), l); err != nil {
			t.Fatal(err)
		}
		return note
	}
	first := peek()
	refuse = true
	time.Sleep(2 * time.Millisecond) // a later write time, were it kept
	o := runServiceNow(p, "A", decoded(t))
	if ce, ok := errors.AsType[*change.Error](o.Err); !ok || ce.Kind != change.KindWriteLimit {
		t.Fatalf("the retry without a write slot = %v, want write-limit", o.Err)
	}
	if after := peek(); string(after) != string(first) {
		t.Errorf("the note after a retry that sent nothing = %s, want it as it was: %s", after, first)
	}
}

// TestTheDriftedAnswerOutlivesTheDeadLetterQueue: the 409 a retry got
// because a newer change stood is kept as long as the note would have
// lived, not only as long as answers are (48 h): a copy moved back from
// the dead-letter queue days later gets it again, and B stands.
func TestTheDriftedAnswerOutlivesTheDeadLetterQueue(t *testing.T) {
	now := time.Now()
	st := idempotency.NewMemory(func() time.Time { return now }, 0)
	g := &heldGraph{mode: "lose"}
	p := attemptPipeline(g, st, nil)
	loseAThenApplyB(t, p, g)
	now = now.Add(24 * time.Hour)
	if o := runServiceNow(p, "A", decoded(t)); o.Err == nil {
		t.Fatalf("A's retry a day later applied over B")
	}
	now = now.Add(12 * 24 * time.Hour)
	if o := runServiceNow(p, "A", decoded(t)); !o.Replay || o.Status != http.StatusConflict || strings.Contains(string(g.held), `"include"`) {
		t.Errorf("A moved back 13 days later = replay %v, status %d, err %v, Graph holds %s; want the kept 409, B kept", o.Replay, o.Status, o.Err, g.held)
	}
}
