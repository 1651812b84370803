// Package limiter keeps one process's Graph writes under Intune's service
// limit: 100 writes per 20 seconds per app per tenant (200 per tenant across
// apps; reference/graph.md §5). A token bucket lets a burst through up to its
// size and then paces writes at the refill rate. It imports only the standard
// library.
package limiter

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrBudget is returned when the wait for a token would end after the
// context's deadline; the caller should answer "retry later".
var ErrBudget = errors.New("limiter: no write slot before the deadline")

// BudgetError says how long until a slot frees up.
type BudgetError struct{ RetryAfter time.Duration }

func (e *BudgetError) Error() string        { return ErrBudget.Error() }
func (e *BudgetError) Is(target error) bool { return target == ErrBudget }

// Bucket is a token bucket safe for concurrent use. Waiters are served in
// the order they reserve.
type Bucket struct {
	mu     sync.Mutex
	size   float64
	rate   float64 // tokens per second
	tokens float64
	last   time.Time
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error
}

// Options tune New. A nil *Options means the defaults.
type Options struct {
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Sleep waits d or until ctx ends; default a timer. Tests pass a scaled
	// or fake clock.
	Sleep func(ctx context.Context, d time.Duration) error
}

// New returns a bucket allowing n writes per period, starting full. The
// default for Intune is New(100, 20*time.Second, nil).
func New(n int, per time.Duration, opts *Options) *Bucket {
	if opts == nil {
		opts = &Options{}
	}
	b := &Bucket{size: float64(n), rate: float64(n) / per.Seconds(), tokens: float64(n), now: opts.Now, sleep: opts.Sleep}
	if b.now == nil {
		b.now = time.Now
	}
	if b.sleep == nil {
		b.sleep = sleepCtx
	}
	b.last = b.now()
	return b
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

// Wait takes one write slot, waiting for it when the bucket is empty. When
// the slot would come after ctx's deadline it takes nothing and returns a
// *BudgetError at once.
func (b *Bucket) Wait(ctx context.Context) error {
	b.mu.Lock()
	now := b.now()
	b.tokens += now.Sub(b.last).Seconds() * b.rate
	if b.tokens > b.size {
		b.tokens = b.size
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		b.mu.Unlock()
		return nil
	}
	wait := time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
	if d, ok := ctx.Deadline(); ok && now.Add(wait).After(d) {
		b.mu.Unlock()
		return &BudgetError{RetryAfter: wait}
	}
	// Reserve the slot now (tokens may go negative) so later callers queue
	// behind this one.
	b.tokens--
	b.mu.Unlock()
	if err := b.sleep(ctx, wait); err != nil {
		b.mu.Lock()
		b.tokens++ // give the reservation back
		b.mu.Unlock()
		return err
	}
	return nil
}
