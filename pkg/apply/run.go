package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
)

// Job is one approved change handed to the pipeline (Run) by a caller: the
// request path, a chat command or the worker. Each caller only translates
// its input into a Job and the Outcome into its own answer.
type Job struct {
	// Sender is the sender's name; DeliveryID its delivery id ("" when it
	// has none); RequestID ours, for the log and the answers.
	Sender, DeliveryID, RequestID string
	// Request is the decoded change.
	Request *change.Request
	// Start is when the delivery was received; the audit line's duration
	// counts from it. Zero means when Run began.
	Start time.Time
	// Via says whose job it is: the words of a de-duplication refusal and
	// which store answers a replay carries.
	Via Via
	// Chat marks a chat command's change (its own approval, for the
	// policy).
	Chat bool
	// Command, when set, is checked again against the policy before the
	// change (CheckCommand): the worker's check of a queued chat command.
	Command *Command
	// Validate validates the change again before anything else: the queue
	// is a trust boundary of its own.
	Validate bool
	// DryRun reads instead of writing (Plan): the delivery id is spent on
	// the plan, and a later real delivery with it is refused.
	DryRun bool
	// Enqueue, when set, takes the change to the worker instead of applying
	// it: called with the store key and fingerprint of the delivery and,
	// for a change whose window opens within MaxQueueDelay, when the
	// window opens (zero: at once), and whether it is to wait on a
	// schedule (more than MaxQueueDelay ahead) rather than in the queue;
	// any error means nothing was queued (it is the refusal). QueuedBody
	// makes the 202 answer stored for replays.
	Enqueue    func(ctx context.Context, key, fingerprint string, notBefore time.Time, schedule bool) error
	QueuedBody func(notBefore time.Time, schedule bool) []byte
	// Key and Fingerprint name the delivery in the de-duplication store;
	// an empty Key means Key(Sender, DeliveryID, Request).
	Key, Fingerprint string
	// Held says the caller holds the delivery in the store itself (a chat
	// command's own record, completed with its reply): Run takes nothing.
	Held bool
	// RevertOf, for a revert, names what to put back instead of the
	// request's own ticket: a change record's id, or the id of a ticket of
	// any ITSM sender (a chat command's revert).
	RevertOf string
	// Approved, for a revert, is the plan a second person approved (a chat
	// request's): the revert puts back and cancels only what it names, and
	// is refused 409 drifted, before anything is written or cancelled, when
	// the ticket holds a standing or scheduled change the plan did not.
	Approved *RevertPlan
	// ExpectBefore, when set, is the assignment as Graph held it when the
	// change was planned (a chat request approved later): the change is
	// applied only if Graph still holds it, else refused 409 drifted.
	ExpectBefore json.RawMessage
	// Attempted is when an earlier approval of the same chat request sent
	// its write without a clear answer: Graph holding what the change (with
	// ExpectBefore) or a revert's restore (with Approved) makes is then
	// that write's doing, answered and recorded as applied (at that time),
	// not refused as drifted.
	Attempted time.Time
	// AttemptedBy and AttemptedByID are who approved that earlier attempt:
	// a change found applied is recorded as approved by them.
	AttemptedBy, AttemptedByID string
	// AttemptedIDs are the change record ids of the earlier attempts: their
	// records (a revert's steps) are this request's own.
	AttemptedIDs []string
	// Scheduled marks a change that arrives from its schedule (the
	// worker): it is refused if its cancellation is recorded.
	Scheduled bool
	// KeepRefusals records a failure that is not Retryable as the
	// delivery's answer, so a redelivered copy does not reach Graph again;
	// otherwise every failure releases the delivery for a retry.
	KeepRefusals bool
}

// Via is whose job it is.
type Via int

// The callers of Run.
const (
	ViaRequest Via = iota // the HTTP request path
	ViaChat               // a chat command
	ViaWorker             // the worker, for a queued change
)

// Command is a chat user's command, checked against the policy in force
// when it is applied: the user may still run it, and, unless Approver
// names the second person who approved it, the policy does not now want
// one (a command queued as its own approval before the policy named
// approvers does not get past them).
type Command struct {
	Tenant, User, Verb string
	Approver           string
	// Allowed, when set, checks the user against the sender's allow-list
	// in force (the worker's copy of it), once the delivery is taken (a
	// copy of a command applied already is answered from the store): a
	// user removed since the command was queued is refused, with the
	// allow-list's reason.
	Allowed func() error
}

