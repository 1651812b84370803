package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/strategy"
)

// Update strategies (Update.Strategy, ENROLLHOOK_UPDATE_STRATEGY):
// how a change reaches Graph.
const (
	// StrategyAuto sends the item PATCH and, when Graph refuses the route
	// (400 "No method match route template", or 405), applies the change
	// with the assign action instead and keeps doing so for the rest of the
	// process. The default.
	StrategyAuto = strategy.Auto
	// StrategyPatch sends the documented item PATCH only.
	StrategyPatch = strategy.Patch
	// StrategyAssign reads every assignment of the configuration, replaces
	// the one being changed and sends the complete set with the assign
	// action, for tenants where Intune has no item route for the write.
	StrategyAssign = strategy.Assign
)

// Headers of an answer whose change went through the assign action.
const (
	// HeaderStrategy is "assign" when the change was applied with the
	// assign action; absent when it was the item PATCH.
	HeaderStrategy = "X-Enrollhook-Strategy"
	// HeaderAssignmentID is the id of the changed assignment as Graph
	// holds it after the assign action, which may differ from the
	// assignmentId of the request: Intune may name the assignment anew.
	HeaderAssignmentID = "X-Enrollhook-Assignment-Id"
)

// AssignGraph is what the assign strategy needs beyond Graph; *graph.Client
// has it.
type AssignGraph interface {
	// ListAssignments returns every assignment of a configuration.
	ListAssignments(ctx context.Context, configurationID string) ([]json.RawMessage, *graph.Result, error)
	// AssignAll replaces the complete assignment set of a configuration.
	AssignAll(ctx context.Context, configurationID string, assignments []json.RawMessage) (*graph.Result, error)
}

// updater holds the strategy of one pipeline, and for auto whether the
// switch to assign has happened (for the process lifetime: one pipeline per
// process).
type updater struct {
	mode     string
	assign   AssignGraph // nil when the Graph has no assign action
	switched atomic.Bool
	// busy holds, per configuration id, a one-slot channel taken while an
	// assign reads, replaces and writes that configuration's set, so that
	// two changes of one configuration in this process never overwrite
	// each other's (a read-modify-write). Other processes are not covered.
	busy sync.Map
}

// lockConfiguration waits, until ctx ends, for the configuration's assign
// slot: first in this process, then across instances through the
// de-duplication store (a lease on "assign-lock:<configuration>", which a
// holder that dies loses at its deadline), so two instances never
// read-modify-write one configuration's set at once. Without a store only
// this process is covered.
func (p *Pipeline) lockConfiguration(ctx context.Context, configurationID string) (unlock func(), err error) {
	return p.lock(ctx, "assign-lock:"+configurationID, "another change of the same configuration")
}

// lock waits, until ctx ends, for the slot of key: first in this process,
// then across instances through the de-duplication store (a lease on key,
// which a holder that dies loses at its deadline). what names the holder
// in the refusal when the slot stays taken.
func (p *Pipeline) lock(ctx context.Context, key, what string) (unlock func(), err error) {
	v, _ := p.upd.busy.LoadOrStore(key, make(chan struct{}, 1))
	ch := v.(chan struct{})
	octx, cancel := p.Outbound(ctx)
	defer cancel()
	busy := &change.Error{Code: change.CodeTimeout, RetryAfter: 5 * time.Second,
		Message: what + " was still being applied at the deadline; nothing was applied", Err: change.ErrNothingSent}
	select {
	case ch <- struct{}{}:
	case <-octx.Done():
		return nil, busy
	}
	local := func() { <-ch }
	if p.opts.Dedupe.Store == nil {
		return local, nil
	}
	until := time.Now().Add(p.opts.Deadlines.Timeout)
	if d, ok := ctx.Deadline(); ok {
		until = d
	}
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		lease, err := p.opts.Dedupe.Store.Begin(octx, key, "assign-lock", until) // every lock's marker, as before there were others
		var inProgress *idempotency.InProgressError
		switch {
		case err == nil && lease.Replay == nil:
			return func() {
				_ = p.opts.Dedupe.Store.Release(context.WithoutCancel(ctx), lease)
				local()
			}, nil
		case errors.As(err, &inProgress):
			// another instance holds it: wait and try again
		case err != nil:
			local()
			return nil, &change.Error{Code: change.CodeUnavailable, Kind: change.KindDedupeUnavailable, RetryAfter: 5 * time.Second,
				Message: "the de-duplication store is unavailable, so the change could not be locked; nothing was applied", Err: errors.Join(change.ErrNothingSent, err)}
		default:
			// a completed record under the lock's key cannot happen (locks
			// are only released); treat it as busy
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-octx.Done():
			t.Stop()
			local()
			return nil, busy
		}
	}
}

