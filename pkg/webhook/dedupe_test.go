package webhook

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
)

func dedupeHarness(t *testing.T, store apply.Store) *harness {
	t.Helper()
	hs := newHarness(t, &testOptions{Store: store})
	return hs
}

func TestDuplicateDeliveryIsReplayedWithoutAGraphCall(t *testing.T) {
	hs := dedupeHarness(t, idempotency.NewMemory(nil, 0))
	first := hs.do(t, signed(t, validBody, testNow))
	if first.Code != 200 || first.Header().Get(HeaderReplay) != "" {
		t.Fatalf("first: %d replay=%q", first.Code, first.Header().Get(HeaderReplay))
	}
	second := hs.do(t, signed(t, validBody, testNow.Add(time.Minute)))
	if second.Code != 200 || second.Header().Get(HeaderReplay) != "true" {
		t.Fatalf("retry: %d replay=%q", second.Code, second.Header().Get(HeaderReplay))
	}
	if second.Body.String() != first.Body.String() || second.Header().Get(HeaderGraphRequestID) != first.Header().Get(HeaderGraphRequestID) {
		t.Errorf("replay differs from the first answer:\n%s\n%s", first.Body, second.Body)
	}
	if hs.g.count() != 1 {
		t.Errorf("Graph PATCHes = %d, want 1", hs.g.count())
	}
	if !strings.Contains(hs.logs.String(), `"outcome":"replayed"`) {
		t.Errorf("no replayed audit line:\n%s", hs.logs)
	}
}

func TestSameDeliveryIDWithAnotherBodyIsAConflict(t *testing.T) {
	hs := dedupeHarness(t, idempotency.NewMemory(nil, 0))
	if w := hs.do(t, signed(t, validBody, testNow)); w.Code != 200 {
		t.Fatal(w.Code)
	}
	other := strings.Replace(validBody, `"include"`, `"exclude"`, 1)
	w := hs.do(t, signed(t, other, testNow))
	if w.Code != http.StatusConflict {
		t.Fatalf("status %d; body %s", w.Code, w.Body)
	}
	if p := decodeProblem(t, w); p.Type != apply.ProblemTypePrefix+"delivery-mismatch" {
		t.Errorf("type %s", p.Type)
	}
	if hs.g.count() != 1 {
		t.Errorf("Graph PATCHes = %d, want 1", hs.g.count())
	}
}

func TestFailedAttemptIsReleasedForTheRetry(t *testing.T) {
	hs := dedupeHarness(t, idempotency.NewMemory(nil, 0))
	hs.g.err = &change.Error{Code: change.CodeUnavailable, Message: "Graph is throttling", RetryAfter: time.Second}
	if w := hs.do(t, signed(t, validBody, testNow)); w.Code != 503 {
		t.Fatalf("first: %d", w.Code)
	}
	hs.g.err = nil
	w := hs.do(t, signed(t, validBody, testNow))
	if w.Code != 200 || w.Header().Get(HeaderReplay) != "" {
		t.Fatalf("retry: %d replay=%q, want a fresh apply", w.Code, w.Header().Get(HeaderReplay))
	}
	// Graph's unavailable answer to the write leaves its outcome unknown:
	// the retry reads the assignment before it writes again.
	if hs.g.count() != 3 || hs.g.calls[1].body != nil || hs.g.calls[2].body == nil {
		t.Errorf("Graph calls = %d, want 3 (the failed PATCH, the retry's read, its PATCH)", hs.g.count())
	}
}

// blockingGraph holds every PATCH until released, to observe a duplicate
// arriving while the first attempt is in flight.
type blockingGraph struct {
	fakeGraph
	entered chan struct{}
	release chan struct{}
}

func (b *blockingGraph) PatchAssignment(ctx context.Context, cfg, asg string, body any) (*graph.Result, error) {
	b.entered <- struct{}{}
	<-b.release
	return b.fakeGraph.PatchAssignment(ctx, cfg, asg, body)
}

func TestDuplicateWhileInProgressGets409WithRetryAfter(t *testing.T) {
	hs := dedupeHarness(t, idempotency.NewMemory(nil, 0))
	bg := &blockingGraph{entered: make(chan struct{}, 1), release: make(chan struct{})}
	hs.h.graph = bg
	hs.h.set(func(*testOptions) {}) // the pipeline applies through bg
	done := make(chan *httptest.ResponseRecorder)
	go func() {
		w := httptest.NewRecorder()
		hs.h.ServeHTTP(w, signed(t, validBody, testNow))
		done <- w
	}()
	<-bg.entered
	w := hs.do(t, signed(t, validBody, testNow))
	close(bg.release)
	first := <-done
	if first.Code != 200 {
		t.Fatalf("first: %d", first.Code)
	}
	if w.Code != http.StatusConflict || w.Header().Get("Retry-After") == "" {
		t.Fatalf("duplicate in flight: %d Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	if p := decodeProblem(t, w); p.Type != apply.ProblemTypePrefix+"delivery-in-progress" {
		t.Errorf("type %s", p.Type)
	}
}

type brokenStore struct{}

func (brokenStore) Begin(context.Context, string, string, time.Time) (*idempotency.Lease, error) {
	return nil, errors.New("dial tcp: dynamodb.eu-west-1.amazonaws.com: no route")
}
func (brokenStore) Complete(context.Context, *idempotency.Lease, idempotency.Response, time.Time) error {
	return nil
}
func (brokenStore) Release(context.Context, *idempotency.Lease) error { return nil }
func (brokenStore) Note(context.Context, *idempotency.Lease, []byte, time.Time) error {
	return errors.New("store down")
}
func (brokenStore) Attempted(context.Context, *idempotency.Lease, []byte, time.Time) error {
	return errors.New("store down")
}

func TestStoreDownFailsClosed(t *testing.T) {
	hs := dedupeHarness(t, brokenStore{})
	w := hs.do(t, signed(t, validBody, testNow))
	if w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d", w.Code)
	}
	if hs.g.count() != 0 {
		t.Error("a change was applied without de-duplication")
	}
	if strings.Contains(w.Body.String(), "amazonaws") {
		t.Errorf("store detail leaked: %s", w.Body)
	}
}

// TestFiftyConcurrentDeliveriesOnePatch: the whole stack against the Graph
// emulator; exactly one PATCH reaches Graph, one answer is the apply, the
// rest are replays or 409s.
func TestFiftyConcurrentDeliveriesOnePatch(t *testing.T) {
	s := newStack(t, 3)
	s.h.set(func(o *testOptions) { o.Store = idempotency.NewMemory(nil, 0) })
	s.emu.SetLatency(50 * time.Millisecond)
	defer s.emu.SetLatency(0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[string]int{}
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := httptest.NewRecorder()
			s.h.ServeHTTP(w, signed(t, validBody, testNow))
			kind := http.StatusText(w.Code)
			if w.Header().Get(HeaderReplay) == "true" {
				kind = "replay"
			}
			mu.Lock()
			codes[kind]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	patches := 0
	for _, c := range s.emu.Calls() {
		if c.Method == http.MethodPatch {
			patches++
		}
	}
	if patches != 1 || s.emu.Writes() != 1 {
		t.Fatalf("PATCHes %d, writes %d; want 1 (answers %v)", patches, s.emu.Writes(), codes)
	}
	if codes["OK"] != 1 || codes["OK"]+codes["replay"]+codes["Conflict"] != 50 {
		t.Fatalf("answers %v, want one OK and the rest replays or conflicts", codes)
	}
}