// Outcome is what Run decided for a Job. The caller sends its answer from
// it, then calls Finish, which writes the audit line and, after the answer,
// the write-back.
type Outcome struct {
	// Status, Headers and Body are the answer as stored for replays: the
	// assignment (200), the plan of a dry run (200), the 202 of a queued
	// change, or, for a replay, the stored answer. Status is 0 when Err is
	// set and nothing else was decided.
	Status  int
	Headers map[string]string
	Body    []byte
	// Err is the refusal or the failure; ProblemFor maps it.
	Err error
	// Taken: the delivery was taken in the store (false without a store,
	// or when held by the caller). Replay: answered from the store.
	// Planned: a dry run (or the replay of one). Queued: sent to the
	// worker.
	Taken, Replay, Planned, Queued bool
	// Result is Graph's answer, when there was one.
	Result *graph.Result
	// Plan is a dry run's plan; Reverted a revert's answer (its plan, for
	// a dry run), as Body encodes it.
	Plan     *Plan
	Reverted *Reverted
	// Before, After and GraphTime are the audit line's (Entry).
	Before    json.RawMessage
	After     []byte
	GraphTime time.Duration
	// Audit is the audit outcome Finish writes (an Audit* outcome, or
	// "planned": none); the caller may change it before Finish (the
	// worker: dead-lettered, or "" for a retry, which is not a decision).
	Audit string
	// WriteBack says Finish posts the outcome to the ticket: Run sets it
	// once the apply step ran; the worker decides it itself (only once an
	// outcome is final).
	WriteBack bool

	job      Job // a copy: the caller's Job need not outlive Run
	deadline time.Time
}

// Retryable reports whether a failure of the apply step may pass: Graph
// throttled, unavailable or out of time, no write slot, or a fault of our
// own.
func Retryable(err error) bool {
	switch change.ErrorCode(err) {
	case change.CodeUnavailable, change.CodeTimeout, change.CodeInternal:
		return true
	}
	return false
}

// InProgress reports whether err is a delivery held by another attempt
// (KindDeliveryInProgress).
func InProgress(err error) bool {
	ce, ok := errors.AsType[*change.Error](err)
	return ok && ce.Kind == change.KindDeliveryInProgress
}

// Run is the one entry of the pipeline; it owns the order of the steps of
// a change: validation (Job.Validate) and approval, the take of the
// delivery in the de-duplication store (a replay answers from it), a lost
// write's settling, the policy, the change window, then the dry run, the
// enqueue or the apply step, then the store's complete or release. The audit line and the write-back follow in Finish, which the
// caller calls once it has answered. ctx is bounded by Timeout when it has
// no deadline. The Outcome is a value: the request path's answer costs no
// allocation for it.
func (p *Pipeline) Run(ctx context.Context, j *Job) Outcome {
	var o Outcome
	p.run(ctx, j, &o)
	return o
}

