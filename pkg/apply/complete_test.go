package apply_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
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
