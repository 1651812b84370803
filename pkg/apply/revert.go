package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/record"
	"github.com/enrollhook/enrollhook/pkg/sender"
)

// Reverted is the answer of a revert: what each change of the ticket that
// stood was put back to. A dry run's Changes carry the plan instead
// (Before as Graph holds it now, After as the revert would leave it).
type Reverted struct {
	DryRun  bool             `json:"dryRun,omitempty"`
	Action  string           `json:"action"`
	Ticket  string           `json:"ticket"`
	Changes []RevertedChange `json:"changes"`
	// Canceled are the ticket's changes held for a window that had not
	// opened (on a schedule or in the queue's delay): their cancellation
	// is recorded (and a schedule deleted), so they never apply. A dry
	// run's are those it would cancel.
	Canceled []string `json:"canceled,omitempty"`

	canceledIn []string // the configuration of each of Canceled
}

// RevertPlan is what a revert puts back and cancels, by change record id:
// the plan a second person approves (Job.Approved).
type RevertPlan struct {
	Reverts []string `json:"reverts"`
	Cancels []string `json:"cancels,omitempty"`
}

// Plan is the revert's plan: the changes it puts back and the scheduled
// changes it cancels.
func (r *Reverted) Plan() RevertPlan {
	p := RevertPlan{Reverts: []string{}, Cancels: slices.Clone(r.Canceled)}
	for _, c := range r.Changes {
		p.Reverts = append(p.Reverts, c.Reverts)
	}
	return p
}