func (p *Pipeline) run(ctx context.Context, j *Job, o *Outcome) {
	o.job = *j
	job := &o.job
	if !job.Attempted.IsZero() {
		defer earlierAttempt(o) // a chat approval after an unclear write only
	}
	if job.Start.IsZero() {
		job.Start = time.Now()
	}
	ctx, cancel := p.Bound(ctx)
	defer cancel()
	o.deadline, _ = ctx.Deadline()
	if err := p.check(job); err != nil {
		o.fail(err)
		return
	}
	// A scheduled change whose cancellation is recorded is refused; only
	// a delivery whose earlier write's answer was lost goes on, to find
	// out what that write did.
	var canceled error
	if job.Scheduled {
		if err := p.checkNotCanceled(ctx, job); err != nil {
			if !Canceled(err) {
				o.fail(err)
				return
			}
			canceled = err
		}
	}
	lease, done := p.take(ctx, job, o)
	if done {
		// A cancelled change whose delivery id the store holds under
		// another body is refused as cancelled; a stored answer stands
		// (an earlier attempt settled it: applied, refused, or its
		// outcome unknown), and one in progress or a store that cannot
		// answer comes back (that attempt may be settling it).
		if ce, ok := errors.AsType[*change.Error](o.Err); ok && ce.Kind == change.KindDeliveryMismatch && canceled != nil {
			*o = Outcome{job: o.job, deadline: o.deadline}
			o.fail(canceled)
		}
		return
	}
	// A delivery whose earlier write's answer was lost first finds out
	// what that write did (attempt.go): before the window is checked, or
	// the cancellation, which say nothing was changed.
	if lease != nil && lease.Attempt != nil && !job.DryRun && !job.Request.Reverts() && job.Enqueue == nil && p.settleEarlier(ctx, job, lease, canceled != nil, o) {
		return
	}
	if canceled != nil {
		p.refuseTaken(ctx, job, lease, canceled)
		o.fail(canceled)
		return
	}
	if !job.Held {
		if err := p.checkCommand(job); err != nil { // check() ran it for a held one
			p.refuseTaken(ctx, job, lease, err)
			o.fail(err)
			return
		}
	}
	if err := p.checkPolicy(job); err != nil {
		p.refuseTaken(ctx, job, lease, err)
		o.fail(err)
		return
	}
	// The change window, once the delivery is taken: a delivery applied
	// inside it is answered from the store after it closes, not refused.
	// Outside it the change is refused, or queued until it opens.
	notBefore, err := p.window(job)
	if err != nil && job.Scheduled && !notBefore.IsZero() && p.waitFor(ctx, notBefore) {
		notBefore, err = time.Time{}, nil // arrived early, and waited for it
	}
	if err != nil {
		p.refuseTaken(ctx, job, lease, err)
		o.fail(err)
		return
	}
	switch {
	case job.Request.Reverts() && (job.DryRun || job.Enqueue == nil):
		p.revert(ctx, job, lease, o) // revert.go
	case job.DryRun:
		p.plan(ctx, job, lease, o)
	case job.Enqueue != nil:
		key, fp := p.keyOf(job)
		// Decided once, for the enqueue, the record and the answer.
		sched := scheduled(notBefore, p.now())
		if !notBefore.IsZero() {
			if err := p.recordScheduled(ctx, job, notBefore); err != nil { // record.go
				p.Release(ctx, lease)
				o.fail(err)
				return
			}
		}
		if err := job.Enqueue(ctx, key, fp, notBefore, sched); err != nil {
			p.Release(ctx, lease)
			// The queue may have taken it (no answer): the ticket hears
			// that the outcome is unknown; a refusal it answered, nothing.
			o.WriteBack = change.OutcomeUnknown(err)
			o.fail(err)
			return
		}
		if !notBefore.IsZero() {
			p.overtakeHeld(ctx, job, sched) // record.go
		}
		var body []byte
		if job.QueuedBody != nil {
			body = job.QueuedBody(notBefore, sched)
		}
		p.Complete(ctx, lease, idempotency.Response{Status: http.StatusAccepted, Body: body})
		o.Status, o.Body, o.Queued, o.Audit = http.StatusAccepted, body, true, AuditQueued
	default:
		p.apply(ctx, job, lease, o)
	}
}

// checkCommand checks a chat command against the sender's allow-list and
// the policy in force now (Job.Command): once its delivery is taken, so a
// copy of a command applied already is answered from the store.
func (p *Pipeline) checkCommand(job *Job) error {
	c := job.Command
	if c == nil {
		return nil
	}
	if c.Allowed != nil {
		if err := c.Allowed(); err != nil {
			return change.Refuse(change.KindPolicyCommand, "the sender's allow-list refuses the command's user now ("+err.Error()+"); nothing was changed")
		}
	}
	if err := p.CheckCommand(job.Sender, c.Tenant, c.User, c.Verb); err != nil {
		if ce, ok := errors.AsType[*change.Error](err); ok && c.Approver != "" {
			return change.Refuse(ce.Kind, "the request's requester may not run it any more: "+ce.Message)
		}
		return err
	}
	if c.Approver == "" && p.SecondPerson(job.Sender, c.Verb) {
		return change.Refuse(change.KindPolicyCommand, "the policy now wants another person to approve "+c.Verb+
			", and nobody approved this one; nothing was changed: ask again, and it becomes a request to approve")
	}
	return nil
}

// check is the checks before the delivery is taken.
func (p *Pipeline) check(job *Job) error {
	req := job.Request
	if job.Validate {
		if err := req.Validate(p.ChangeOptions()); err != nil {
			return err
		}
	}
	if !req.Approved() {
		return change.NotApproved(req.Ticket.State)
	}
	if job.Command != nil && job.Held {
		// No delivery of its own to take (a chat approval): checked now.
		if err := p.checkCommand(job); err != nil {
			return err
		}
	}
	return nil // the guardrail policy once the delivery is taken (checkPolicy)
}

