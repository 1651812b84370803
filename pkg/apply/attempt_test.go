package apply_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
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
	runServiceNow(p, "A", decoded(t))
	g.set("")
	runServiceNow(p, "B", newerChange(t))
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
