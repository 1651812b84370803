package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graph"
)

// Update strategies (Options.UpdateStrategy, ENROLLHOOK_UPDATE_STRATEGY):
// how a change reaches Graph.
const (
	// StrategyAuto sends the item PATCH and, when Graph refuses the route
	// (400 "No method match route template", or 405), applies the change
	// with the assign action instead and keeps doing so for the rest of the
	// process. The default.
	StrategyAuto = "auto"
	// StrategyPatch sends the documented item PATCH only.
	StrategyPatch = "patch"
	// StrategyAssign reads every assignment of the configuration, replaces
	// the one being changed and sends the complete set with the assign
	// action (reference/graph.md §0.2, §9).
	StrategyAssign = "assign"
)

// Strategies lists the update strategies, the default first.
var Strategies = []string{StrategyAuto, StrategyPatch, StrategyAssign}

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

// updater holds the strategy of one handler, and for auto whether the
// switch to assign has happened (for the process lifetime: one handler per
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
func (h *Handler) lockConfiguration(ctx context.Context, configurationID string) (unlock func(), err error) {
	v, _ := h.upd.busy.LoadOrStore(configurationID, make(chan struct{}, 1))
	ch := v.(chan struct{})
	octx, cancel := h.outbound(ctx)
	defer cancel()
	busy := &change.Error{Code: change.CodeTimeout, RetryAfter: 5 * time.Second,
		Message: "another change of the same configuration was still being applied at the deadline; nothing was applied"}
	select {
	case ch <- struct{}{}:
	case <-octx.Done():
		return nil, busy
	}
	local := func() { <-ch }
	if h.opts.Store == nil {
		return local, nil
	}
	until := time.Now().Add(h.opts.Timeout)
	if d, ok := ctx.Deadline(); ok {
		until = d
	}
	key := "assign-lock:" + configurationID
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		lease, err := h.opts.Store.Begin(octx, key, "assign-lock", until)
		var inProgress *idempotency.InProgressError
		switch {
		case err == nil && lease.Replay == nil:
			return func() {
				_ = h.opts.Store.Release(context.WithoutCancel(ctx), lease)
				local()
			}, nil
		case errors.As(err, &inProgress):
			// another instance holds it: wait and try again
		case err != nil:
			local()
			return nil, &change.Error{Code: change.CodeUnavailable, Kind: "dedupe-unavailable", RetryAfter: 5 * time.Second,
				Message: "the de-duplication store is unavailable, so the configuration could not be locked; nothing was applied", Err: err}
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
		panic(fmt.Sprintf("webhook: unknown update strategy %q; want one of %s", mode, strings.Join(Strategies, ", ")))
	case mode == StrategyAssign && u.assign == nil:
		panic("webhook: the assign update strategy needs a Graph with ListAssignments and AssignAll")
	}
	return u
}

// update applies req to Graph with the handler's strategy, each write under
// its own slot of the write limit. It returns Graph's result (Body nil with
// ReadBackErr when the change was applied but could not be read back) and
// the extra headers of the answer.
func (h *Handler) update(ctx context.Context, req *change.Request, requestID string) (*graph.Result, map[string]string, error) {
	u := h.upd
	if u.mode == StrategyAssign || u.mode == StrategyAuto && u.switched.Load() {
		return h.updateByAssign(ctx, req, requestID)
	}
	done, err := h.waitForWriteSlot(ctx)
	if err != nil {
		return nil, nil, err
	}
	res, err := h.graph.PatchAssignment(ctx, req.ConfigurationID, req.AssignmentID, &req.Assignment)
	done()
	if err == nil || u.mode != StrategyAuto || u.assign == nil || !graph.IsRouteRefused(err) {
		return res, nil, err
	}
	if u.switched.CompareAndSwap(false, true) {
		attrs := []slog.Attr{slog.String("xRequestId", requestID), slog.String("strategy", StrategyAuto)}
		var re *graph.ResponseError
		if errors.As(err, &re) {
			attrs = append(attrs, slog.Int("status", re.StatusCode), slog.String("graphCode", re.ErrorCode),
				slog.String("graphRequestId", re.RequestID))
		}
		h.log.LogAttrs(ctx, slog.LevelWarn,
			"Graph refused the item PATCH route; changes go through the assign action for the rest of this process", attrs...)
	}
	return h.updateByAssign(ctx, req, requestID)
}

