package queue

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// TestDelaySeconds: a message waiting for its change window is held for
// whole seconds rounded up (never delivered early), at most SQS's 900.
func TestDelaySeconds(t *testing.T) {
	now := time.Now()
	for _, tt := range []struct {
		notBefore time.Time
		want      int
	}{
		{time.Time{}, 0},
		{now.Add(-time.Second), 0},
		{now.Add(1500 * time.Millisecond), 2},
		{now.Add(10 * time.Minute), 600},
		{now.Add(time.Hour), 900},
	} {
		m := Message{NotBefore: tt.notBefore}
		if got := m.delaySeconds(now); got != tt.want {
			t.Errorf("delaySeconds(%v from now) = %d, want %d", tt.notBefore.Sub(now), got, tt.want)
		}
	}
}

// TestSQSEnqueueSendsTheDelay: SendMessage carries DelaySeconds for a
// change queued until its window opens, and none otherwise.
func TestSQSEnqueueSendsTheDelay(t *testing.T) {
	var mu sync.Mutex
	var delays []any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(b, &body)
		mu.Lock()
		delays = append(delays, body["DelaySeconds"])
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = io.WriteString(w, `{"MessageId":"5fea7756-0ea4-451a-a703-a558b933e274"}`)
	}))
	defer srv.Close()
	q := NewSQS(newClient(t, srv.URL), queueURL, nil)
	m := sample()
	if err := q.Enqueue(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	m.NotBefore = time.Now().Add(10 * time.Minute)
	if err := q.Enqueue(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if len(delays) != 2 || delays[0] != nil {
		t.Fatalf("DelaySeconds = %v, want none, then about 600", delays)
	}
	if d, _ := delays[1].(float64); d < 599 || d > 600 {
		t.Errorf("DelaySeconds = %v, want 600 (599 if a second passed)", delays[1])
	}
}

// TestLocalHoldsUntilNotBefore: the in-process queue holds a message until
// its NotBefore on the queue's clock (chosen here so that the hold is
// 300 ms), and hands it over then; a message without one goes at once.
func TestLocalHoldsUntilNotBefore(t *testing.T) {
	start := time.Now()
	clock := start.Add(-time.Hour) // the queue's clock runs an hour behind
	q := NewLocal(&LocalOptions{Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return clock }})
	got := make(chan string, 2)
	q.Start(func(_ context.Context, d Delivery) error {
		m, err := Open(nil, d.Body)
		if err != nil {
			t.Error(err)
			return nil
		}
		got <- m.Key
		return nil
	})
	defer q.Close()
	held := sample()
	held.Key, held.NotBefore = "held", clock.Add(300*time.Millisecond)
	now := sample()
	now.Key = "now"
	if err := q.Enqueue(context.Background(), held); err != nil {
		t.Fatal(err)
	}
	if err := q.Enqueue(context.Background(), now); err != nil {
		t.Fatal(err)
	}
	if first := <-got; first != "now" {
		t.Fatalf("first delivered = %s, want the message without a window", first)
	}
	if second := <-got; second != "held" {
		t.Fatalf("second delivered = %s", second)
	}
	// Not handed over before the hold: measured on the real clock, which
	// the test does not assert speed with, only order and a lower bound.
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Errorf("the held message came after %v, before its 300 ms hold", waited)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := q.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestLocalCloseEndsTheHolds: Close stops the holds of messages waiting
// for their window; they count as finished, so Wait returns.
func TestLocalCloseEndsTheHolds(t *testing.T) {
	q := NewLocal(&LocalOptions{Logger: slog.New(slog.DiscardHandler)})
	q.Start(func(context.Context, Delivery) error {
		t.Error("a held message was delivered after Close")
		return nil
	})
	m := sample()
	m.NotBefore = time.Now().Add(10 * time.Minute)
	if err := q.Enqueue(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	q.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := q.Wait(ctx); err != nil {
		t.Errorf("Wait after Close = %v, want nil: the held message still counts as pending", err)
	}
}
