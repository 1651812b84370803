package limiter

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeClock advances only when a waiter sleeps.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

func TestIntuneRate(t *testing.T) {
	c := &fakeClock{t: time.Unix(0, 0)}
	b := New(100, 20*time.Second, &Options{Now: c.now, Sleep: c.sleep, Margin: -1})
	start := c.now()
	// 500 writes: 100 at once, and 100 more each time the window has passed.
	var at []time.Time
	for i := 0; i < 500; i++ {
		if _, err := b.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		at = append(at, c.now())
		// No 20-second window may hold more than 100 writes (Intune counts
		// in a sliding window): write i comes at least 20 s after write
		// i-100.
		if i >= 100 && at[i].Sub(at[i-100]) < 20*time.Second {
			t.Fatalf("write %d at %v, write %d at %v: 101 writes within 20 s", i, at[i].Sub(start), i-100, at[i-100].Sub(start))
		}
	}
	if got := c.now().Sub(start); got != 80*time.Second {
		t.Errorf("500 writes took %v of clock, want 80s (100 every 20 s)", got)
	}
}

func TestWaitRefusesBeyondTheDeadline(t *testing.T) {
	c := &fakeClock{t: time.Unix(0, 0)}
	b := New(1, 10*time.Second, &Options{Now: c.now, Sleep: c.sleep, Margin: -1})
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(5, 0))
	defer cancel()
	if _, err := b.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := b.Wait(ctx)
	var be *BudgetError
	if !errors.As(err, &be) || !errors.Is(err, ErrBudget) || be.RetryAfter != 10*time.Second {
		t.Fatalf("Wait = %v, want a BudgetError of 10s", err)
	}
	if c.now() != time.Unix(0, 0) {
		t.Errorf("a refused wait slept")
	}
	// The refused caller took nothing: the slot is there after 10s.
	c.t = time.Unix(10, 0)
	if _, err := b.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentWaitersGetDistinctSlots(t *testing.T) {
	b := New(5, 50*time.Millisecond, nil)
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var times []time.Time
	for i := 0; i < 15; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := b.Wait(context.Background()); err != nil {
				t.Error(err)
			}
			mu.Lock()
			times = append(times, time.Now())
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(times) != 15 {
		t.Fatalf("%d waiters served", len(times))
	}
	// 5 at once, then 10 more at 100 per second: the last cannot come before
	// 100ms (a lower bound the limiter guarantees, not a speed assertion).
	var last time.Time
	for _, at := range times {
		if at.After(last) {
			last = at
		}
	}
	if got := last.Sub(start); got < 95*time.Millisecond {
		t.Errorf("15 writes on a 5-per-50ms bucket finished after %v, want at least 100ms", got)
	}
}

// TestMarginWidensTheWindow: by default a slot frees up per/20 after the
// window, for the delay between the limiter and Graph's count.
func TestMarginWidensTheWindow(t *testing.T) {
	c := &fakeClock{t: time.Unix(0, 0)}
	b := New(2, 20*time.Second, &Options{Now: c.now, Sleep: c.sleep})
	for i := 0; i < 3; i++ {
		if _, err := b.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.now().Sub(time.Unix(0, 0)); got != 21*time.Second {
		t.Errorf("third write of a 2-per-20s limiter at %v, want 21s (20 s and a 1 s margin)", got)
	}
}

// TestWriteCountsFromItsAnswer: a write that took long to reach Graph is
// counted from its answer, so the write a window later does not arrive
// while Graph still counts the slow one.
func TestWriteCountsFromItsAnswer(t *testing.T) {
	c := &fakeClock{t: time.Unix(0, 0)}
	b := New(1, 20*time.Second, &Options{Now: c.now, Sleep: c.sleep, Margin: -1})
	done, err := b.Wait(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	c.t = c.t.Add(3 * time.Second) // the PATCH took 3 s
	c.mu.Unlock()
	done()
	if _, err := b.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := c.now().Sub(time.Unix(0, 0)); got != 23*time.Second {
		t.Errorf("second write at %v, want 23s (20 s after the first was answered)", got)
	}
}