// checkPolicy checks the change against the guardrail policy in force now,
// once its delivery is taken: a sender's retry of a change applied already
// (or SQS's second copy, or a message moved back from the dead-letter
// queue) is answered from the store, and a change whose earlier write's
// answer was lost is settled first (attempt.go), rather than refused with
// "nothing was changed" by a policy narrowed since. A refusal releases the
// delivery (the sender's retry under a wider policy is applied), or keeps
// it as the answer where the job keeps refusals (a dry run's, and the
// worker's without a dead-letter queue). A revert's policy checks each
// restored change (revert.go); the revert's own ticket is held to
// separation of duties here.
func (p *Pipeline) checkPolicy(job *Job) error {
	return p.Check(job.Sender, job.Chat, job.Request)
}

func (p *Pipeline) keyOf(job *Job) (key, fingerprint string) {
	if job.Key != "" {
		return job.Key, job.Fingerprint
	}
	return Key(job.Sender, job.DeliveryID, job.Request)
}

// take takes the job's delivery in the store. It reports done when o is
// already the outcome: a replay, or a refusal (in progress, a mismatch, a
// real delivery whose id was spent on a dry run, the store unavailable). A
// dry run takes its delivery too, so that a captured dry run can never be
// replayed without its (unsigned) flag into a write; a dry run of a
// delivery that was applied gets the real answer. A dry run without a
// delivery id takes nothing: there is no id to spend.
func (p *Pipeline) take(ctx context.Context, job *Job, o *Outcome) (*idempotency.Lease, bool) {
	if !p.Deduplicates() || job.Held || job.DryRun && job.DeliveryID == "" {
		return nil, false
	}
	key, fp := p.keyOf(job)
	lease, err := p.Take(ctx, key, fp, p.Until(ctx))
	if err != nil {
		o.fail(takeRefusal(job.Via, err))
		return nil, true
	}
	r := lease.Replay
	if r == nil {
		o.Taken = true
		return lease, false
	}
	if job.Via == ViaRequest && IsDryRunAnswer(r) && !job.DryRun {
		o.fail(&change.Error{Code: change.CodeConflict, Kind: change.KindDeliveryDryRun,
			Message: "this delivery id was used for a dry run, so it never applies; send the change again as a new delivery (a new delivery id) without the dry-run flag"})
		return nil, true
	}
	o.Replay, o.Status, o.Headers, o.Body, o.Audit = true, r.Status, r.Headers, r.Body, AuditReplayed
	if IsDryRunAnswer(r) {
		o.Planned, o.Audit = true, "planned"
	} else if job.Via == ViaRequest {
		o.After = r.Body // the audit line's after target
	}
	return nil, true
}

// takeRefusal is the refusal of a delivery the store would not hand over,
// in the words of its caller.
func takeRefusal(via Via, err error) error {
	var inProgress *idempotency.InProgressError
	switch {
	case errors.As(err, &inProgress):
		e := &change.Error{Code: change.CodeConflict, Kind: change.KindDeliveryInProgress, RetryAfter: inProgress.RetryAfter,
			Message: "this delivery is being applied by another attempt; retry after Retry-After to get its answer"}
		if via == ViaWorker {
			e.Message, e.Err = "another worker is applying this change", err
		}
		return e
	case errors.Is(err, idempotency.ErrMismatch):
		e := &change.Error{Code: change.CodeConflict, Kind: change.KindDeliveryMismatch,
			Message: "this delivery id was already used for a different decision (sender, ticket, state, requester, approver or change); send a new delivery id for a new decision"}
		switch via {
		case ViaChat:
			e.Message = "this command's delivery id was already used with a different change"
		case ViaWorker:
			e.Message, e.Err = "this delivery id was already applied with a different change", err
		}
		return e
	}
	e := &change.Error{Code: change.CodeUnavailable, Kind: change.KindDedupeUnavailable, RetryAfter: 5 * time.Second,
		Message: "the de-duplication store is unavailable, so nothing was applied; retry later", Err: err}
	if errors.Is(err, idempotency.ErrFull) {
		e.Message = "the embedded de-duplication store is full of deliveries still being applied, so nothing was applied; retry later"
		return e
	}
	switch via {
	case ViaChat:
		e.Message = "the de-duplication store is unavailable, so nothing was queued"
	case ViaWorker:
		e.Message = "the de-duplication store is unavailable, so nothing was applied"
	}
	return e
}