// newUpdater checks the strategy against what g can do. An unknown
// strategy, or assign with a Graph that cannot assign, is a wiring bug
// (config.Load refuses unknown strategies) and panics.
func newUpdater(mode string, g Graph) *updater {
	if mode == "" {
		mode = StrategyAuto
	}
	u := &updater{mode: mode}
	u.assign, _ = g.(AssignGraph)
	switch {
	case mode != StrategyAuto && mode != StrategyPatch && mode != StrategyAssign:
		panic(fmt.Sprintf("apply: unknown update strategy %q; want one of %s", mode, strings.Join(strategy.Names(), ", ")))
	case mode == StrategyAssign && u.assign == nil:
		panic("apply: the assign update strategy needs a Graph with ListAssignments and AssignAll")
	}
	return u
}

// written is what an update made known: Graph's answer (Body nil with
// ReadBackErr when the change was applied but could not be read back), the
// extra headers of the answer, and the target the assignment had before the
// change when a read made it known (the assign strategy's list; the audit
// line's before).
type written struct {
	res     *graph.Result
	headers map[string]string
	before  json.RawMessage // the target before
	// prior is the whole assignment before the write, read when changes
	// are recorded (or by the assign action's list anyway); priorID the
	// request id of that read.
	prior   json.RawMessage
	priorID string
	// others, for the assign action, are the ids of the configuration's
	// assignments it keeps beside the changed one.
	others []string
}

// gate is what update checks on the way to a write; either refusing means
// nothing is written.
type gate struct {
	// note runs with what the update read so far, before the write slot
	// is waited for: it keeps the note a retry needs (attempt.go).
	note func(wr *written) error
	// check runs once the slot is taken, right before the write: a change
	// window that closed while the change waited for its slot refuses it
	// there, and the slot is given back.
	check func() error
}

// update applies req to Graph with the pipeline's strategy, each write under
// its own slot of the write limit, through g. The *written is never nil.
func (p *Pipeline) update(ctx context.Context, req *change.Request, requestID string, g gate) (*written, error) {
	u := p.upd
	if p.assigning() {
		return p.updateByAssign(ctx, req, requestID, g)
	}
	wr := &written{}
	if p.opts.Records != nil {
		// The change record keeps the assignment as it was: read it
		// before the write (the assign action reads the list anyway).
		prior, res, err := p.current(ctx, req)
		if err != nil {
			return wr, noWrite(err)
		}
		wr.prior, wr.before = prior, graph.TargetOf(prior)
		if res != nil {
			wr.priorID = res.RequestID
		}
	}
	if g.note != nil {
		if err := g.note(wr); err != nil {
			return wr, err
		}
	}
	done, err := p.writeSlot(ctx, g.check)
	if err != nil {
		return wr, err
	}
	res, err := p.graph.PatchAssignment(ctx, req.ConfigurationID, req.AssignmentID, req.PatchBodyRef())
	done()
	wr.res = res
	if err == nil || u.mode != StrategyAuto || u.assign == nil || !graph.IsRouteRefused(err) {
		return wr, err
	}
	if u.switched.CompareAndSwap(false, true) {
		attrs := []slog.Attr{slog.String("xRequestId", requestID), slog.String("strategy", StrategyAuto)}
		var re *graph.ResponseError
		if errors.As(err, &re) {
			attrs = append(attrs, slog.Int("status", re.StatusCode), slog.String("graphCode", re.ErrorCode),
				slog.String("graphRequestId", re.RequestID))
		}
		p.log.LogAttrs(ctx, slog.LevelWarn,
			"Graph refused the item PATCH route; changes go through the assign action for the rest of this process", attrs...)
	}
	return p.updateByAssign(ctx, req, requestID, g)
}

