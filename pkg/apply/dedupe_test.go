package apply_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/record"
)

// body is an approved change of the generic envelope.
const body = `{"ticket":{"id":"CHG0030042","system":"servicenow","state":"approved","requestedBy":"alice@contoso.com","approvedBy":"bob@contoso.com"},` +
	`"configurationId":"2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_Windows10EnrollmentCompletionPageConfiguration",` +
	`"assignmentId":"2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_5e6f0000-0000-0000-0000-000000000001",` +
	`"assignment":{"target":{"@odata.type":"microsoft.graph.groupAssignmentTarget","groupId":"5e6f0000-0000-0000-0000-000000000001",` +
	`"deviceAndAppManagementAssignmentFilterId":"a1b2c3d4-0000-0000-0000-00000000f117","deviceAndAppManagementAssignmentFilterType":"include"},"source":"direct"}}`

func TestKeyWithoutDeliveryIDIgnoresKeyOrderAndWhitespace(t *testing.T) {
	a, _ := change.Decode([]byte(body), nil)
	reordered := `{"assignmentId":"2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_5e6f0000-0000-0000-0000-000000000001", "assignment": {"source":"direct","target":{"groupId":"5e6f0000-0000-0000-0000-000000000001","@odata.type":"#microsoft.graph.groupAssignmentTarget","deviceAndAppManagementAssignmentFilterType":"include","deviceAndAppManagementAssignmentFilterId":"a1b2c3d4-0000-0000-0000-00000000f117"}},` +
		"\n" + `"configurationId":"2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_Windows10EnrollmentCompletionPageConfiguration","ticket":{"approvedBy":"bob@contoso.com","requestedBy":"alice@contoso.com","state":"approved","system":"servicenow","id":"CHG0030042"}}`
	b, err := change.Decode([]byte(reordered), nil)
	if err != nil {
		t.Fatal(err)
	}
	ka, fa := apply.Key("generic", "", a)
	kb, fb := apply.Key("generic", "", b)
	if ka != kb || fa != fb {
		t.Errorf("keys differ for the same change: %s %s", ka, kb)
	}
	other, _ := change.Decode([]byte(strings.Replace(body, "CHG0030042", "CHG0030043", 1)), nil)
	if ko, _ := apply.Key("generic", "", other); ko == ka {
		t.Errorf("another ticket gave the same key")
	}
	if kd, _ := apply.Key("generic", "msg_1", a); kd != "generic:msg_1" {
		t.Errorf("delivery id key = %s", kd)
	}
}

// TestKeysKeepTheirRecordsApart: a chat delivery, the queued change and the
// worker's record of it never share a key, and a chat command's fingerprint
// is its signed body.
func TestKeysKeepTheirRecordsApart(t *testing.T) {
	req, err := change.Decode([]byte(body), nil)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := apply.Key("slack", "d1", req)
	chatKey, fp := apply.ChatKey("slack", "d1", []byte("text=assign"))
	_, fp2 := apply.ChatKey("slack", "d1", []byte("text=assign&dryRun=true"))
	if key == chatKey || apply.WorkKey(key) == key || apply.WorkKey(key) == chatKey {
		t.Errorf("keys %q, %q, %q: want three records", key, chatKey, apply.WorkKey(key))
	}
	if fp == fp2 {
		t.Errorf("chat fingerprint %s ignores the body", fp)
	}
	if !apply.IsDryRunAnswer(&idempotency.Response{Headers: map[string]string{apply.HeaderDryRun: apply.DryRunApplied}}) ||
		apply.IsDryRunAnswer(&idempotency.Response{}) {
		t.Error("IsDryRunAnswer does not read the dry-run marker")
	}
}

// TestWithoutAStoreNothingIsTaken: a pipeline without a store takes nothing
// and completes or releases nothing.
func TestWithoutAStoreNothingIsTaken(t *testing.T) {
	p := apply.New(noGraph{}, nil)
	if p.Deduplicates() {
		t.Fatal("Deduplicates = true without a store")
	}
	lease, err := p.Take(context.Background(), "k", "f", p.Until(context.Background()))
	if lease != nil || err != nil {
		t.Fatalf("Take = %v, %v; want nil, nil", lease, err)
	}
	p.Complete(context.Background(), nil, idempotency.Response{})
	p.Release(context.Background(), nil)
}

// TestNewPanicsOnAStrategyItCannotRun: an unknown strategy, or assign with
// a Graph that has no assign action, is a wiring bug.
func TestNewPanicsOnAStrategyItCannotRun(t *testing.T) {
	for _, bad := range []string{apply.StrategyAssign, "put"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New with strategy %q and a Graph without assign did not panic", bad)
				}
			}()
			apply.New(noGraph{}, &apply.Options{Update: apply.Update{Strategy: bad}})
		}()
	}
	if s, switched := apply.New(noGraph{}, nil).UpdateStrategy(); s != apply.StrategyAuto || switched {
		t.Errorf("default strategy = %q (switched %v), want auto", s, switched)
	}
}

var _ apply.AssignGraph = (*graph.Client)(nil)

// noGraph is a Graph the test never calls.
type noGraph struct{}

func (noGraph) PatchAssignment(context.Context, string, string, any) (*graph.Result, error) {
	panic("apply_test: unexpected PATCH")
}