// plan is the dry run: the read, no write. The delivery id stays spent even
// when the plan failed: released, the same captured request sent without
// its flag would apply. The refusal is its answer.
func (p *Pipeline) plan(ctx context.Context, job *Job, lease *idempotency.Lease, o *Outcome) {
	pl, err := p.Plan(ctx, job.Request)
	o.Result, o.Planned = pl.Result, true
	if err != nil {
		p.refuseTaken(ctx, job, lease, err)
		o.fail(err)
		return
	}
	headers := map[string]string{HeaderDryRun: DryRunApplied}
	if pl.Result != nil && pl.Result.RequestID != "" {
		headers[HeaderGraphRequestID] = pl.Result.RequestID
	}
	p.keepDryRun(ctx, lease, idempotency.Response{Status: http.StatusOK, Headers: headers, Body: pl.Body})
	o.Status, o.Headers, o.Body, o.Plan, o.Audit = http.StatusOK, headers, pl.Body, pl.Plan, "planned"
}

// apply is the apply step; the answer is recorded before the caller sends
// it, so a retry that follows the answer finds it. A failure releases the
// delivery, so the sender's retry runs, unless the job keeps refusals.
func (p *Pipeline) apply(ctx context.Context, job *Job, lease *idempotency.Lease, o *Outcome) {
	if job.Scheduled {
		// A change that waited for its window, and a revert of its
		// ticket, take turns (the ticket's lock): the revert either finds
		// it applied (and puts it back) or has recorded its
		// cancellation, seen here.
		tk := ticketRef{job.Sender, job.Request.Ticket.ID}
		unlock, err := p.lock(ctx, tk.lockKey(), "a revert of ticket "+tk.ticket)
		if err == nil {
			defer unlock()
			err = p.checkNotCanceled(ctx, job)
		}
		if err != nil {
			p.refuseTaken(ctx, job, lease, err)
			o.fail(err)
			return
		}
	}
	if job.ExpectBefore != nil {
		found, err := p.unchanged(ctx, job)
		if err != nil {
			p.refuseTaken(ctx, job, lease, err)
			o.fail(err)
			return
		}
		if found != nil {
			if job.AttemptedBy != "" {
				// The write found applied is the earlier approver's.
				req := *job.Request
				req.Ticket.ApprovedBy, req.Ticket.ApprovedByID = job.AttemptedBy, job.AttemptedByID
				job.Request = &req
			}
			p.answerApplied(ctx, job, lease, found, o, p.opts.Dedupe.CompletedTTL)
			return
		}
	}
	var note []byte // kept before the write (attempt.go)
	var carried []byte
	if lease != nil {
		carried = lease.Attempt // as it was, for a failure that sent nothing
	}
	a, err := p.applyGated(ctx, job.Request, job.RequestID, gate{
		note:  func(wr *written) (err error) { note, err = p.noteBefore(ctx, lease, wr); return err },
		check: func() error { return p.stillOpen(job) },
	})
	o.Result, o.Before, o.GraphTime, o.WriteBack = a.Result, a.Before, a.GraphTime, true
	if err != nil {
		if mayHaveWritten(err) {
			// Told as unknown, never as not applied; the note kept for
			// the retry (attempt.go).
			err = change.Mark(err, change.ErrOutcomeUnknown)
			if lease != nil {
				p.giveUpUnknown(ctx, lease, note, a)
			}
		} else if lease != nil {
			if carried != nil {
				lease.Attempt = carried // this attempt sent nothing: the note as it was
			}
			p.refuseTaken(ctx, job, lease, err)
		}
		o.fail(err)
		return
	}
	p.answerApplied(ctx, job, lease, a, o, p.opts.Dedupe.CompletedTTL)
}

