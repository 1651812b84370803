package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/policy"
	"github.com/enrollhook/enrollhook/pkg/queue"
)

// withWindow puts a change window into validBody.
func withWindow(start, end time.Time) string {
	return strings.Replace(validBody, `"approvedBy":"bob@contoso.com"}`,
		`"approvedBy":"bob@contoso.com","window":{"start":"`+start.UTC().Format(time.RFC3339)+`","end":"`+end.UTC().Format(time.RFC3339)+`"}}`, 1)
}

// TestChangeWindowEndToEnd: a signed, approved change is applied inside
// its window; before and after it the answer is 403 outside-change-window
// naming the window and the time now, and Graph is not called.
func TestChangeWindowEndToEnd(t *testing.T) {
	hs := newHarness(t, nil)
	hs.h.set(func(o *testOptions) { o.Policy = policy.Default() })
	now := time.Now()
	for i, tt := range []struct {
		name       string
		start, end time.Duration
		status     int
	}{
		{"before", time.Hour, 2 * time.Hour, http.StatusForbidden},
		{"inside", -time.Hour, time.Hour, http.StatusOK},
		{"after", -2 * time.Hour, -time.Hour, http.StatusForbidden},
	} {
		before := hs.g.count()
		w := hs.do(t, signedID(t, "msg_window_"+tt.name, withWindow(now.Add(tt.start), now.Add(tt.end)), testNow))
		if w.Code != tt.status {
			t.Fatalf("%s: %d %s", tt.name, w.Code, w.Body)
		}
		wrote := hs.g.count() - before
		if tt.status == http.StatusOK {
			if wrote != 1 {
				t.Errorf("%s: %d Graph writes, want 1", tt.name, wrote)
			}
			continue
		}
		p := decodeProblem(t, w)
		if p.Type != "urn:enrollhook:problem:outside-change-window" || !strings.Contains(p.Detail, now.Add(tt.start).UTC().Format(time.RFC3339)) ||
			!strings.Contains(p.Detail, "it is now") || wrote != 0 {
			t.Errorf("%s (%d): %+v, %d writes", tt.name, i, p, wrote)
		}
	}
}

// TestChangeWindowQueuedUntilItOpens: with the async path, a change whose
// window opens within 15 minutes is answered 202 with notBefore and held by
// the in-process queue until then; the worker applies it when it opens,
// never before.
//
// The pipeline's and the queue's clock stand still one second before the
// window opens until the change is enqueued (so the handler decides to
// hold it, however slow the machine), then run from the moment the enqueue
// begins: the queue holds the change until one second of real time after
// that, and every reading after the hold is at or past the opening.
func TestChangeWindowQueuedUntilItOpens(t *testing.T) {
	hs := newHarness(t, nil)
	// The window opens on a whole second about 10 minutes from now (the
	// envelope's times have seconds only).
	opens := time.Now().Add(10 * time.Minute).Truncate(time.Second).Add(time.Second)
	base := opens.Add(-time.Second)
	var mu sync.Mutex
	var running time.Time // zero: the clock stands at base
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		if running.IsZero() {
			return base
		}
		return base.Add(time.Since(running))
	}
	q := &startingQueue{Local: queue.NewLocal(&queue.LocalOptions{Now: clock}), start: func(at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		if running.IsZero() {
			running = at
		}
	}}
	hs.h.set(func(o *testOptions) {
		o.Policy, o.Queue, o.AsyncSources = policy.Default(), q, []string{"generic"}
		o.Clock = clock
	})
	var wroteAt []time.Time
	hs.g.onPatch = func() { wroteAt = append(wroteAt, clock()) }
	q.Start(hs.h.Process)
	defer q.Close()
	w := hs.do(t, signedID(t, "msg_window_queued", withWindow(opens, opens.Add(time.Hour)), testNow))
	if w.Code != http.StatusAccepted {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	var body Queued
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.NotBefore == "" {
		t.Fatalf("202 body %s: %v", w.Body, err)
	}
	if got, _ := time.Parse(time.RFC3339, body.NotBefore); got.Unix() != opens.Unix() {
		t.Errorf("notBefore = %s, want %s", body.NotBefore, opens.UTC().Format(time.RFC3339))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	hs.g.mu.Lock()
	defer hs.g.mu.Unlock()
	if len(wroteAt) != 1 {
		t.Fatalf("%d Graph writes once the window opened, want 1", len(wroteAt))
	}
	if wroteAt[0].Before(opens) {
		t.Errorf("written at %s by the pipeline's clock, before the window opened at %s", wroteAt[0].Format(time.RFC3339Nano), opens.Format(time.RFC3339))
	}
}

// startingQueue calls start as an enqueue begins: the clock runs from
// then, so the queue's hold (computed inside Enqueue) ends one second
// after it, when the clock reads the opening, however the goroutines are
// scheduled.
type startingQueue struct {
	*queue.Local
	start func(at time.Time)
}

func (q *startingQueue) Enqueue(ctx context.Context, m *queue.Message) error {
	q.start(time.Now())
	return q.Local.Enqueue(ctx, m)
}
