package apply

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/record"
)

// Headers of an applied change's answer, stored with it for replays.
const (
	HeaderGraphRequestID = "X-Graph-Request-Id"
	// HeaderReadBack is "failed" when Graph applied the change without
	// answering it and reading it back failed; the body is then what was
	// applied, not what Graph holds.
	HeaderReadBack = "X-Enrollhook-Read-Back"
)

// Graph is what the pipeline needs from the Graph client.
type Graph interface {
	// PatchAssignment applies body to one assignment and returns it as Graph
	// holds it afterwards. Errors are *change.Error with CodeNotFound,
	// CodeGraphRefused, CodeGraphPermission, CodeUnavailable or CodeTimeout.
	PatchAssignment(ctx context.Context, configurationID, assignmentID string, body any) (*graph.Result, error)
	// GetAssignment returns one assignment as Graph holds it (the chat
	// command show, a dry run). Errors are those of PatchAssignment.
	GetAssignment(ctx context.Context, configurationID, assignmentID string) (*graph.Result, error)
}

// Options tune the pipeline, one struct per concern. A nil *Options means
// the defaults.
type Options struct {
	// Logger receives the audit lines, their metrics and the pipeline's
	// warnings; default slog.Default().
	Logger *slog.Logger
	// Deadlines bound the work of one change.
	Deadlines Deadlines
	// Update is how a change reaches Graph.
	Update Update
	// Dedupe is the de-duplication of deliveries.
	Dedupe Dedupe
	// Policy holds the guardrails every approved change and chat command
	// is checked against (policy.go); nil means none. The functions always
	// set one: the configured policy or policy.Default().
	Policy Policy
	// Records keeps the change record: every applied change, with the
	// assignment before (read before the write, under every update
	// strategy) and after, for /intune history and revert (record.go);
	// nil means none. The functions always set one.
	Records record.Store
	// Scheduler holds the changes whose window opens later than
	// MaxQueueDelay (policy.go); nil means they are refused.
	Scheduler Scheduler
	// Now is the clock change windows are checked against; default
	// time.Now.
	Now func() time.Time
	// WriteBack posts the outcome of an ITSM change (ServiceNow, Jira) to
	// its ticket after the apply step, best effort (writeback.go); nil
	// means none.
	WriteBack WriteBacker
}

// Deadlines bound the work of one change.
type Deadlines struct {
	// Timeout bounds a change whose context has no deadline (the local
	// server, the in-process queue); default 25 s, like the Lambda timeout
	// of template.yaml.
	Timeout time.Duration
	// Margin is kept free before the deadline by the outbound calls the
	// pipeline and its callers make themselves (the wait for a write slot,
	// the enqueue, the write-back), so that they can still answer; the
	// Graph client keeps its own. Default none.
	Margin time.Duration
}

// Update is how a change reaches Graph.
type Update struct {
	// GraphVersion is "beta" (default) or "v1.0"; it decides which
	// properties a change may carry and the assign action may keep.
	GraphVersion string
	// Strategy is StrategyAuto (default), StrategyPatch or StrategyAssign,
	// which needs a Graph that is also an AssignGraph (strategy.go). Any
	// other value panics.
	Strategy string
	// Limiter paces Graph writes (Intune's write limit); nil means none.
	Limiter Limiter
}

// Dedupe is the de-duplication of deliveries (dedupe.go).
type Dedupe struct {
	// Store de-duplicates deliveries; nil means none (every delivery is
	// applied, and the log says it was not de-duplicated).
	Store Store
	// CompletedTTL keeps a completed delivery's answer for replays;
	// default 48h.
	CompletedTTL time.Duration
}

// Pipeline is the one apply pipeline of a change, shared by the request
// path (package webhook) and the worker (package worker): de-duplication,
// policy, write slot, update strategy, audit line and write-back.
type Pipeline struct {
	graph  Graph
	opts   Options
	change change.Options
	log    *slog.Logger
	upd    *updater // the update strategy (strategy.go)
}

// New returns the pipeline that applies changes through g.
func New(g Graph, opts *Options) *Pipeline {
	p := &Pipeline{graph: g}
	if opts != nil {
		p.opts = *opts
	}
	if p.opts.Update.GraphVersion == "" {
		p.opts.Update.GraphVersion = "beta"
	}
	if p.opts.Deadlines.Timeout <= 0 {
		p.opts.Deadlines.Timeout = 25 * time.Second
	}
	if p.opts.Dedupe.CompletedTTL <= 0 {
		p.opts.Dedupe.CompletedTTL = 48 * time.Hour
	}
	p.log = p.opts.Logger
	if p.log == nil {
		p.log = slog.Default()
	}
	p.change = change.Options{GraphVersion: p.opts.Update.GraphVersion}
	p.upd = newUpdater(p.opts.Update.Strategy, g)
	return p
}