func (noGraph) GetAssignment(context.Context, string, string) (*graph.Result, error) {
	panic("apply_test: unexpected GET")
}

// TestFingerprintCoversActionAndWindow: a revert sent under an apply's
// delivery id, or the same change with another window, is another decision
// (a conflict, not a replay); an apply's fingerprint does not depend on
// whether it spells its action.
func TestFingerprintCoversActionAndWindow(t *testing.T) {
	base := decoded(t)
	_, fp := apply.Key("generic", "msg_1", base)
	spelled := decoded(t)
	spelled.Action = change.ActionApply
	if _, got := apply.Key("generic", "msg_1", spelled); got != fp {
		t.Error("action apply spelled out changed the fingerprint")
	}
	revert := &change.Request{Ticket: base.Ticket, Action: change.ActionRevert}
	withChange := decoded(t)
	withChange.Action = change.ActionRevert
	windowed := decoded(t)
	windowed.Ticket.Window = &change.Window{Start: "2026-03-02T20:00:00Z", End: "2026-03-02T23:00:00Z"}
	for name, r := range map[string]*change.Request{"revert": revert, "revert with the change's fields": withChange, "window": windowed} {
		if _, got := apply.Key("generic", "msg_1", r); got == fp {
			t.Errorf("%s: same fingerprint as the apply", name)
		}
	}
}

// netStore is the embedded de-duplication store behind a network: a write
// on an ended context fails, as DynamoDB's call would.
type netStore struct{ *idempotency.Memory }

func (s netStore) Complete(ctx context.Context, l *idempotency.Lease, r idempotency.Response, e time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.Memory.Complete(ctx, l, r, e)
}

// TestTheAnswerIsKeptBeforeTheRecord: a slow change record does not use up
// the time the answer kept for retries needs: the sender's retry after a
// 200 is a replay, not a second PATCH.
func TestTheAnswerIsKeptBeforeTheRecord(t *testing.T) {
	g := &countingGraph{}
	p := apply.New(planGraph{g}, &apply.Options{Logger: slog.New(slog.DiscardHandler), Records: slowRecords{Memory: record.NewMemory(nil), took: time.Hour}, // a throttled table
		Dedupe: apply.Dedupe{Store: netStore{idempotency.NewMemory(nil, 0)}}})
	req, err := change.Decode([]byte(body), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	first := p.Run(ctx, &apply.Job{Sender: "generic", DeliveryID: "msg_slow_record", Request: req})
	cancel()
	if first.Err != nil || first.Status != 200 {
		t.Fatalf("first: %d %v", first.Status, first.Err)
	}
	again := p.Run(context.Background(), &apply.Job{Sender: "generic", DeliveryID: "msg_slow_record", Request: req})
	if !again.Replay || g.patches != 1 {
		t.Fatalf("the retry after a 200: replay %v, %d PATCHes; want the stored answer and one PATCH", again.Replay, g.patches)
	}
}

// TestAFullEmbeddedStoreSaysSo: the embedded store full of deliveries in
// progress refuses a new one 503, saying it is full, not that it is down.
func TestAFullEmbeddedStoreSaysSo(t *testing.T) {
	store := idempotency.NewMemory(nil, 1)
	if _, err := store.Begin(context.Background(), "generic:held", "fp", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	g := &countingGraph{}
	p := apply.New(g, &apply.Options{Logger: slog.New(slog.DiscardHandler), Dedupe: apply.Dedupe{Store: store}})
	req, _ := change.Decode([]byte(body), nil)
	o := p.Run(context.Background(), &apply.Job{Sender: "generic", DeliveryID: "msg_full", Request: req})
	pr, _ := apply.ProblemFor(o.Err, "r")
	if pr.Status != 503 || !strings.Contains(pr.Detail, "full of deliveries still being applied") || g.patches != 0 {
		t.Fatalf("%d %q, %d PATCHes", pr.Status, pr.Detail, g.patches)
	}
}

// downReadGraph fails the read before the write.
type downReadGraph struct{ *countingGraph }

func (downReadGraph) GetAssignment(context.Context, string, string) (*graph.Result, error) {
	return nil, &change.Error{Code: change.CodeUnavailable, Message: "Graph could not be reached", RetryAfter: time.Second}
}

// TestAFailedReadBeforeTheWriteSentNothing: a change whose read before the
// write failed is known not to be applied (change.ErrNothingSent): its
// ticket note says failed, not unknown, and chat says not applied.
func TestAFailedReadBeforeTheWriteSentNothing(t *testing.T) {
	g := &countingGraph{}
	p := apply.New(downReadGraph{g}, &apply.Options{Logger: slog.New(slog.DiscardHandler), Records: record.NewMemory(nil),
		Dedupe: apply.Dedupe{Store: idempotency.NewMemory(nil, 0)}})
	req, _ := change.Decode([]byte(body), nil)
	o := p.Run(context.Background(), &apply.Job{Sender: "generic", DeliveryID: "msg_read_down", Request: req})
	if change.ErrorCode(o.Err) != change.CodeUnavailable || !errors.Is(o.Err, change.ErrNothingSent) || g.patches != 0 {
		t.Fatalf("%v (nothing sent: %v), %d PATCHes", o.Err, errors.Is(o.Err, change.ErrNothingSent), g.patches)
	}
}
