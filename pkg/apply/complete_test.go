package apply_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/record"
)

// flakyStore wraps the embedded store; its first Complete calls fail (or
// hang until their context ends) before the write reaches the store.
type flakyStore struct {
	*idempotency.Memory
	mu       sync.Mutex
	failures int
	hang     bool
	calls    int
}

func (f *flakyStore) Complete(ctx context.Context, l *idempotency.Lease, resp idempotency.Response, expires time.Time) error {
	f.mu.Lock()
	f.calls++
	fail := f.calls <= f.failures
	f.mu.Unlock()
	if fail {
		if f.hang {
			<-ctx.Done()
			return ctx.Err()
		}
		return errors.New("store: connection reset")
	}
	return f.Memory.Complete(ctx, l, resp, expires)
}

// TestCompleteIsRetried: an answer whose record could not be written at
// once is written on a later try, so a retry of the delivery gets it again
// instead of taking over the record and applying the change a second time.
func TestCompleteIsRetried(t *testing.T) {
	st := &flakyStore{Memory: idempotency.NewMemory(nil, 0), failures: 2}
	p := apply.New(noGraph{}, &apply.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Dedupe: apply.Dedupe{Store: st}})
	ctx := context.Background()
	lease, err := p.Take(ctx, "generic:msg_1", "fp", time.Now().Add(time.Millisecond))
	if err != nil || lease == nil {
		t.Fatalf("Take = %v, %v", lease, err)
	}
	p.Complete(ctx, lease, idempotency.Response{Status: 200, Body: []byte(`{}`)})
	time.Sleep(2 * time.Millisecond) // the in-progress lease has ended
	again, err := p.Take(ctx, "generic:msg_1", "fp", time.Now().Add(time.Minute))
	if err != nil || again == nil || again.Replay == nil {
		t.Fatalf("the retry = %+v, %v; want the stored answer, not a takeover", again, err)
	}
}

// TestCompleteKeepsTheDeadline: a store that does not answer cannot hold
// Complete past the invoke's deadline.
func TestCompleteKeepsTheDeadline(t *testing.T) {
	st := &flakyStore{Memory: idempotency.NewMemory(nil, 0), failures: 100, hang: true}
	p := apply.New(noGraph{}, &apply.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Dedupe: apply.Dedupe{Store: st}})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	lease, err := p.Take(ctx, "generic:msg_2", "fp", time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { p.Complete(ctx, lease, idempotency.Response{Status: 200}); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Complete outlived the invoke's deadline by seconds")
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.calls < 1 {
		t.Errorf("Complete never reached the store")
	}
}

// hangingRelease is a store whose Release waits until its context ends.
type hangingRelease struct{ *idempotency.Memory }

func (hangingRelease) Release(ctx context.Context, _ *idempotency.Lease) error {
	<-ctx.Done()
	return ctx.Err()
}

// TestReleaseKeepsTheDeadline: a store that does not answer cannot hold
// Release (a failed change, a failed enqueue) past the invoke's deadline
// either.
func TestReleaseKeepsTheDeadline(t *testing.T) {
	st := hangingRelease{idempotency.NewMemory(nil, 0)}
	p := apply.New(noGraph{}, &apply.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Dedupe: apply.Dedupe{Store: st}})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	lease, err := p.Take(ctx, "generic:msg_3", "fp", time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { p.Release(ctx, lease); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Release outlived the invoke's deadline by seconds")
	}
}

// slowPatchGraph is a Graph transport whose PATCH answers after patchTook
// (a Graph that throttled, say), counting them, and whose GET answers at
// once.
type slowPatchGraph struct {
	patchTook time.Duration
	patches   *atomic.Int32
}

func (s slowPatchGraph) Do(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPatch {
		select {
		case <-time.After(s.patchTook):
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
		s.patches.Add(1)
	}
	body := `{"id":"2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_5e6f0000-0000-0000-0000-000000000001","target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}`
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}, "Request-Id": {"g-slow"}},
		Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
}

type staticToken struct{}

func (staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "t", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// slowRecords and slowDedupe take took for every write.
type slowRecords struct {
	*record.Memory
	took time.Duration
}

func (s slowRecords) Put(ctx context.Context, r *record.Record) error {
	select {
	case <-time.After(s.took):
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Memory.Put(ctx, r)
}

type slowDedupe struct {
	*idempotency.Memory
	took time.Duration
}

func (s slowDedupe) Complete(ctx context.Context, l *idempotency.Lease, resp idempotency.Response, expires time.Time) error {
	select {
	case <-time.After(s.took):
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Memory.Complete(ctx, l, resp, expires)
}

// TestTheOwnBoundKeepsTheMargin: a change that came without a deadline
// (the local server) runs under the pipeline's own bound, and Graph calls
// keep the margin before it, as before an invoke's deadline: a PATCH Graph
// would answer within the margin is not waited for (503 out of time; a
// retry may apply it), and one answered before it leaves the margin to the
// writes after Graph, so the change is recorded (revertable by its ticket)
// and its answer kept: the sender's retry is not applied a second time.
func TestTheOwnBoundKeepsTheMargin(t *testing.T) {
	for _, tc := range []struct {
		name      string
		patchTook time.Duration
		applied   bool
	}{
		// Bound 2.5 s, margin 1.5 s: Graph calls must end by 1 s; the
		// writes after Graph take 1 s together. The times leave a loaded
		// machine half a second or more at every step.
		{"answered within the margin", 1750 * time.Millisecond, false},
		{"answered before the margin", 375 * time.Millisecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			var patches atomic.Int32
			gc, err := graph.NewClient("https://graph.microsoft.com/beta", staticToken{}, "https://graph.microsoft.com/.default",
				&graph.Options{Transport: slowPatchGraph{patchTook: tc.patchTook, patches: &patches}, DeadlineMargin: 1500 * time.Millisecond,
					Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			recs := record.NewMemory(nil)
			p := apply.New(gc, &apply.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)),
				Deadlines: apply.Deadlines{Timeout: 2500 * time.Millisecond, Margin: 1500 * time.Millisecond},
				Dedupe:    apply.Dedupe{Store: slowDedupe{Memory: idempotency.NewMemory(nil, 0), took: 500 * time.Millisecond}},
				Records:   slowRecords{Memory: recs, took: 500 * time.Millisecond}})
			req := decoded(t)
			o := p.Run(context.Background(), &apply.Job{Sender: "generic", DeliveryID: "msg_own_bound", RequestID: "r-own", Request: req})
			got, _ := recs.ByAssignment(context.Background(), req.ConfigurationID, req.AssignmentID, 10)
			if !tc.applied {
				var ce *change.Error
				if !errors.As(o.Err, &ce) || ce.Code != change.CodeTimeout || len(got) != 0 || patches.Load() != 0 {
					t.Fatalf("Run = %d, %v, %d records, %d PATCHes answered; want out of time (503) and nothing recorded", o.Status, o.Err, len(got), patches.Load())
				}
				return
			}
			if o.Err != nil || o.Status != http.StatusOK || len(got) != 1 {
				t.Fatalf("Run = %d, %v, %d records; want the change applied and recorded\n%s", o.Status, o.Err, len(got), logs.String())
			}
			again := p.Run(context.Background(), &apply.Job{Sender: "generic", DeliveryID: "msg_own_bound", RequestID: "r-own-2", Request: decoded(t)})
			if !again.Replay || again.Status != http.StatusOK || patches.Load() != 1 {
				t.Errorf("the retry = replay %v, status %d, %d PATCHes; want the stored answer and one PATCH\n%s", again.Replay, again.Status, patches.Load(), logs.String())
			}
		})
	}
}