// answerApplied answers o with a, the change as Graph holds it. The answer
// is kept for retries first (for ttl): it is what keeps the change from
// being applied twice, and the change record's writes (best effort,
// retried) must not use up the time it needs. Then the change is recorded.
func (p *Pipeline) answerApplied(ctx context.Context, job *Job, lease *idempotency.Lease, a *Applied, o *Outcome, ttl time.Duration) {
	p.completeFor(ctx, lease, idempotency.Response{Status: http.StatusOK, Headers: a.Headers, Body: a.Body}, ttl)
	p.recordChange(ctx, job, a)
	o.Result, o.Before, o.WriteBack = a.Result, a.Before, true
	o.Status, o.Headers, o.Body, o.After, o.Audit = http.StatusOK, a.Headers, a.Body, a.Body, AuditApplied
}

// earlierAttempt marks the failure of a chat approval whose earlier
// approval's write had no clear answer (Job.Attempted) as an unknown
// outcome: this attempt may have changed nothing, but that write may have
// landed, so nobody is told the change was not applied.
func earlierAttempt(o *Outcome) {
	if o.Err != nil && !change.OutcomeUnknown(o.Err) {
		o.Err = earlierUnknown(o.Err)
	}
}

// maxEarlyWait is how long a change arriving before its window (Scheduled)
// is waited for rather than sent back to its queue; earlyHeadroom the time
// the invocation must have left after the wait, for the locks, the write
// slot and Graph.
const (
	maxEarlyWait  = time.Minute
	earlyHeadroom = 5 * time.Second
)

