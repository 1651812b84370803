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
	b := New(100, 20*time.Second, &Options{Now: c.now, Sleep: c.sleep})
	start := c.now()
	// 500 writes: the first 100 pass at once, the other 400 at 5 per second.
	for i := 0; i < 500; i++ {
		if err := b.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		// No 20-second window may hold more than 100 writes after the burst:
		// by the time of write i, at least (i-100)/5 seconds have passed.
		if i >= 100 {
			if min := time.Duration(i-99) * 200 * time.Millisecond; c.now().Sub(start) < min-time.Millisecond {
				t.Fatalf("write %d at %v, before %v", i, c.now().Sub(start), min)
			}
		}
	}
	if got := c.now().Sub(start); got < 80*time.Second-time.Millisecond || got > 80*time.Second+time.Millisecond {
		t.Errorf("500 writes took %v of clock, want 80s (100 at once, then 400 at 5/s)", got)
	}
}

func TestWaitRefusesBeyondTheDeadline(t *testing.T) {
	c := &fakeClock{t: time.Unix(0, 0)}
	b := New(1, 10*time.Second, &Options{Now: c.now, Sleep: c.sleep})
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(5, 0))
	defer cancel()
	if err := b.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	err := b.Wait(ctx)
	var be *BudgetError
	if !errors.As(err, &be) || !errors.Is(err, ErrBudget) || be.RetryAfter != 10*time.Second {
		t.Fatalf("Wait = %v, want a BudgetError of 10s", err)
	}
	if c.now() != time.Unix(0, 0) {
		t.Errorf("a refused wait slept")
	}
	// The refused caller took nothing: the slot is there after 10s.
	c.t = time.Unix(10, 0)
	if err := b.Wait(context.Background()); err != nil {
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
			if err := b.Wait(context.Background()); err != nil {
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
