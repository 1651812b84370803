package apply

import (
	"context"
	"encoding/json"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graph"
)

// A dry run (?dryRun=true, Prefer: dry-run, the chat command plan) runs
// every step of a change but the write: authentication, decoding,
// validation, approval and policy as usual, then a read of the assignment
// as Graph holds it, and answers what the change would do. It takes no
// write slot and is never queued. It does spend its delivery id (the flag is
// outside every signature): the same delivery sent later without the flag
// is refused as delivery-was-dry-run, and a dry run of a delivery that was
// already applied gets that delivery's real answer, not a plan.

// Plan is the answer to a dry run.
type Plan struct {
	DryRun bool `json:"dryRun"`
	// Before is the assignment as Graph holds it, without OData control
	// annotations; After is what it would be after the change.
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
	// Changes are the values that would change, by JSON pointer, sorted.
	Changes []PlanChange `json:"changes"`
}

// PlanChange is one value a change would change; From or To is null when
// the property is absent on that side.
type PlanChange = graph.Change

// Planned is the outcome of Plan.
type Planned struct {
	Result *graph.Result // Graph's answer to the read; nil when none
	Plan   *Plan
	Body   []byte // the JSON answer
}

// Plan reads the assignment of req as the update strategy would (the item
// GET, or with the assign action the configuration's list) and computes
// what the change would make of it: a dry run. No write, no write slot. The
// *Planned is never nil; its Result is set whenever Graph answered.
func (p *Pipeline) Plan(ctx context.Context, req *change.Request) (*Planned, error) {
	before, res, err := p.current(ctx, req)
	if err != nil {
		return &Planned{Result: res}, err
	}
	after, err := graph.Patched(before, req)
	if err != nil {
		return &Planned{Result: res}, err
	}
	changes, err := graph.Changes(before, after)
	if err != nil {
		return &Planned{Result: res}, err
	}
	pl := &Plan{DryRun: true, Before: before, After: after, Changes: changes}
	body, err := json.Marshal(pl)
	if err != nil {
		return &Planned{Result: res}, &change.Error{Code: change.CodeInternal, Message: "the dry run could not be answered", Err: err}
	}
	return &Planned{Result: res, Plan: pl, Body: body}, nil
}

// assigning reports whether changes go through the assign action (the
// assign strategy, or auto once switched to it).
func (p *Pipeline) assigning() bool {
	u := p.upd
	return u.assign != nil && (u.mode == StrategyAssign || u.mode == StrategyAuto && u.switched.Load())
}

// current returns the assignment of req as Graph holds it. With the assign
// strategy (or auto once switched to it) it is read from the
// configuration's list, as the write would read it.
func (p *Pipeline) current(ctx context.Context, req *change.Request) (json.RawMessage, *graph.Result, error) {
	if p.assigning() {
		items, res, err := p.upd.assign.ListAssignments(ctx, req.ConfigurationID)
		if err != nil {
			return nil, res, err
		}
		if raw := graph.FindAssignment(items, req.AssignmentID); raw != nil {
			b, err := graph.AssignmentObject(raw)
			return b, res, err
		}
		return nil, res, &change.Error{Code: change.CodeNotFound, Message: "the configuration or assignment does not exist in Intune"}
	}
	res, err := p.graph.GetAssignment(ctx, req.ConfigurationID, req.AssignmentID)
	if err != nil {
		return nil, res, err
	}
	b, err := graph.AssignmentObject(res.Body)
	return b, res, err
}
