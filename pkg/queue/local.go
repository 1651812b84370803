package queue

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// LocalOptions tune NewLocal. A nil *LocalOptions means the defaults.
type LocalOptions struct {
	// Workers is how many deliveries are processed at once; default 2.
	Workers int
	// MaxReceive is how often a message is received before the queue
	// dead-letters it itself (logged and kept in DeadLetters without a
	// reason, like SQS's redrive); default 5, like the redrive policy of
	// template.yaml. A worker with a dead-letter queue sends it there with
	// its reason before (DeadLetter).
	MaxReceive int
	// RetryDelay is how long a message that failed waits before it is
	// received again (SQS: the visibility timeout); default 2s.
	RetryDelay time.Duration
	// Timeout bounds the processing of one delivery (on Lambda: the
	// invoke's deadline); default 25s.
	Timeout time.Duration
	// Logger receives a line per dead-lettered message; default
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock a message's NotBefore is read against; default
	// time.Now. The hold itself is a timer of the difference.
	Now func() time.Time
	// Key seals the messages, as on SQS; nil is the development key (the
	// worker's default too).
	Key *Key
}

// ErrClosed is returned by Enqueue after Close.
var ErrClosed = errors.New("queue: closed")

// Local is an in-process queue that feeds the same worker code as SQS, for
// `make run` and single-process use. Its messages live in memory only: they
// are lost when the process ends, so Lambda never uses it (the webhook's
// answer would promise a change that a frozen or recycled sandbox drops).
type Local struct {
	opts LocalOptions

	mu      sync.Mutex
	cond    *sync.Cond
	ready   []*localItem
	pending int // enqueued and not finished (ready, in flight, or waiting to be retried)
	dead    []DeadLetter
	held    map[*localItem]*time.Timer // messages waiting for their NotBefore
	seq     int
	closed  bool
	h       Handler
	wg      sync.WaitGroup
}

type localItem struct {
	id       string
	body     []byte
	received int
}

// NewLocal returns a stopped in-process queue; Start it with the worker.
func NewLocal(opts *LocalOptions) *Local {
	q := &Local{}
	if opts != nil {
		q.opts = *opts
	}
	if q.opts.Workers <= 0 {
		q.opts.Workers = 2
	}
	if q.opts.MaxReceive <= 0 {
		q.opts.MaxReceive = 5
	}
	if q.opts.RetryDelay <= 0 {
		q.opts.RetryDelay = 2 * time.Second
	}
	if q.opts.Timeout <= 0 {
		q.opts.Timeout = 25 * time.Second
	}
	if q.opts.Logger == nil {
		q.opts.Logger = slog.Default()
	}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Start runs the workers with h. Messages enqueued before Start wait.
func (q *Local) Start(h Handler) {
	q.mu.Lock()
	q.h = h
	q.mu.Unlock()
	for i := 0; i < q.opts.Workers; i++ {
		q.wg.Add(1)
		go q.work()
	}
}

// Enqueue implements the webhook's queue: it encodes m as SQS would carry it.
func (q *Local) Enqueue(ctx context.Context, m *Message) error {
	body, err := m.Seal(q.opts.Key)
	if err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	q.seq++
	q.pending++
	it := &localItem{id: "local-" + strconv.Itoa(q.seq), body: body}
	if d := m.NotBefore.Sub(q.now()); !m.NotBefore.IsZero() && d > 0 {
		// Held until its window opens, like SQS's DelaySeconds; Close
		// stops the hold.
		if q.held == nil {
			q.held = map[*localItem]*time.Timer{}
		}
		q.held[it] = time.AfterFunc(min(d, MaxDelay), func() {
			q.mu.Lock()
			defer q.mu.Unlock()
			delete(q.held, it)
			if q.closed {
				q.pending--
				return
			}
			q.ready = append(q.ready, it)
			q.cond.Signal()
		})
		return nil
	}
	q.ready = append(q.ready, it)
	q.cond.Signal()
	return nil
}

func (q *Local) now() time.Time {
	if q.opts.Now != nil {
		return q.opts.Now()
	}
	return time.Now()
}

func (q *Local) work() {
	defer q.wg.Done()
	for {
		q.mu.Lock()
		for len(q.ready) == 0 && !q.closed {
			q.cond.Wait()
		}
		if q.closed {
			q.mu.Unlock()
			return
		}
		it := q.ready[0]
		q.ready = q.ready[1:]
		h := q.h
		q.mu.Unlock()
		q.process(h, it)
	}
}

func (q *Local) process(h Handler, it *localItem) {
	it.received++
	ctx, cancel := context.WithTimeout(context.Background(), q.opts.Timeout)
	err := h(ctx, Delivery{ID: it.id, Body: it.body, ReceiveCount: it.received})
	cancel()
	switch {
	case err == nil:
		q.finish(nil)
	case it.received >= q.opts.MaxReceive:
		q.opts.Logger.Error("queue: message dead-lettered after its last receive",
			slog.String("messageId", it.id), slog.Int("receiveCount", it.received), slog.String("reason", err.Error()))
		q.finish(&DeadLetter{Body: it.body, Reason: Reason{ReceiveCount: it.received, MessageID: it.id}})
	default:
		time.AfterFunc(q.opts.RetryDelay, func() {
			q.mu.Lock()
			defer q.mu.Unlock()
			if q.closed {
				q.pending--
				return
			}
			q.ready = append(q.ready, it)
			q.cond.Signal()
		})
	}
}

// finish ends a message; dead, when not nil, is kept as the queue's own
// dead letter.
func (q *Local) finish(dead *DeadLetter) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pending--
	if dead != nil {
		q.dead = append(q.dead, *dead)
	}
}

// DeadLetter is a message in the dead-letter list of Local: its body as
// enqueued and why it is there. Reason.Problem is empty for a message the
// queue dead-lettered itself after MaxReceive (the worker's log has the
// reason then, as with SQS's redrive).
type DeadLetter struct {
	Body   []byte
	Reason Reason
}

// DeadLetter implements the worker's dead-letter queue for `make run`: it
// keeps body with its reason in memory (DeadLetters).
func (q *Local) DeadLetter(ctx context.Context, body []byte, r Reason) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.dead = append(q.dead, DeadLetter{Body: append([]byte(nil), body...), Reason: r})
	return nil
}

// DeadLetters returns the dead letters so far, oldest first.
func (q *Local) DeadLetters() []DeadLetter {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]DeadLetter(nil), q.dead...)
}

// Wait blocks until every enqueued message is finished (processed or
// dead-lettered), or ctx ends.
func (q *Local) Wait(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		q.mu.Lock()
		n := q.pending
		q.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// DeadLettered returns how many messages are in the dead-letter list: sent
// there by the worker with their reason, or dead-lettered by the queue after
// MaxReceive.
func (q *Local) DeadLettered() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.dead)
}

// Close stops the workers after their current delivery; messages not yet
// processed are dropped.
func (q *Local) Close() {
	q.mu.Lock()
	q.closed = true
	for it, t := range q.held {
		if t.Stop() {
			q.pending--
		}
		delete(q.held, it)
	}
	q.cond.Broadcast()
	q.mu.Unlock()
	q.wg.Wait()
}