// updateByAssign reads the configuration's assignments, replaces the one of
// req, sends the complete set with the assign action and reads the set back
// to find the changed assignment by its target.
func (h *Handler) updateByAssign(ctx context.Context, req *change.Request, requestID string) (*graph.Result, map[string]string, error) {
	ag := h.upd.assign
	unlock, err := h.lockConfiguration(ctx, req.ConfigurationID)
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	items, first, err := ag.ListAssignments(ctx, req.ConfigurationID)
	if err != nil {
		return nil, nil, err
	}
	if before, berr := beforeOf(items, req.AssignmentID); berr == nil {
		noteBefore(ctx, before) // the audit line's before target (audit.go)
	}
	beta := h.opts.GraphVersion != "v1.0"
	set, target, err := assignSet(items, req, beta)
	if err != nil {
		return nil, nil, err
	}
	done, err := h.waitForWriteSlot(ctx)
	if err != nil {
		return nil, nil, err
	}
	res, err := ag.AssignAll(ctx, req.ConfigurationID, set)
	done()
	if err != nil {
		return res, nil, err
	}
	headers := map[string]string{HeaderStrategy: StrategyAssign}
	after, lres, err := ag.ListAssignments(ctx, req.ConfigurationID)
	if err != nil {
		res.ReadBackErr = err
		return res, headers, nil
	}
	res.ReadBackRequestID = lres.RequestID
	res.Retries += lres.Retries
	if first != nil {
		res.Retries += first.Retries
	}
	others := make(map[string]bool, len(set))
	for _, m := range set {
		var k struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(m, &k)
		if k.ID != req.AssignmentID {
			others[k.ID] = true
		}
	}
	body, id := findChanged(after, req.AssignmentID, target, others, beta)
	if body == nil {
		res.ReadBackErr = errors.New("webhook: after assign, no assignment of the configuration has the target sent")
		return res, headers, nil
	}
	res.Body = body
	headers[HeaderAssignmentID] = id
	if id != req.AssignmentID {
		h.log.InfoContext(ctx, "the assign action gave the changed assignment a new id",
			slog.String("xRequestId", requestID), slog.String("configurationId", req.ConfigurationID),
			slog.String("assignmentId", req.AssignmentID), slog.String("newAssignmentId", id))
	}
	return res, headers, nil
}

// member is one assignment of the assign action's body: its id and target,
// and on beta its source and sourceId as Graph holds them.
type member struct {
	ID       string          `json:"id"`
	Target   json.RawMessage `json:"target"`
	Source   json.RawMessage `json:"source,omitempty"`
	SourceID json.RawMessage `json:"sourceId,omitempty"`
}

// betaOnlyTarget are the target properties v1.0 does not have.
var betaOnlyTarget = []string{"deviceAndAppManagementAssignmentFilterId", "deviceAndAppManagementAssignmentFilterType"}

// assignSet builds the complete set for the assign action from the
// assignments Graph holds: every one unchanged but the one of req, whose
// target is replaced whole and whose source and sourceId are replaced when
// req sets them, as the PATCH would. It returns the set and the target sent
// for req's assignment.
func assignSet(items []json.RawMessage, req *change.Request, beta bool) ([]json.RawMessage, json.RawMessage, error) {
	set := make([]json.RawMessage, 0, len(items))
	var sent json.RawMessage
	for i, raw := range items {
		var a struct {
			ID       string          `json:"id"`
			Target   json.RawMessage `json:"target"`
			Source   json.RawMessage `json:"source"`
			SourceID json.RawMessage `json:"sourceId"`
		}
		if err := json.Unmarshal(raw, &a); err != nil || a.ID == "" {
			return nil, nil, unreadableSet(fmt.Errorf("webhook: assignment %d of the list has no id", i))
		}
		m := member{ID: a.ID}
		if beta {
			if s := strings.TrimSpace(string(a.Source)); s != "" && s != "null" {
				m.Source = a.Source
			}
			m.SourceID = a.SourceID
		}
		if a.ID == req.AssignmentID {
			if sent != nil {
				return nil, nil, unreadableSet(errors.New("webhook: the list holds the assignment twice"))
			}
			t, err := json.Marshal(req.Assignment.Target)
			if err != nil {
				return nil, nil, err
			}
			m.Target, sent = t, t
			if beta && req.Assignment.Source != "" {
				m.Source, _ = json.Marshal(req.Assignment.Source)
			}
			if beta && req.Assignment.SourceID != "" {
				m.SourceID, _ = json.Marshal(req.Assignment.SourceID)
			}
		} else {
			t, err := keptTarget(a.Target, beta)
			if err != nil {
				return nil, nil, &change.Error{Code: change.CodeGraphRefused,
					Message: "the assign action cannot keep an assignment Graph holds without a target; nothing was changed",
					Err:     fmt.Errorf("webhook: assignment %s: %w", a.ID, err)}
			}
			m.Target = t
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, nil, err
		}
		set = append(set, b)
	}
	if sent == nil {
		return nil, nil, &change.Error{Code: change.CodeNotFound, Message: "the configuration or assignment does not exist in Intune"}
	}
	return set, sent, nil
}

