// Package limiter keeps one process's Graph writes under Intune's service
// limit: 100 writes per 20 seconds per app per tenant (200 per tenant across
// apps, as Intune documents its limits). It imports only the standard
// library.
//
// Intune counts writes in a sliding window, so the limiter does too: it
// remembers the time of its last n writes and lets a write start only when
// the n-th last one is a full window (plus a small margin) old. A token
// bucket of size n refilling at n per window would not do: after a full
// burst it lets n more through within the same window, up to 2n, and every
// one of those is a 429 (the burst test in pkg/webhook shows it).
package limiter

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrBudget is returned when the wait for a slot would end after the
// context's deadline; the caller should answer "retry later".
var ErrBudget = errors.New("limiter: no write slot before the deadline")

// BudgetError says how long until a slot frees up.
type BudgetError struct{ RetryAfter time.Duration }

func (e *BudgetError) Error() string        { return ErrBudget.Error() }
func (e *BudgetError) Is(target error) bool { return target == ErrBudget }

// Window is a sliding-window limiter safe for concurrent use. Waiters are
// served in the order they reserve.
type Window struct {
	mu     sync.Mutex
	window time.Duration // per plus the margin
	slots  []*slot       // the last n writes, a ring
	next   int           // the oldest entry of slots
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error
}

// slot is one write: when it started, and later when Graph answered it.
type slot struct{ t time.Time }

// Options tune New. A nil *Options means the defaults.
type Options struct {
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Sleep waits d or until ctx ends; default a timer. Tests pass a scaled
	// or fake clock.
	Sleep func(ctx context.Context, d time.Duration) error
	// Margin is added to the window for the clocks of Graph and of this
	// process, which differ a little; default per/20 (1 s of Intune's
	// 20 s), a negative value none.
	Margin time.Duration
}

// New returns a limiter allowing n writes in any window of per. The default
// for Intune is New(100, 20*time.Second, nil).
func New(n int, per time.Duration, opts *Options) *Window {
	if opts == nil {
		opts = &Options{}
	}
	if n < 1 {
		n = 1
	}
	margin := opts.Margin
	switch {
	case margin == 0:
		margin = per / 20
	case margin < 0:
		margin = 0
	}
	w := &Window{window: per + margin, slots: make([]*slot, n), now: opts.Now, sleep: opts.Sleep}
	if w.now == nil {
		w.now = time.Now
	}
	if w.sleep == nil {
		w.sleep = sleepCtx
	}
	return w
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Wait takes one write slot, waiting until the n-th last write is a window
// old. The returned done must be called once the write is answered: Graph
// counts a write when it arrives, which may be well after the slot was
// granted (a slow network, a busy process), so the write is then counted
// from its answer, and the slot it frees comes a window after that. When
// the slot would come after ctx's deadline, Wait returns a *BudgetError
// (at once when it knows, else when it finds out), and the caller must not
// write. A slot taken and not used still counts: the limiter errs on the
// safe side.
func (w *Window) Wait(ctx context.Context) (done func(), err error) {
	w.mu.Lock()
	prev := w.slots[w.next]
	if prev != nil {
		if d, ok := ctx.Deadline(); ok {
			if now, at := w.now(), prev.t.Add(w.window); at.After(d) {
				// Refused before reserving: the caller takes nothing.
				w.mu.Unlock()
				return nil, &BudgetError{RetryAfter: at.Sub(now)}
			}
		}
	}
	mine := &slot{t: w.now()}
	w.slots[w.next] = mine
	w.next = (w.next + 1) % len(w.slots)
	for {
		now := w.now()
		if prev == nil || !prev.t.Add(w.window).After(now) {
			mine.t = now
			w.mu.Unlock()
			return func() { w.answered(mine) }, nil
		}
		at := prev.t.Add(w.window)
		wait := at.Sub(now)
		if d, ok := ctx.Deadline(); ok && at.After(d) {
			w.mu.Unlock()
			return nil, &BudgetError{RetryAfter: wait}
		}
		// mine stands in the queue at the time it expects; it moves to the
		// real start when the wait is over.
		mine.t = at
		w.mu.Unlock()
		if err := w.sleep(ctx, wait); err != nil {
			return nil, err
		}
		w.mu.Lock()
	}
}

// answered counts s from now, if that is later than its start.
func (w *Window) answered(s *slot) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if now := w.now(); now.After(s.t) {
		s.t = now
	}
}