// Logger is the pipeline's logger, for the callers' own lines.
func (p *Pipeline) Logger() *slog.Logger { return p.log }

// ChangeOptions are the options every change is decoded and validated with.
func (p *Pipeline) ChangeOptions() *change.Options { return &p.change }

// AnswersKept is how long a completed delivery's answer is kept
// (Dedupe.CompletedTTL): a copy of the delivery that arrives later is no
// longer known as one.
func (p *Pipeline) AnswersKept() time.Duration { return p.opts.Dedupe.CompletedTTL }

// Timeout bounds a change whose context has no deadline (Deadlines.Timeout).
func (p *Pipeline) Timeout() time.Duration { return p.opts.Deadlines.Timeout }

// Bound returns ctx with the pipeline's Timeout when it has no deadline.
func (p *Pipeline) Bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, has := ctx.Deadline(); has {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, p.opts.Deadlines.Timeout)
}

// Outbound bounds a call the pipeline or its caller makes itself by the
// deadline less Deadlines.Margin.
func (p *Pipeline) Outbound(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && p.opts.Deadlines.Margin > 0 {
		return context.WithDeadline(ctx, d.Add(-p.opts.Deadlines.Margin))
	}
	return context.WithCancel(ctx)
}

// Applied is the outcome of Apply.
type Applied struct {
	// Result is Graph's answer; nil when no write was sent.
	Result *graph.Result
	// Body is the assignment as Graph holds it afterwards, or, when Graph
	// answered without a body and the read-back failed, what was applied.
	Body []byte
	// Headers are the answer's headers to send and store for replays.
	Headers map[string]string
	// Before is the target before the change when a read made it known
	// (the audit line's before); GraphTime the time spent in the update's
	// Graph calls.
	Before    json.RawMessage
	GraphTime time.Duration
	// Prior is the whole assignment before the change when it was read
	// (with a change record, always), and PriorRequestID Graph's request
	// id of that read.
	Prior          json.RawMessage
	PriorRequestID string

	// written, for a change an earlier attempt of its delivery applied
	// (attempt.go), is when that write was sent: its change record's
	// time, which later changes are ordered against.
	written time.Time
}

// Apply is the one apply step of a change, shared by the request path (the
// HTTP answer, the chat commands) and the worker: a write slot under
// Intune's limit, the Graph write (the item PATCH or the assign action, per
// the update strategy), and the public body of its answer. requestID is
// ours, for the log. The *Applied is never nil; its Result is set whenever
// Graph answered.
func (p *Pipeline) Apply(ctx context.Context, req *change.Request, requestID string) (*Applied, error) {
	return p.applyGated(ctx, req, requestID, gate{})
}

// applyGated is Apply through g (update).
func (p *Pipeline) applyGated(ctx context.Context, req *change.Request, requestID string, g gate) (*Applied, error) {
	// The write slots and the Graph calls of the update strategy
	// (strategy.go).
	began := time.Now()
	wr, err := p.update(ctx, req, requestID, g)
	took := time.Since(began)
	res := wr.res
	if err != nil {
		return &Applied{Result: res, Before: wr.before, GraphTime: took, Prior: wr.prior, PriorRequestID: wr.priorID}, err
	}
	a := &Applied{Result: res, Headers: map[string]string{}, Before: wr.before, GraphTime: took, Prior: wr.prior, PriorRequestID: wr.priorID}
	for k, v := range wr.headers {
		a.Headers[k] = v
	}
	if res.RequestID != "" {
		a.Headers[HeaderGraphRequestID] = res.RequestID
	}
	a.Body = graph.PublicBody(res.Body)
	if a.Body == nil {
		// Graph accepted the PATCH without a body and the read-back failed:
		// the change is applied, so answer with what was applied rather
		// than an error that would make the sender retry.
		a.Body = appliedBody(req)
		a.Headers[HeaderReadBack] = "failed"
		p.log.WarnContext(ctx, "change applied but the read-back failed; answering with the applied body",
			slog.String("xRequestId", requestID), Cause(res.ReadBackErr))
	}
	return a, nil
}

func appliedBody(req *change.Request) []byte {
	a := req.Assignment
	a.ID = req.AssignmentID
	b, err := json.Marshal(a)
	if err != nil {
		return []byte("{}")
	}
	return b
}

// Show returns one assignment as Graph holds it, without Graph's control
// annotations (the chat command show). Errors are those of Graph.
func (p *Pipeline) Show(ctx context.Context, configurationID, assignmentID string) ([]byte, *graph.Result, error) {
	res, err := p.graph.GetAssignment(ctx, configurationID, assignmentID)
	if err != nil {
		return nil, res, err
	}
	return graph.PublicBody(res.Body), res, nil
}

// TargetType is the short type of req's target, for log lines.
func TargetType(r *change.Request) string {
	if r.Assignment.Target == nil {
		return ""
	}
	return change.ShortType(r.Assignment.Target.ODataType)
}