// Configurations are the configurations the revert changes or whose
// scheduled changes it cancels, each once, in the order met.
func (r *Reverted) Configurations() []string {
	var out []string
	add := func(c string) {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	for _, c := range r.Changes {
		add(c.ConfigurationID)
	}
	for _, c := range r.canceledIn {
		add(c)
	}
	return out
}

// RevertedChange is one change put back.
type RevertedChange struct {
	// Reverts is the id of the change record put back.
	Reverts         string          `json:"reverts"`
	ConfigurationID string          `json:"configurationId"`
	AssignmentID    string          `json:"assignmentId"`
	Before          json.RawMessage `json:"before,omitempty"`
	// Assignment is the assignment as Graph holds it afterwards (as the
	// revert would leave it, for a dry run).
	Assignment json.RawMessage `json:"assignment"`
}

// revertStep is one change of the ticket to put back.
type revertStep struct {
	rec     record.Record   // the change record put back
	restore *change.Request // the write that puts it back
	current json.RawMessage // the assignment as Graph holds it now
	// done: an earlier attempt of this revert, whose answer was lost,
	// put it back already (Graph holds what the restore makes): it is
	// recorded, not written again. read is the read that found it so.
	done bool
	read *graph.Result
	// doneAt, for a step a chat approval's earlier write put back, is its
	// record's time.
	doneAt time.Time
}

// revert puts back every change of the job's ticket that still stands
// (record.Standing), latest first, under a lock of the ticket so that
// concurrent reverts of it write once. It writes only if Graph still holds
// what each change applied: otherwise nothing is written and the answer is
// 409 drifted, showing recorded and current. Each restored target passes
// the policy like any change, and each write is recorded as a revert, so it
// can be reverted in turn. A dry run reads and plans, writes nothing and
// takes no lock.
func (p *Pipeline) revert(ctx context.Context, job *Job, lease *idempotency.Lease, o *Outcome) {
	res, err := p.revertTicket(ctx, job, o, lease)
	if err != nil {
		if !job.DryRun && mayHaveWritten(err) {
			// A write's answer was lost: the retry knows that what it
			// finds put back may be this revert's (attempt.go).
			err = change.Mark(err, change.ErrOutcomeUnknown)
			if lease != nil {
				p.giveUpUnknown(ctx, lease, nil, &Applied{})
			}
		} else {
			p.refuseTaken(ctx, job, lease, err)
		}
		o.fail(err)
		return
	}
	body, err := json.Marshal(res)
	if err != nil {
		err = &change.Error{Code: change.CodeInternal, Message: "the revert could not be answered", Err: err}
		p.refuseTaken(ctx, job, lease, err)
		o.fail(err)
		return
	}
	o.Reverted = res
	headers := map[string]string{}
	if o.Result != nil && o.Result.RequestID != "" {
		headers[HeaderGraphRequestID] = o.Result.RequestID // the last write's (or read's, for a dry run)
	}
	// Each change put back has its audit line already (revertTicket).
	o.Audit = ""
	if job.DryRun {
		headers[HeaderDryRun] = DryRunApplied
		o.Planned = true
	}
	if job.DryRun {
		p.keepDryRun(ctx, lease, idempotency.Response{Status: http.StatusOK, Headers: headers, Body: body})
	} else {
		p.Complete(ctx, lease, idempotency.Response{Status: http.StatusOK, Headers: headers, Body: body})
	}
	o.Status, o.Headers, o.Body = http.StatusOK, headers, body
}

// lease is the revert's delivery: before its first write the note a retry
// needs is kept on it, and when it carries an earlier attempt's note (that
// attempt's answer was lost), a change Graph already holds put back counts
// as done.
func (p *Pipeline) revertTicket(ctx context.Context, job *Job, o *Outcome, lease *idempotency.Lease) (_ *Reverted, err error) {
	// Until the first write, a failure sent nothing to Graph (a fault of
	// ours included): the ticket is told failed, not unknown.
	writing := false
	defer func() {
		if err != nil && !writing && !errors.Is(err, change.ErrPartlyApplied) {
			err = noWrite(err)
		}
	}()
	// A retry of a revert whose write had no clear answer: its delivery's
	// note, or a chat approval's earlier attempt (Job.Attempted).
	retried := lease != nil && lease.Attempt != nil || !job.Attempted.IsZero()
	t := job.Request.Ticket
	if p.opts.Records == nil {
		return nil, change.Refuse(change.KindNothingToRevert, "this receiver keeps no change record, so ticket "+t.ID+" has nothing to revert; nothing was changed")
	}
	tickets := p.revertTickets(ctx, job)
	if !job.DryRun {
		// One lock per revert, whatever it names: reverts are rare, and
		// two that reach the same change through different names (a
		// ticket, a change id) must take turns too. Then each ticket's
		// own, which a change arriving from its schedule takes too
		// (apply), so that the two never cross.
		unlock, err := p.lock(ctx, revertLock, "another revert")
		if err != nil {
			return nil, err
		}
		defer unlock()
		for _, tk := range tickets {
			unlock, err := p.lock(ctx, tk.lockKey(), "a change of ticket "+tk.ticket+" arriving from its schedule")
			if err != nil {
				return nil, err
			}
			defer unlock()
		}
	}
	// What stands and what is held, read once: an approved plan's check
	// and the revert itself work on the same reading.
	var pending []record.Record
	for _, tk := range tickets {
		c, err := p.scheduledOf(ctx, tk)
		if err != nil {
			return nil, err
		}
		pending = append(pending, c...)
	}
	standing, err := p.toRevert(ctx, job)
	if err != nil && !errors.Is(err, errNothing) {
		return nil, err
	}
	// An approved plan first: nothing the approver did not see is put
	// back or cancelled.
	if job.Approved != nil {
		if err := outsidePlan(job.Approved, pending, standing); err != nil {
			return nil, err
		}
	}
	// The held changes are cancelled once every check has passed, so
	// that they never apply. A dry run lists them.
	canceled, canceledIn := make([]string, 0, len(pending)), make([]string, 0, len(pending))
	for _, r := range pending {
		canceled, canceledIn = append(canceled, r.ID), append(canceledIn, r.ConfigurationID)
	}
	cancel := func() error {
		if job.DryRun {
			return nil
		}
		n, err := p.cancelRecords(ctx, pending, job.RequestID, true)
		if err != nil && n > 0 {
			// Those cancelled stand: the answer, and the ticket, say so.
			o.WriteBack = true
			return partlyReverted(err, &Reverted{Canceled: canceled[:n]}, pending[n].ID)
		}
		return err
	}
	if err != nil { // nothing stands
		if len(pending) == 0 {
			return nil, err
		}
		if err := cancel(); err != nil {
			return nil, err
		}
		return &Reverted{DryRun: job.DryRun, Action: change.ActionRevert, Ticket: t.ID, Changes: []RevertedChange{},
			Canceled: canceled, canceledIn: canceledIn}, nil
	}
	// Every check before any write: the policy on each restored target,
	// and Graph still holding what each change applied.
	// Two changes of the ticket to one assignment: the older is checked
	// against what putting back the newer leaves, not against Graph.
	steps := make([]revertStep, 0, len(standing))
	left := map[string]json.RawMessage{} // configuration/assignment: as the steps so far leave it
	for _, r := range standing {
		restore, err := restoreRequest(job.Request, &r, p.beta())
		if err != nil {
			return nil, err
		}
		if err := p.Check(job.Sender, job.Chat, restore); err != nil {
			return nil, err
		}
		at := r.ConfigurationID + "/" + r.AssignmentID
		current, seen := left[at]
		var read *graph.Result
		if !seen {
			current, read, err = p.current(ctx, restore)
			o.Result = read
			if err != nil {
				return nil, noWrite(err)
			}
		}
		done, doneAt := false, time.Time{}
		if err := drift(&r, current); err != nil {
			if done = retried && graph.InEffect(current, restore, p.beta()); done && !job.Attempted.IsZero() {
				// A chat approval's earlier attempt: not if another change
				// of the assignment was recorded since it began.
				other, ownLatest, rerr := p.writtenSince(ctx, restore, job.Attempted, append([]string{p.recordID(job)}, job.AttemptedIDs...))
				if rerr != nil {
					return nil, recordUnavailable(rerr)
				}
				done = other == nil
				// Recorded at the earlier attempt's time, after the steps
				// it recorded itself: history keeps their order.
				doneAt = job.Attempted
				if ownLatest.After(doneAt) {
					doneAt = ownLatest.Add(time.Nanosecond)
				}
			}
			if !done {
				return nil, err
			}
		}
		if left[at], err = graph.Patched(current, restore); err != nil {
			return nil, err
		}
		steps = append(steps, revertStep{rec: r, restore: restore, current: current, done: done, doneAt: doneAt, read: read})
	}
	if err := cancel(); err != nil {
		return nil, err
	}
	if len(canceled) == 0 {
		canceled, canceledIn = nil, nil
	}
	out := &Reverted{DryRun: job.DryRun, Action: change.ActionRevert, Ticket: t.ID, Canceled: canceled, canceledIn: canceledIn}
	key := p.recordID(job)
	noted := false
	g := gate{
		note: func(wr *written) error {
			if noted {
				return nil
			}
			_, err := p.noteBefore(ctx, lease, wr)
			noted = err == nil
			return err
		},
		check: func() error { return p.stillOpen(job) },
	}
	for i, s := range steps {
		rc := RevertedChange{Reverts: s.rec.ID, ConfigurationID: s.restore.ConfigurationID, AssignmentID: s.restore.AssignmentID}
		if job.DryRun {
			after, err := graph.Patched(s.current, s.restore)
			if err != nil {
				return nil, err
			}
			rc.Before, rc.Assignment = s.current, after
			out.Changes = append(out.Changes, rc)
			continue
		}
		began := time.Now()
		var after []byte
		wr := &written{res: s.read, prior: s.rec.After}
		before := graph.TargetOf(s.current)
		if s.done {
			// Put back by the earlier attempt: recorded as this
			// revert's, from what the change had applied, and told to
			// the ticket.
			after, before, o.WriteBack = s.current, graph.TargetOf(s.rec.After), true
			if wr.res == nil {
				wr.res = &graph.Result{} // its assignment was read for an earlier step
			}
		} else {
			var err error
			writing = true
			wr, err = p.update(ctx, s.restore, job.RequestID, g)
			o.GraphTime += time.Since(began)
			o.Result, o.WriteBack = wr.res, true
			if err != nil {
				return nil, partlyReverted(err, out, s.rec.ID)
			}
			if after = graph.PublicBody(wr.res.Body); after == nil {
				after = appliedBody(s.restore)
			}
		}
		rc.Assignment = after
		o.Before, o.After = before, after
		id := key
		if len(steps) > 1 {
			id = key + "." + strconv.Itoa(i+1)
		}
		p.recordRevert(ctx, job, &s, id, wr, after)
		audited := *s.restore
		audited.Action = change.ActionRevert
		p.Audit(ctx, &Entry{RequestID: job.RequestID, DeliveryID: job.DeliveryID, Sender: job.Sender, Request: &audited,
			Before: before, After: after, Result: wr.res, Outcome: AuditApplied, Start: job.Start,
			GraphTime: time.Since(began)})
		out.Changes = append(out.Changes, rc)
	}
	return out, nil
}

// writtenSince returns a change of req's assignment recorded after since
// that wrote something, other than the records of own (record ids of this
// revert and of the earlier attempts of its chat request, each with its
// numbered steps), or nil; and the time of the latest of own's.
func (p *Pipeline) writtenSince(ctx context.Context, req *change.Request, since time.Time, own []string) (*record.Record, time.Time, error) {
	recs, err := p.opts.Records.ByAssignment(ctx, req.ConfigurationID, req.AssignmentID, 0)
	if err != nil {
		return nil, time.Time{}, err
	}
	var latest time.Time
	for i := range recs {
		r := &recs[i]
		ours := slices.ContainsFunc(own, func(id string) bool { return r.ID == id || strings.HasPrefix(r.ID, id+".") })
		if ours {
			if r.Time.After(latest) {
				latest = r.Time
			}
			continue
		}
		if wroteSomething(r) && r.Time.After(since) {
			return r, latest, nil
		}
	}
	return nil, latest, nil
}

// partlyReverted is err, the failure of the step of a revert that puts
// back change id, told as what it is once the revert has put back other
// changes (out.Changes) or cancelled held ones (out.Canceled): those stand
// (recorded), so the answer must not say nothing was changed. Its code,
// kind and retry hint are err's; its message says what was done, then
// err's, which speaks for change id; it is marked
// change.ErrPartlyApplied (and change.ErrOutcomeUnknown when the stopped
// step's write may have landed: mayHaveWritten of err), never
// change.ErrNothingSent. The revert sent again puts back the rest.
func partlyReverted(err error, out *Reverted, id string) error {
	if len(out.Changes) == 0 && len(out.Canceled) == 0 {
		return err
	}
	ce, ok := errors.AsType[*change.Error](err)
	if !ok {
		ce = &change.Error{Code: change.CodeInternal, Message: "an internal error occurred; the operator's log has the request id"}
	}
	var done []string
	if len(out.Changes) > 0 {
		put := make([]string, len(out.Changes))
		for i, c := range out.Changes {
			put[i] = c.Reverts
		}
		done = append(done, "put back "+strings.Join(put, ", "))
	}
	if len(out.Canceled) > 0 {
		done = append(done, "cancelled held "+strings.Join(out.Canceled, ", "))
	}
	causes := []error{change.ErrPartlyApplied}
	if mayHaveWritten(err) {
		causes = append(causes, change.ErrOutcomeUnknown) // the stopped step's write may have landed
	}
	if re, ok := errors.AsType[*graph.ResponseError](err); ok {
		causes = append(causes, re)
	}
	causes = append(causes, errors.New(err.Error())) // its text for the log, not its marks
	return &change.Error{Code: ce.Code, Kind: ce.Kind, RetryAfter: ce.RetryAfter, Err: errors.Join(causes...),
		Message: "the revert " + strings.Join(done, " and ") + " (done and recorded), then stopped at " + id +
			"; for " + id + " and any after it: " + ce.Message + "; send the revert again to put back the rest"}
}

// outsidePlan refuses an approved revert (Job.Approved) when the ticket
// now holds a standing or held change its plan did not name: one made
// since the plan, perhaps of a configuration the approver may not approve.
// Changes of the plan no longer there (put back meanwhile, or by an
// earlier attempt of this approval) are left out.
func outsidePlan(plan *RevertPlan, pending, standing []record.Record) error {
	var extra []string
	for _, r := range pending {
		if !slices.Contains(plan.Cancels, r.ID) {
			extra = append(extra, "scheduled change "+r.ID+" of configuration "+r.ConfigurationID)
		}
	}
	for _, r := range standing {
		if !slices.Contains(plan.Reverts, r.ID) {
			extra = append(extra, "change "+r.ID+" of configuration "+r.ConfigurationID)
		}
	}
	if len(extra) > 0 {
		return &change.Error{Code: change.CodeConflict, Kind: change.KindDrifted, Message: "the ticket changed since the revert was asked: " +
			strings.Join(extra, ", ") + " is not in the plan that was approved; nothing was changed; ask for the revert again"}
	}
	return nil
}

// scheduledOf are a ticket's scheduled changes still waiting for their
// window: those a revert of it cancels.
func (p *Pipeline) scheduledOf(ctx context.Context, tk ticketRef) ([]record.Record, error) {
	if p.opts.Records == nil {
		return nil, nil
	}
	recs, err := p.opts.Records.ByTicket(ctx, tk.sender, tk.ticket)
	if err != nil {
		return nil, recordUnavailable(err)
	}
	return pendingScheduled(recs), nil
}

// revertLock is the lock every revert takes, one process-wide and
// store-wide slot; a revert then takes the lock of each ticket it touches
// (ticketRef.lockKey), which a change arriving from its schedule
// (Job.Scheduled) takes too, so a revert and a change it cancels never
// cross.
const revertLock = "revert-lock"

// ticketRef is a sender's ticket.
type ticketRef struct{ sender, ticket string }

// lockKey is the lock of the ticket's held changes and reverts.
func (tk ticketRef) lockKey() string { return revertLock + ":" + tk.sender + ":" + tk.ticket }

// revertTickets are the tickets whose scheduled changes a revert cancels:
// the job's own, or the ticket of the change RevertOf names, or, for a
// ticket id, that ticket of every sender (a chat request's id is the
// ticket of the change its approval applied).
func (p *Pipeline) revertTickets(ctx context.Context, job *Job) []ticketRef {
	ref := job.RevertOf
	if ref == "" {
		return []ticketRef{{job.Sender, job.Request.Ticket.ID}}
	}
	r, err := p.opts.Records.Get(ctx, ref)
	for _, s := range sender.KnownNames() {
		if !errors.Is(err, record.ErrNotFound) || strings.Contains(ref, ":") {
			break
		}
		r, err = p.opts.Records.Get(ctx, s+":"+ref)
	}
	if err == nil {
		return []ticketRef{{r.Sender, r.Ticket.ID}}
	}
	var out []ticketRef
	for _, s := range sender.KnownNames() {
		out = append(out, ticketRef{s, ref})
	}
	return out
}

// toRevert reads the changes a revert puts back, latest first: the job's
// ticket's changes that stand, or what Job.RevertOf names.
func (p *Pipeline) toRevert(ctx context.Context, job *Job) ([]record.Record, error) {
	ref := job.RevertOf
	if ref == "" {
		recs, err := p.opts.Records.ByTicket(ctx, job.Sender, job.Request.Ticket.ID)
		if err != nil {
			return nil, recordUnavailable(err)
		}
		standing := record.Standing(recs, true)
		if len(standing) == 0 {
			return nil, nothingToRevert(job.Request.Ticket.ID, recs)
		}
		return standing, nil
	}
	// A change record by its id ("generic:msg_2Nq8x", as history shows
	// it, or the sender's delivery id alone): any change, a revert too (it
	// is then undone), unless something has put it back already.
	r, err := p.opts.Records.Get(ctx, ref)
	for _, s := range sender.KnownNames() {
		if !errors.Is(err, record.ErrNotFound) || strings.Contains(ref, ":") {
			break
		}
		r, err = p.opts.Records.Get(ctx, s+":"+ref)
	}
	switch {
	case err == nil:
		recs, err := p.opts.Records.ByTicket(ctx, r.Sender, r.Ticket.ID)
		if err != nil {
			return nil, recordUnavailable(err)
		}
		if by, ok := record.RevertedBy(recs, r.ID); ok {
			return nil, change.Refuse(change.KindNothingToRevert, "change "+r.ID+" was reverted already by "+by.ID+" at "+
				by.Time.UTC().Format(time.RFC3339)+"; nothing was changed")
		}
		if r.State == record.StateScheduled {
			return nil, &nothingError{ce: change.Refuse(change.KindNothingToRevert, "change "+r.ID+" is scheduled, not applied, and its schedule is cancelled already; nothing was changed")}
		}
		return []record.Record{*r}, nil
	case !errors.Is(err, record.ErrNotFound):
		return nil, recordUnavailable(err)
	}
	// A ticket: an ITSM sender's, or a chat request's id (history shows
	// it as the ticket of the change its approval applied).
	var all []record.Record
	for _, s := range sender.KnownNames() {
		recs, err := p.opts.Records.ByTicket(ctx, s, ref)
		if err != nil {
			return nil, recordUnavailable(err)
		}
		all = append(all, recs...)
		if standing := record.Standing(recs, true); len(standing) > 0 {
			return standing, nil
		}
	}
	return nil, nothingToRevert(ref, all)
}

// restoreRequest is the change that puts r's before back: r's assignment
// with the target it had, under the reverting request's ticket (its
// approval and people).
func restoreRequest(by *change.Request, r *record.Record, beta bool) (*change.Request, error) {
	target := graph.TargetOf(r.Before)
	if target == nil {
		return nil, &change.Error{Code: change.CodeConflict, Kind: change.KindDrifted,
			Message: "the change record of " + r.ID + " has no assignment before that change, so it cannot be put back; nothing was changed"}
	}
	var t change.Target
	if err := json.Unmarshal(target, &t); err != nil {
		return nil, &change.Error{Code: change.CodeInternal, Message: "the change record could not be read", Err: err}
	}
	req := &change.Request{Ticket: by.Ticket, ConfigurationID: r.ConfigurationID, AssignmentID: r.AssignmentID,
		Assignment: change.Assignment{Target: &t}}
	// The source the assignment had, when the change changed it (beta
	// only; a sourceId it had none of cannot be sent as null, so one the
	// change set stays).
	type source struct {
		Source   string `json:"source"`
		SourceID string `json:"sourceId"`
	}
	var was, made source
	if beta && json.Unmarshal(r.Before, &was) == nil && json.Unmarshal(r.After, &made) == nil && was != made &&
		(was.Source == "direct" || was.Source == "policySets") {
		req.Assignment.Source, req.Assignment.SourceID = was.Source, was.SourceID
	}
	req.Normalize()
	return req, nil
}

// drift refuses a revert of r when Graph's assignment (current) no longer
// has the target r applied.
func drift(r *record.Record, current json.RawMessage) error {
	recorded, now := graph.TargetOf(r.After), graph.TargetOf(current)
	changes, err := graph.Changes(recorded, now)
	if err == nil && len(changes) == 0 && recorded != nil {
		return nil
	}
	return &change.Error{Code: change.CodeConflict, Kind: change.KindDrifted, Message: fmt.Sprintf(
		"assignment %s of configuration %s changed since %s applied it: recorded %s, now %s; nothing was changed",
		r.AssignmentID, r.ConfigurationID, r.ID, compact(recorded), compact(now))}
}

// compact is a target for a refusal's text: Graph's JSON, or "none".
func compact(b json.RawMessage) string {
	if len(b) == 0 {
		return "none"
	}
	return string(b)
}

// nothingToRevert is the refusal of a ticket without a standing change.
func nothingToRevert(ticket string, recs []record.Record) error {
	msg := "no change of ticket or change id " + ticket + " is recorded here; nothing was changed"
	if len(recs) > 0 {
		last := recs[len(recs)-1]
		msg = "every change of ticket " + ticket + " is reverted already (last: " + last.ID + " at " +
			last.Time.UTC().Format(time.RFC3339) + "); nothing was changed"
	}
	return &nothingError{ce: change.Refuse(change.KindNothingToRevert, msg)}
}

// errNothing matches the refusal of a ticket with nothing standing.
var errNothing = errors.New("apply: nothing to revert")

// nothingError is that refusal: its *change.Error, which is also
// errNothing.
type nothingError struct{ ce *change.Error }

func (e *nothingError) Error() string   { return e.ce.Error() }
func (e *nothingError) Unwrap() []error { return []error{e.ce, errNothing} }

// recordUnavailable is the refusal when the change record cannot be read.
func recordUnavailable(err error) error {
	return &change.Error{Code: change.CodeUnavailable, Kind: change.KindRecordUnavailable, RetryAfter: 5 * time.Second,
		Message: "the change record could not be read, so nothing was reverted; retry later", Err: errors.Join(change.ErrNothingSent, err)}
}

// recordRevert keeps a revert in the change record, under the ticket of the
// change it puts back, so that it stands among that ticket's changes.
func (p *Pipeline) recordRevert(ctx context.Context, job *Job, s *revertStep, id string, wr *written, after []byte) {
	t := recordTicket(job)
	t.ID, t.System, t.URL = s.rec.Ticket.ID, s.rec.Ticket.System, s.rec.Ticket.URL
	r := &record.Record{ID: id, Action: record.ActionRevert, Reverts: s.rec.ID, Sender: s.rec.Sender, DeliveryID: job.DeliveryID,
		Ticket: t, ConfigurationID: s.restore.ConfigurationID, AssignmentID: s.restore.AssignmentID,
		Before: orNull(wr.prior), After: orNull(after)}
	if s.done && !s.doneAt.IsZero() {
		// Put back by a chat approval's earlier write: its approver's, at
		// its time.
		r.Time = s.doneAt
		if job.AttemptedBy != "" {
			r.Ticket.ApprovedBy, r.Ticket.ApprovedByID = job.AttemptedBy, job.AttemptedByID
		}
	}
	if len(wr.prior) == 0 {
		r.Before = orNull(s.current)
	}
	for _, rid := range []string{wr.priorID, wr.res.RequestID, wr.res.ReadBackRequestID} {
		if rid != "" {
			r.GraphRequestIDs = append(r.GraphRequestIDs, rid)
		}
	}
	p.putRecord(ctx, job, r)
}

// History returns the latest recorded changes of an assignment, latest
// first, at most limit (record.Store.ByAssignment); none without a change
// record.
func (p *Pipeline) History(ctx context.Context, configurationID, assignmentID string, limit int) ([]record.Record, error) {
	if p.opts.Records == nil {
		return nil, nil
	}
	recs, err := p.opts.Records.ByAssignment(ctx, configurationID, assignmentID, limit)
	if err != nil {
		return nil, recordUnavailable(err)
	}
	return recs, nil
}
