package apply_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/policy"
)

// TestRunChangeWindow: an approved change is applied inside its window,
// refused before and after it with outside-change-window (nothing
// written), and, when it can be queued and the window opens within 15
// minutes, queued until then and answered 202. The clock is the
// pipeline's, chosen by the test.
func TestRunChangeWindow(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	window := func(start, end time.Duration) *change.Window {
		return &change.Window{Start: now.Add(start).Format(time.RFC3339), End: now.Add(end).Format(time.RFC3339)}
	}
	tests := []struct {
		name      string
		w         *change.Window
		queue     bool
		dry       bool
		patches   int
		status    int
		kind      change.Kind
		notBefore time.Duration
	}{
		{"inside", window(-time.Hour, time.Hour), false, false, 1, http.StatusOK, "", 0},
		{"before", window(time.Hour, 2*time.Hour), false, false, 0, 0, change.KindOutsideWindow, 0},
		{"after", window(-2*time.Hour, -time.Hour), false, false, 0, 0, change.KindOutsideWindow, 0},
		{"opens in 10 minutes, synchronous", window(10*time.Minute, time.Hour), false, false, 0, 0, change.KindOutsideWindow, 0},
		{"opens in 10 minutes, queued", window(10*time.Minute, time.Hour), true, false, 0, http.StatusAccepted, "", 10 * time.Minute},
		{"opens in 15 minutes, queued", window(15*time.Minute, time.Hour), true, false, 0, http.StatusAccepted, "", 15 * time.Minute},
		{"opens in 16 minutes, refused", window(16*time.Minute, time.Hour), true, false, 0, 0, change.KindOutsideWindow, 0},
		{"closed, not queued", window(-2*time.Hour, -time.Hour), true, false, 0, 0, change.KindOutsideWindow, 0},
		{"dry run before it opens", window(10*time.Minute, time.Hour), true, true, 0, 0, change.KindOutsideWindow, 0},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &countingGraph{}
			p := apply.New(g, &apply.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
				Dedupe: apply.Dedupe{Store: idempotency.NewMemory(nil, 0)}, Policy: policy.Default(),
				Now: func() time.Time { return now }})
			req := decoded(t)
			req.Ticket.Window = tt.w
			var queuedAt time.Time
			queued := false
			job := &apply.Job{Sender: "generic", DeliveryID: "msg_w" + string(rune('a'+i)), Request: req, DryRun: tt.dry}
			if tt.queue {
				job.Enqueue = func(_ context.Context, _, _ string, notBefore time.Time, _ bool) error {
					queued, queuedAt = true, notBefore
					return nil
				}
			}
			o := p.Run(context.Background(), job)
			if tt.kind != "" {
				ce, ok := o.Err.(*change.Error)
				if !ok || ce.Kind != tt.kind || !strings.Contains(ce.Message, "it is now") {
					t.Fatalf("Run = %+v, want %s naming the time now", o.Err, tt.kind)
				}
			} else if o.Err != nil || o.Status != tt.status {
				t.Fatalf("Run = %d %v, want %d", o.Status, o.Err, tt.status)
			}
			if g.patches != tt.patches {
				t.Errorf("PATCHes = %d, want %d", g.patches, tt.patches)
			}
			if queued != (tt.notBefore > 0) || tt.notBefore > 0 && !queuedAt.Equal(now.Add(tt.notBefore)) {
				t.Errorf("queued = %v until %v, want until now+%v", queued, queuedAt, tt.notBefore)
			}
		})
	}
}

// TestRunChangeWindowWithoutPolicy: a pipeline without a policy still
// holds a change to its ticket's window.
func TestRunChangeWindowWithoutPolicy(t *testing.T) {
	now := time.Now()
	g := &countingGraph{}
	p := apply.New(g, &apply.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now }})
	req := decoded(t)
	req.Ticket.Window = &change.Window{Start: now.Add(-2 * time.Hour).Format(time.RFC3339), End: now.Add(-time.Hour).Format(time.RFC3339)}
	o := p.Run(context.Background(), &apply.Job{Sender: "generic", DeliveryID: "msg_nopolicy", Request: req})
	if ce, ok := o.Err.(*change.Error); !ok || ce.Kind != change.KindOutsideWindow || g.patches != 0 {
		t.Errorf("Run = %v with %d PATCHes, want outside-change-window and none", o.Err, g.patches)
	}
}

