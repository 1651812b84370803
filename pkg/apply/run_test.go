package apply_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
)

// countingGraph answers every PATCH with its body, or fails with err, and
// counts the PATCHes.
type countingGraph struct {
	noGraph
	mu      sync.Mutex
	patches int
	err     error
}

func (g *countingGraph) PatchAssignment(context.Context, string, string, any) (*graph.Result, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.patches++
	if g.err != nil {
		return &graph.Result{}, g.err
	}
	return &graph.Result{RequestID: "g-1", Body: []byte(`{"id":"a","target":{}}`)}, nil
}

func runPipeline(g apply.Graph) *apply.Pipeline {
	return apply.New(g, &apply.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Dedupe: apply.Dedupe{Store: idempotency.NewMemory(nil, 0)}})
}

// TestRunAppliesADeliveryOnce: the same delivery run twice reaches Graph
// once; the second run is the first answer again, marked as a replay.
func TestRunAppliesADeliveryOnce(t *testing.T) {
	g := &countingGraph{}
	p := runPipeline(g)
	job := func() *apply.Job {
		return &apply.Job{Sender: "generic", DeliveryID: "msg_1", RequestID: "r-1", Request: decoded(t)}
	}
	first := p.Run(context.Background(), job())
	if first.Err != nil || first.Status != http.StatusOK || !first.Taken || first.Audit != apply.AuditApplied || !first.WriteBack {
		t.Fatalf("first run = %+v", first)
	}
	again := p.Run(context.Background(), job())
	if !again.Replay || again.Status != http.StatusOK || string(again.Body) != string(first.Body) || again.Audit != apply.AuditReplayed {
		t.Fatalf("second run = %+v, want the first answer replayed", again)
	}
	if g.patches != 1 {
		t.Errorf("PATCHes = %d, want 1", g.patches)
	}
}

// TestRunDryRunSpendsTheDeliveryID: a dry run's delivery id never applies
// afterwards: the real delivery with it is refused delivery-was-dry-run.
func TestRunDryRunSpendsTheDeliveryID(t *testing.T) {
	g := &countingGraph{}
	p := runPipeline(&planGraph{countingGraph: g})
	dry := p.Run(context.Background(), &apply.Job{Sender: "generic", DeliveryID: "msg_2", RequestID: "r-1", Request: decoded(t), DryRun: true})
	if dry.Err != nil || !dry.Planned || dry.Plan == nil || dry.Headers[apply.HeaderDryRun] != apply.DryRunApplied {
		t.Fatalf("dry run = %+v", dry)
	}
	spent := p.Run(context.Background(), &apply.Job{Sender: "generic", DeliveryID: "msg_2", RequestID: "r-2", Request: decoded(t)})
	if ce, ok := errors.AsType[*change.Error](spent.Err); !ok || ce.Kind != change.KindDeliveryDryRun {
		t.Fatalf("the real delivery after the dry run = %v, want delivery-was-dry-run", spent.Err)
	}
	if g.patches != 0 {
		t.Errorf("PATCHes = %d, want none", g.patches)
	}
}

// planGraph answers the dry run's read.
type planGraph struct{ *countingGraph }

func (planGraph) GetAssignment(context.Context, string, string) (*graph.Result, error) {
	return &graph.Result{Body: []byte(`{"id":"a","target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}`)}, nil
}

// TestRunFailures: a failure releases the delivery so the retry reaches
// Graph again, unless the job keeps refusals and the failure is not
// retryable: then the retry gets the refusal without reaching Graph.
func TestRunFailures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		keep    bool
		patches int
	}{
		{"released", &change.Error{Code: change.CodeGraphRefused, Message: "no"}, false, 2},
		{"refusal kept", &change.Error{Code: change.CodeGraphRefused, Message: "no"}, true, 1},
		{"retryable released though kept", &change.Error{Code: change.CodeUnavailable, Message: "later"}, true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &countingGraph{err: tc.err}
			p := runPipeline(&planGraph{countingGraph: g}) // a retry after an unknown outcome reads first
			for i := 0; i < 2; i++ {
				o := p.Run(context.Background(), &apply.Job{Sender: "generic", DeliveryID: "msg_3", Request: decoded(t), KeepRefusals: tc.keep})
				if o.Err == nil && !o.Replay {
					t.Fatalf("run %d = %+v, want the failure", i, o)
				}
			}
			if g.patches != tc.patches {
				t.Errorf("PATCHes = %d, want %d", g.patches, tc.patches)
			}
		})
	}
}

// TestRunEnqueue: a queued job is sent with its store key and answered 202;
// a failed enqueue releases the delivery, so the sender's retry queues it.
func TestRunEnqueue(t *testing.T) {
	p := runPipeline(noGraph{})
	var keys []string
	fail := true
	job := func() *apply.Job {
		return &apply.Job{Sender: "generic", DeliveryID: "msg_4", Request: decoded(t), QueuedBody: func(time.Time, bool) []byte { return []byte(`{"status":"queued"}`) },
			Enqueue: func(_ context.Context, key, _ string, _ time.Time, _ bool) error {
				keys = append(keys, key)
				if fail {
					return &change.Error{Code: change.CodeUnavailable, Kind: change.KindQueueUnavailable, Message: "down"}
				}
				return nil
			}}
	}
	if o := p.Run(context.Background(), job()); o.Err == nil {
		t.Fatalf("a failed enqueue = %+v, want its error", o)
	}
	fail = false
	o := p.Run(context.Background(), job())
	if o.Err != nil || !o.Queued || o.Status != http.StatusAccepted || o.Audit != apply.AuditQueued || o.WriteBack {
		t.Fatalf("the retry = %+v, want queued", o)
	}
	if len(keys) != 2 || keys[0] != "generic:msg_4" {
		t.Errorf("enqueued with keys %q, want generic:msg_4 twice", keys)
	}
}