func unreadableSet(err error) error {
	return &change.Error{Code: change.CodeUnavailable, Message: "Graph answered with a list of assignments that could not be read; nothing was changed",
		RetryAfter: 5 * time.Second, Err: err}
}

// keptTarget returns a target as Graph holds it, without OData annotations
// other than @odata.type and, on v1.0, without the beta-only properties.
func keptTarget(raw json.RawMessage, beta bool) (json.RawMessage, error) {
	var t map[string]json.RawMessage
	if err := json.Unmarshal(raw, &t); err != nil || t == nil {
		return nil, errors.New("no target")
	}
	for k := range t {
		if strings.HasPrefix(k, "@") && k != "@odata.type" {
			delete(t, k)
		}
	}
	if !beta {
		for _, k := range betaOnlyTarget {
			delete(t, k)
		}
	}
	return json.Marshal(t)
}

// findChanged finds the changed assignment in the set read back after
// assign: the one with its old id if its target is the one sent, else the
// one, not among the others kept, whose target is the one sent. It returns
// the assignment and its id, or nil.
func findChanged(after []json.RawMessage, oldID string, sent json.RawMessage, others map[string]bool, beta bool) (json.RawMessage, string) {
	want := targetKey(sent, beta)
	var body json.RawMessage
	var id string
	for _, raw := range after {
		var a struct {
			ID     string          `json:"id"`
			Target json.RawMessage `json:"target"`
		}
		if json.Unmarshal(raw, &a) != nil || targetKey(a.Target, beta) != want {
			continue
		}
		if a.ID == oldID {
			return raw, a.ID
		}
		if body == nil && !others[a.ID] {
			body, id = raw, a.ID
		}
	}
	return body, id
}

// targetKey is a target's identity for findChanged: its type and the
// properties that say what it targets; filter properties count on beta
// only, with an absent filter equal to none.
func targetKey(raw json.RawMessage, beta bool) string {
	var t struct {
		Type       string  `json:"@odata.type"`
		Group      string  `json:"groupId"`
		Collection string  `json:"collectionId"`
		TargetType string  `json:"targetType"`
		EntraID    string  `json:"entraObjectId"`
		FilterID   *string `json:"deviceAndAppManagementAssignmentFilterId"`
		FilterType string  `json:"deviceAndAppManagementAssignmentFilterType"`
	}
	if json.Unmarshal(raw, &t) != nil || t.Type == "" {
		return "\x00invalid"
	}
	k := []string{"#" + strings.TrimPrefix(t.Type, "#"), strings.ToLower(t.Group), t.Collection, t.TargetType, strings.ToLower(t.EntraID)}
	if beta {
		ft, fid := t.FilterType, ""
		if t.FilterID != nil {
			fid = strings.ToLower(*t.FilterID)
		}
		if ft == "" || ft == change.FilterNone {
			ft, fid = change.FilterNone, ""
		}
		k = append(k, ft, fid)
	}
	return strings.Join(k, "\x00")
}

// UpdateStrategy returns the handler's update strategy, and for auto
// whether it has switched to assign.
func (h *Handler) UpdateStrategy() (strategy string, switched bool) {
	return h.upd.mode, h.upd.switched.Load()
}