// waitFor waits until the pipeline's clock reads at, if that is within
// maxEarlyWait and before ctx's deadline less the margin; it reports
// whether it did.
func (p *Pipeline) waitFor(ctx context.Context, at time.Time) bool {
	d := at.Sub(p.now())
	if d > maxEarlyWait {
		return false
	}
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline)-p.opts.Deadlines.Margin < d+earlyHeadroom {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// stillOpen checks the change window again at the write: a change that
// waited for a write slot (or a lock) past the window's end is refused
// there, as outside-change-window, with nothing written.
func (p *Pipeline) stillOpen(job *Job) error {
	_, err := p.checkWindow(job, p.now())
	if ce, ok := errors.AsType[*change.Error](err); ok {
		e := *ce
		e.Message += " (it closed while the change waited to be written)"
		err = &e
	}
	return err
}

// unchanged refuses a planned change when Graph no longer holds the
// assignment it was planned on (Job.ExpectBefore). When Graph holds what
// the change makes and an earlier approval's write of it had no clear
// answer (Job.Attempted), it returns the change as applied by that write.
func (p *Pipeline) unchanged(ctx context.Context, job *Job) (*Applied, error) {
	current, res, err := p.current(ctx, job.Request)
	if err != nil {
		return nil, noWrite(err)
	}
	changes, err := graph.Changes(job.ExpectBefore, current)
	planned := err == nil && len(changes) == 0
	inEffect := graph.InEffect(current, job.Request, p.beta())
	if !job.Attempted.IsZero() && (planned || inEffect) {
		// After an earlier approval's write without a clear answer, a
		// change recorded since may have set the assignment back over that
		// write, or made what this change makes by its own doing.
		since, err := p.changedSince(ctx, job, &attemptNote{Prior: job.ExpectBefore, Time: job.Attempted})
		if err != nil {
			return nil, recordUnavailable(err)
		}
		if since != nil {
			return nil, &change.Error{Code: change.CodeConflict, Kind: change.KindDrifted, Message: fmt.Sprintf(
				"an earlier approval sent this change to Graph without a clear answer, and change %s of ticket %s was applied to assignment %s of configuration %s since (at %s); nothing was written or recorded: check with history and show, and if this change is still wanted, ask for it again",
				since.ID, since.Ticket.ID, job.Request.AssignmentID, job.Request.ConfigurationID, since.Time.UTC().Format(time.RFC3339))}
		}
	}
	switch {
	case planned:
		return nil, nil
	case inEffect && !job.Attempted.IsZero():
		p.log.InfoContext(ctx, "an earlier approval of this request had applied the change; answered and recorded without writing again",
			slog.String("xRequestId", job.RequestID))
		return p.foundApplied(res, current, job.ExpectBefore, job.Attempted), nil
	case inEffect:
		return nil, &change.Error{Code: change.CodeConflict, Kind: change.KindDrifted, Message: fmt.Sprintf(
			"assignment %s of configuration %s already is what this change makes of it (now %s): an earlier approval whose answer was lost may have applied it, or another change did the same; nothing was written",
			job.Request.AssignmentID, job.Request.ConfigurationID, compact(graph.TargetOf(current)))}
	}
	return nil, &change.Error{Code: change.CodeConflict, Kind: change.KindDrifted, Message: fmt.Sprintf(
		"assignment %s of configuration %s changed since the change was planned: planned on %s, now %s; nothing was changed: plan it again and ask again",
		job.Request.AssignmentID, job.Request.ConfigurationID, compact(graph.TargetOf(job.ExpectBefore)), compact(graph.TargetOf(current)))}
}

// refuseTaken settles a taken delivery that failed: a dry run's id stays
// spent with its refusal (released, the same captured request sent without
// its flag would apply); a job that keeps refusals keeps one that will not
// pass on a retry, so a redelivered copy does not reach Graph again; any
// other failure releases the delivery, so the sender's retry runs.
func (p *Pipeline) refuseTaken(ctx context.Context, job *Job, lease *idempotency.Lease, err error) {
	if lease == nil {
		return
	}
	switch {
	case job.DryRun:
		prob, _ := ProblemFor(err, job.RequestID)
		if body, merr := json.Marshal(prob); merr == nil {
			p.keepDryRun(ctx, lease, idempotency.Response{Status: prob.Status, Body: body,
				Headers: map[string]string{HeaderDryRun: DryRunApplied, "Content-Type": "application/problem+json"}})
		}
	case job.KeepRefusals && !Retryable(err):
		p.keepRefusal(ctx, job, lease, err)
	default:
		p.Release(ctx, lease)
	}
}

// keepDryRun keeps a dry run's answer as its delivery's, which spends the
// delivery id on the plan; but a delivery an earlier real attempt gave up
// with a note (its write's answer lost) is not spent on a plan: it goes
// back with the note, for the sender's real retry.
func (p *Pipeline) keepDryRun(ctx context.Context, lease *idempotency.Lease, resp idempotency.Response) {
	if lease != nil && lease.Attempt != nil {
		p.Release(ctx, lease)
		return
	}
	p.Complete(ctx, lease, resp)
}

// keepRefusal keeps the refusal err as the answer of the delivery of lease.
func (p *Pipeline) keepRefusal(ctx context.Context, job *Job, lease *idempotency.Lease, err error) {
	p.keepRefusalFor(ctx, job, lease, err, p.opts.Dedupe.CompletedTTL)
}

// keepRefusalFor is keepRefusal, the refusal kept for ttl.
func (p *Pipeline) keepRefusalFor(ctx context.Context, job *Job, lease *idempotency.Lease, err error, ttl time.Duration) {
	prob, _ := ProblemFor(err, job.RequestID)
	body, _ := json.Marshal(prob)
	p.completeFor(ctx, lease, idempotency.Response{Status: prob.Status, Body: body,
		Headers: map[string]string{"Content-Type": "application/problem+json"}}, ttl)
}

// Job is the job o is the outcome of.
func (o *Outcome) Job() *Job { return &o.job }

func (o *Outcome) fail(err error) {
	if o.job.DryRun {
		// A dry run reads and never writes: whatever stopped it, nothing
		// was sent that could change Intune (refused or failed, never
		// unknown). Its line still counts towards the alarms: a chat
		// request is a dry run, and with Graph down none would be made.
		err = noWrite(err)
	}
	o.Err, o.Audit = err, FailedOutcome(err)
}

// Finish writes the outcome's audit line (none for a planned dry run or
// an empty Audit) and then, when WriteBack is set, posts it to the ticket: the
// caller calls it once it has sent its answer, so that the write-back
// never delays the answer. The write-back is bounded by the job's
// deadline when ctx has none.
func (p *Pipeline) Finish(ctx context.Context, o *Outcome) {
	job := &o.job
	if o.Audit != "" {
		p.Audit(ctx, &Entry{RequestID: job.RequestID, DeliveryID: job.DeliveryID, Sender: job.Sender, Request: job.Request,
			Before: o.Before, After: o.After, Result: o.Result, Outcome: o.Audit, Reason: Slug(o.Err),
			Start: job.Start, GraphTime: o.GraphTime})
	}
	if !o.WriteBack || !p.writesBack(job.Sender, job.Request) {
		return
	}
	if _, has := ctx.Deadline(); !has && !o.deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, o.deadline)
		defer cancel()
	}
	p.WriteBack(ctx, job.Sender, job.RequestID, job.Request, o.Result, o.Err)
}