// noWrite marks err, a failure before any write went to Graph (the read
// before it), with change.ErrNothingSent: the outcome is known, nothing
// was applied.
func noWrite(err error) error { return change.Mark(err, change.ErrNothingSent) }

// writeSlot takes a write slot, then runs check (update): a refusal gives
// the slot back, and nothing is written.
func (p *Pipeline) writeSlot(ctx context.Context, check func() error) (done func(), err error) {
	done, err = p.waitForWriteSlot(ctx)
	if err == nil && check != nil {
		if err = check(); err != nil {
			done()
			return nil, err
		}
	}
	return done, err
}

// updateByAssign reads the configuration's assignments, replaces the one of
// req, sends the complete set with the assign action and reads the set back
// to find the changed assignment by its target.
func (p *Pipeline) updateByAssign(ctx context.Context, req *change.Request, requestID string, g gate) (*written, error) {
	ag := p.upd.assign
	unlock, err := p.lockConfiguration(ctx, req.ConfigurationID)
	if err != nil {
		return &written{}, err
	}
	defer unlock()
	items, first, err := ag.ListAssignments(ctx, req.ConfigurationID)
	if err != nil {
		return &written{}, noWrite(err)
	}
	wr := &written{}
	wr.before, _ = graph.TargetIn(items, req.AssignmentID)
	if raw := graph.FindAssignment(items, req.AssignmentID); raw != nil {
		wr.prior, _ = graph.AssignmentObject(raw)
	}
	if first != nil {
		wr.priorID = first.RequestID
	}
	set, err := graph.NewAssignSet(items, req, p.beta())
	if err != nil {
		return wr, noWrite(err)
	}
	wr.others = set.OtherIDs()
	if g.note != nil {
		if err := g.note(wr); err != nil {
			return wr, err
		}
	}
	done, err := p.writeSlot(ctx, g.check)
	if err != nil {
		return wr, err
	}
	res, err := ag.AssignAll(ctx, req.ConfigurationID, set.Members)
	done()
	wr.res = res
	if err != nil {
		return wr, err
	}
	wr.headers = map[string]string{HeaderStrategy: StrategyAssign}
	after, lres, err := ag.ListAssignments(ctx, req.ConfigurationID)
	if err != nil {
		res.ReadBackErr = err
		return wr, nil
	}
	res.ReadBackRequestID = lres.RequestID
	res.Retries += lres.Retries
	if first != nil {
		res.Retries += first.Retries
	}
	body, id := set.Changed(after)
	if body == nil {
		res.ReadBackErr = errors.New("apply: after assign, no assignment of the configuration has the target sent")
		return wr, nil
	}
	res.Body = body
	wr.headers[HeaderAssignmentID] = id
	if id != req.AssignmentID {
		p.log.InfoContext(ctx, "the assign action gave the changed assignment a new id",
			slog.String("xRequestId", requestID), slog.String("configurationId", req.ConfigurationID),
			slog.String("assignmentId", req.AssignmentID), slog.String("newAssignmentId", id))
	}
	return wr, nil
}

// UpdateStrategy returns the pipeline's update strategy, and for auto
// whether it has switched to assign.
func (p *Pipeline) UpdateStrategy() (strategy string, switched bool) {
	return p.upd.mode, p.upd.switched.Load()
}
