package webhook

import (
	"context"
	"log/slog"
	"time"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/queue"
	changerecord "github.com/enrollhook/enrollhook/pkg/record"
	"github.com/enrollhook/enrollhook/pkg/worker"
)

// testOptions are the knobs a handler test turns, in one flat struct: the
// pipeline's (apply.Options), the worker's (worker.Options) and the
// handler's (Options). newTestHandler splits them the way the functions do.
type testOptions struct {
	MaxBodyBytes   int64
	GraphVersion   string
	Disabled       []string
	Timeout        time.Duration
	Now            func() time.Time
	Logger         *slog.Logger
	Store          apply.Store
	CompletedTTL   time.Duration
	Limiter        apply.Limiter
	Queue          Queue
	AsyncSources   []string
	DeadlineMargin time.Duration
	FollowUps      map[string]worker.FollowUpper
	DeadLetters    worker.DeadLetterQueue
	UpdateStrategy string
	Policy         apply.Policy
	WriteBack      apply.WriteBacker
	// Clock is the pipeline's (change windows); default time.Now.
	Clock func() time.Time
	// Requests keeps chat requests for a second person; nil means none.
	Requests Requests
	// Records is the change record; nil means none.
	Records changerecord.Store
	// Scheduler schedules changes whose window opens later than the
	// queue can wait; nil means none.
	Scheduler interface {
		Scheduler
		apply.Scheduler
	}
}

// testHandler is a Handler with the pipeline it applies through and the
// worker that applies what it queues (Process), as functions/webhook wires
// them for the in-process queue.
type testHandler struct {
	*Handler
	graph   apply.Graph
	sources []Source
	opts    testOptions
	worker  *worker.Worker
}

// newTestHandler builds the pipeline, the handler and the worker from o.
func newTestHandler(g apply.Graph, sources []Source, o *testOptions) *testHandler {
	t := &testHandler{graph: g, sources: sources}
	if o != nil {
		t.opts = *o
	}
	t.build()
	return t
}

// set changes the options and builds everything anew; call it before the
// handler serves.
func (t *testHandler) set(f func(o *testOptions)) {
	f(&t.opts)
	t.build()
}

func (t *testHandler) build() {
	o := t.opts
	p := apply.New(t.graph, &apply.Options{
		Logger:    o.Logger,
		Deadlines: apply.Deadlines{Timeout: o.Timeout, Margin: o.DeadlineMargin},
		Update:    apply.Update{GraphVersion: o.GraphVersion, Strategy: o.UpdateStrategy, Limiter: o.Limiter},
		Dedupe:    apply.Dedupe{Store: o.Store, CompletedTTL: o.CompletedTTL},
		Policy:    o.Policy,
		WriteBack: o.WriteBack,
		Now:       o.Clock,
		Records:   o.Records,
		Scheduler: o.Scheduler,
	})
	var async map[string]bool
	if t.Handler != nil {
		async = t.Handler.async
	}
	t.Handler = NewHandler(p, t.sources, &Options{MaxBodyBytes: o.MaxBodyBytes, Disabled: o.Disabled, Now: o.Now, Requests: o.Requests,
		Async: Async{Queue: o.Queue, Sources: o.AsyncSources, Scheduler: o.Scheduler}})
	if len(o.AsyncSources) == 0 && async != nil {
		t.Handler.async = async // set by the test itself
	}
	// The chat senders post the worker's follow-ups, as in functions/webhook.
	fu := map[string]worker.FollowUpper{}
	for _, s := range t.sources {
		if f, ok := s.(worker.FollowUpper); ok {
			fu[s.Name()] = f
		}
	}
	for k, v := range o.FollowUps {
		fu[k] = v
	}
	t.worker = worker.New(p, &worker.Options{FollowUps: fu, DeadLetters: o.DeadLetters})
}

// Process is the worker's.
func (t *testHandler) Process(ctx context.Context, d queue.Delivery) error {
	return t.worker.Process(ctx, d)
}