// TestRunReplayAfterTheWindowCloses: a delivery applied inside its window
// and sent again after the window closed gets its answer from the store,
// on the request path and in the worker (a queue's second delivery), not a
// refusal for a change that was made.
func TestRunReplayAfterTheWindowCloses(t *testing.T) {
	now := time.Now()
	clock := now
	g := &countingGraph{}
	p := apply.New(g, &apply.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Dedupe: apply.Dedupe{Store: idempotency.NewMemory(nil, 0)}, Policy: policy.Default(),
		Now: func() time.Time { return clock }})
	for _, via := range []apply.Via{apply.ViaRequest, apply.ViaWorker} {
		clock = now
		req := decoded(t)
		req.Ticket.Window = &change.Window{Start: now.Add(-time.Hour).Format(time.RFC3339), End: now.Add(time.Hour).Format(time.RFC3339)}
		job := func() *apply.Job {
			return &apply.Job{Sender: "generic", DeliveryID: "msg_replay_" + string(rune('0'+via)), Request: req, Via: via, KeepRefusals: via == apply.ViaWorker}
		}
		if o := p.Run(context.Background(), job()); o.Err != nil || o.Status != http.StatusOK {
			t.Fatalf("inside the window: %d %v", o.Status, o.Err)
		}
		clock = now.Add(2 * time.Hour)
		o := p.Run(context.Background(), job())
		if o.Err != nil || !o.Replay || o.Status != http.StatusOK {
			t.Errorf("via %d, sent again after the window: replay %v, %d, %v; want the first answer", via, o.Replay, o.Status, o.Err)
		}
	}
	if g.patches != 2 {
		t.Errorf("PATCHes = %d, want one per delivery", g.patches)
	}
}

// slowSlot is a write limiter whose slot frees up only once the pipeline's
// clock has moved on by wait (Intune's write budget in use).
type slowSlot struct {
	mu    sync.Mutex
	clock *time.Time
	wait  time.Duration
}

func (s *slowSlot) Wait(context.Context) (func(), error) {
	s.mu.Lock()
	*s.clock = s.clock.Add(s.wait)
	s.mu.Unlock()
	return func() {}, nil
}

// TestRunWindowClosesWhileWaitingForAWriteSlot: a change checked a second
// before its window closes, whose write slot comes after it closed, is
// refused outside-change-window at the write, with nothing written.
func TestRunWindowClosesWhileWaitingForAWriteSlot(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	for _, tt := range []struct {
		name string
		wait time.Duration
		want int // PATCHes
	}{{"slot after the end", 15 * time.Second, 0}, {"slot before the end", 500 * time.Millisecond, 1}} {
		t.Run(tt.name, func(t *testing.T) {
			clock := now
			g := &countingGraph{}
			p := apply.New(g, &apply.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
				Dedupe: apply.Dedupe{Store: idempotency.NewMemory(nil, 0)}, Policy: policy.Default(),
				Update: apply.Update{Limiter: &slowSlot{clock: &clock, wait: tt.wait}},
				Now:    func() time.Time { return clock }})
			req := decoded(t)
			req.Ticket.Window = &change.Window{Start: now.Add(-time.Hour).Format(time.RFC3339), End: now.Add(time.Second).Format(time.RFC3339)}
			o := p.Run(context.Background(), &apply.Job{Sender: "generic", DeliveryID: "msg_edge", Request: req})
			if g.patches != tt.want {
				t.Fatalf("%d PATCHes (status %d, err %v), want %d", g.patches, o.Status, o.Err, tt.want)
			}
			if tt.want == 0 {
				ce, ok := errors.AsType[*change.Error](o.Err)
				if !ok || ce.Kind != change.KindOutsideWindow || !strings.Contains(ce.Message, "waited to be written") {
					t.Errorf("refusal: %v, want outside-change-window saying why", o.Err)
				}
			}
		})
	}
}
