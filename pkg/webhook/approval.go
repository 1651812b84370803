package webhook

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/chat"
	"github.com/enrollhook/enrollhook/pkg/chatrequest"
	"github.com/enrollhook/enrollhook/pkg/graph"
)

// Requests keeps the chat requests that wait for a second person
// (pkg/chatrequest): an assign the policy wants another user to approve.
type Requests interface {
	Create(ctx context.Context, r *chatrequest.Request) error
	Get(ctx context.Context, id string) (*chatrequest.Request, error)
	Decide(ctx context.Context, id, to, by, byName string) (*chatrequest.Request, error)
	Reopen(ctx context.Context, id, by string, decided, attempted time.Time, recordID string) (*chatrequest.Request, error)
	Finish(ctx context.Context, id, by string, decided time.Time) (*chatrequest.Request, error)
	Retake(ctx context.Context, id, by string, decided time.Time) (*chatrequest.Request, error)
}

// secondPerson reports whether inv's change (an assign or a revert)
// becomes a request.
func (h *Handler) secondPerson(name string, inv *chat.Invocation) bool {
	return inv.Command != nil && (inv.Command.Verb == chat.VerbAssign || inv.Command.Verb == chat.VerbRevert) &&
		h.opts.Requests != nil && h.pipe.SecondPerson(name, string(inv.Command.Verb))
}

// requested is what a request keeps of its change: the change, and for a
// revert what it names (apply.Job.RevertOf).
type requested struct {
	Request  *change.Request `json:"request"`
	RevertOf string          `json:"revertOf,omitempty"`
	// Configurations are those a revert puts back changes of, or cancels
	// scheduled changes of (its plan): its approver must be one of each.
	Configurations []string `json:"configurations,omitempty"`
	// Plan is a revert's plan: its approval puts back and cancels only
	// what it names (apply.Job.Approved).
	Plan *apply.RevertPlan `json:"plan,omitempty"`
}

// configurations are the configurations a request changes: its own, or a
// revert's planned ones.
func (q *requested) configurations(r *chatrequest.Request) []string {
	if q.Request != nil && q.Request.Reverts() {
		return q.Configurations
	}
	return []string{r.ConfigurationID}
}

// request plans an assign and keeps it as a request for a second person:
// the same checks as the change (validation done, approval, the policy,
// the window), a dry run's read, then the request with the plan's before,
// answered with its id and the Approve and Reject actions.
func (h *Handler) request(ctx context.Context, inv *chat.Invocation, job *apply.Job, reqID string) chatOutcome {
	cmd := inv.Command
	job.DryRun = true
	o := h.pipe.Run(ctx, job)
	out := chatOutcome{result: o.Result, err: o.Err, o: &o}
	switch {
	case o.Err != nil:
		out.reply = notDone(inv, cmd, o.Err, reqID)
		return out
	}
	o.Audit = "" // a request changes nothing and decides nothing yet
	keep := requested{Request: job.Request, RevertOf: job.RevertOf}
	if job.Request.Reverts() {
		if o.Reverted == nil {
			out.err = &change.Error{Code: change.CodeInternal, Message: "the revert's plan could not be read"}
			out.reply = chat.Failed(cmd, out.err, reqID)
			return out
		}
		plan := o.Reverted.Plan()
		keep.Plan, keep.Configurations = &plan, o.Reverted.Configurations()
	}
	keptJSON, _ := json.Marshal(keep)
	var random [chat.RequestIDLength]byte
	_, _ = rand.Read(random[:])
	r := &chatrequest.Request{ID: chat.NewRequestID(random[:]), Sender: inv.Sender, Tenant: inv.Tenant, RequestedBy: inv.User,
		RequestedByOther: inv.OtherUser, RequestedByName: inv.Actor(), ConfigurationID: job.Request.ConfigurationID, AssignmentID: job.Request.AssignmentID,
		Change: keptJSON}
	if o.Plan != nil {
		r.Before = o.Plan.Before
	}
	if inv.CanFollowUp {
		r.ResponseURL = inv.ResponseURL
	}
	if err := h.opts.Requests.Create(ctx, r); err != nil {
		out.err = storeUnavailable(err)
		out.reply = chat.Failed(cmd, out.err, reqID)
		return out
	}
	// The first line of the request's story: who asked, for what, when.
	asked := *job.Request
	asked.Ticket = change.Ticket{ID: r.ID, System: inv.Sender, State: "requested", RequestedBy: inv.Actor(), RequestedByID: inv.User}
	entry := &apply.Entry{RequestID: reqID, DeliveryID: job.DeliveryID, Sender: job.Sender, Request: &asked,
		Outcome: apply.AuditRequested, Start: job.Start}
	if o.Plan != nil {
		entry.Before, entry.After = graphTarget(o.Plan.Before), o.Plan.After
	}
	h.pipe.Audit(ctx, entry)
	expires := r.Expires.UTC().Format(time.RFC3339)
	if job.Request.Reverts() {
		// The revert's plan (what each change would be put back to) is
		// read again when it is approved: the drift check is the revert's.
		out.reply = chat.RevertRequested(inv, r.ID, job.RevertOf, expires, revertedChanges(o.Reverted), o.Reverted.Canceled)
		return out
	}
	out.reply = chat.Requested(inv, job.Request, r.ID, o.Plan.Before, o.Plan.After, expires)
	return out
}

// decide runs approve or reject of a request: it must exist, be pending
// and not expired; the requester never approves (stable user ids); the
// approver must be one the policy names for the configuration. An approval
// is decided once (concurrent ones: one wins) and then applied through the
// pipeline with requester and approver recorded, only if Graph still holds
// what the plan read. The outcome also goes to the request's own
// conversation, where the sender can take it.
func (h *Handler) decide(ctx context.Context, rp Replier, inv *chat.Invocation, name, deliveryID, reqID string, start time.Time) chatOutcome {
	cmd := inv.Command
	fail := func(err error) chatOutcome { return chatOutcome{reply: chat.Failed(cmd, err, reqID), err: err} }
	if h.opts.Requests == nil {
		return fail(&change.Error{Code: change.CodeNotFound, Message: "there is no request " + cmd.Ref + ": this receiver keeps no chat requests"})
	}
	r, err := h.opts.Requests.Get(ctx, cmd.Ref)
	switch {
	case errors.Is(err, chatrequest.ErrNotFound):
		return fail(&change.Error{Code: change.CodeNotFound, Message: "there is no request " + cmd.Ref})
	case errors.Is(err, chatrequest.ErrExpired):
		return withAttempt(fail(&change.Error{Code: change.CodeConflict, Message: "request " + cmd.Ref + " has expired; ask for the change again"}), r)
	case err != nil:
		return fail(storeUnavailable(err))
	case r.Sender != name || !strings.EqualFold(r.Tenant, inv.Tenant):
		return fail(&change.Error{Code: change.CodeNotFound, Message: "there is no request " + cmd.Ref + " in this workspace"})
	}
	to := chatrequest.StateApproved
	if cmd.Verb == chat.VerbReject {
		to = chatrequest.StateRejected
	}
	var kept requested
	if err := json.Unmarshal(r.Change, &kept); err != nil || kept.Request == nil {
		return fail(&change.Error{Code: change.CodeInternal, Message: "the request could not be read", Err: err})
	}
	if to == chatrequest.StateApproved && kept.Request.Reverts() && kept.Plan == nil {
		return withAttempt(fail(&change.Error{Code: change.CodeConflict, Kind: change.KindDrifted,
			Message: "request " + r.ID + " was asked before an approval was bound to its plan; nothing was changed; ask for the revert again"}), r)
	}
	self := sameRequester(name, r, inv)
	if to == chatrequest.StateApproved && self {
		return withAttempt(chatOutcome{reply: policyRefused(inv, change.Refuse(change.KindPolicySeparationOfDuties,
			"you asked for this change, so you cannot approve it: another person the policy names must")), err: errSelfApproval}, r)
	}
	if !self {
		// The requester may withdraw (reject) their own request; anyone
		// else must be an approver of every configuration it changes.
		cfgs := kept.configurations(r)
		for _, c := range cfgs {
			if !h.pipe.MayApprove(name, inv.User, c) {
				return withAttempt(chatOutcome{reply: policyRefused(inv, change.Refuse(change.KindPolicyCommand,
					"the policy does not name you among the approvers of configuration "+c)), err: errNotApprover}, r)
			}
		}
		if len(cfgs) == 0 {
			return chatOutcome{reply: policyRefused(inv, change.Refuse(change.KindPolicyCommand,
				"the request names no configuration to approve")), err: errNotApprover}
		}
	}
	if to == chatrequest.StateApproved {
		// The requester must still be on the sender's allow-list: an
		// administrator may have removed them since they asked. Told
		// only to an approver of the request.
		if err := rp.Allowed(r.Tenant, r.RequestedBy, r.RequestedByOther); err != nil {
			return withAttempt(chatOutcome{err: errRequesterDenied, reply: &chat.Reply{Status: chat.StatusRefused, Lines: []string{
				"Refused, nothing was changed: the requester of " + r.ID + " (" + r.RequestedByName + ") is no longer allowed to run enrollhook commands.",
				"Request " + r.ID + " stays open: reject it, or ask an administrator to allow the requester again."}}}, r)
		}
	}
	d, err := h.opts.Requests.Decide(ctx, r.ID, to, inv.User, inv.Actor())
	var took *chatrequest.Request // an approval that never finished, this one takes over
	if to == chatrequest.StateApproved && errors.Is(err, chatrequest.ErrDecided) && abandoned(d) && !kept.Request.Reverts() {
		// An approval of this request that recorded its change finished,
		// its mark lost (frozen just before it): marked now, never run
		// again. Any record of the request's ticket counts, whatever its
		// time (a change found applied is recorded at its attempt's).
		recorded, known, rerr := h.pipe.RecordedSince(ctx, name, d.ID, time.Time{})
		switch {
		case rerr != nil:
			return fail(storeUnavailable(rerr))
		case !known:
			// Without a change record nobody can tell: not taken over.
		case recorded:
			if _, err := h.opts.Requests.Finish(ctx, d.ID, d.DecidedBy, d.Decided); err != nil {
				h.log.WarnContext(ctx, "the finished approval could not be marked finished", slog.String("request", d.ID), apply.Cause(err))
			}
			return fail(&change.Error{Code: change.CodeConflict, Message: "request " + r.ID + " was approved already, by " + d.DecidedByName +
				", and its change is recorded (`history`)"})
		default:
			// Only the decision seen, unfinished and unexpired, is
			// retaken: of two approvals taking over at once, one does.
			back, rerr := h.opts.Requests.Retake(ctx, d.ID, d.DecidedBy, d.Decided)
			switch {
			case rerr == nil:
				took, r = d, back
				d, err = h.opts.Requests.Decide(ctx, r.ID, to, inv.User, inv.Actor())
			case errors.Is(rerr, chatrequest.ErrExpired):
				return fail(&change.Error{Code: change.CodeConflict, Message: "request " + r.ID + " was approved by " + d.DecidedByName + " at " +
					d.Decided.UTC().Format(time.RFC3339) + ", but that approval never finished and the request has expired since: " +
					"if its change is not in Intune (`show`), ask for it again"})
			case errors.Is(rerr, chatrequest.ErrDecided):
				// Another approval took it over first: say whose; or, not
				// decided again yet, decide it (the attempt is on it).
				if cur, gerr := h.opts.Requests.Get(ctx, d.ID); gerr == nil {
					d = cur
					if cur.State == chatrequest.StatePending {
						r = cur
						d, err = h.opts.Requests.Decide(ctx, r.ID, to, inv.User, inv.Actor())
					}
				}
			default:
				return fail(storeUnavailable(rerr))
			}
		}
	}
	switch {
	case errors.Is(err, chatrequest.ErrDecided):
		msg := "request " + r.ID + " was " + d.State + " already, by " + d.DecidedByName
		if d.State == chatrequest.StateApproved && to == chatrequest.StateApproved && d.Finished.IsZero() && time.Since(d.Decided) < approvalLife {
			// It may still be running; or its sandbox froze before it
			// wrote (abandoned).
			if after := d.Decided.Add(approvalLife); kept.Request.Reverts() {
				msg += "; if it has not put the changes back by " + after.UTC().Format(time.RFC3339) + " (`history`), ask for the revert again"
			} else if after.Before(d.Expires) {
				msg += "; if its change is not in Intune (`show`), that approval may not have finished: approve it again after " +
					after.UTC().Format(time.RFC3339)
			} else {
				msg += "; if its change is not in Intune (`show`) by " + after.UTC().Format(time.RFC3339) +
					", that approval did not finish: ask for the change again"
			}
		}
		return withAttempt(fail(&change.Error{Code: change.CodeConflict, Message: msg}), d)
	case errors.Is(err, chatrequest.ErrExpired):
		// Retaken just before it expired, its attempt may have landed.
		return withAttempt(fail(&change.Error{Code: change.CodeConflict, Message: "request " + r.ID + " has expired; ask for the change again"}), r)
	case err != nil:
		return fail(storeUnavailable(err))
	}
	if to == chatrequest.StateRejected {
		rejected := *kept.Request
		rejected.Ticket = change.Ticket{ID: r.ID, System: name, State: "rejected", RequestedBy: r.RequestedByName, RequestedByID: r.RequestedBy,
			ApprovedBy: inv.Actor(), ApprovedByID: inv.User}
		h.pipe.Audit(ctx, &apply.Entry{RequestID: reqID, DeliveryID: deliveryID, Sender: name, Request: &rejected,
			Outcome: apply.AuditRejected, Start: start})
		out := chatOutcome{reply: chat.RequestRejected(inv, r.ID, r.RequestedByName, r.Attempted, r.AttemptedByName)}
		h.tellRequester(rp, r, out.reply)
		return out
	}
	req := *kept.Request
	req.Ticket = change.Ticket{ID: r.ID, System: name, State: change.ApprovedState, RequestedBy: r.RequestedByName,
		RequestedByID: r.RequestedBy, ApprovedBy: inv.Actor(), ApprovedByID: inv.User}
	// The requester must still be let run the command: the policy may
	// have narrowed since the request was asked.
	verb := chat.VerbAssign
	if req.Reverts() {
		verb = chat.VerbRevert
	}
	job := &apply.Job{Sender: name, DeliveryID: deliveryID, RequestID: reqID, Request: &req, Start: start,
		Via: apply.ViaChat, Chat: true, Held: true, RevertOf: kept.RevertOf,
		Command: &apply.Command{Tenant: r.Tenant, User: r.RequestedBy, Verb: string(verb), Approver: inv.User}}
	job.Attempted, job.AttemptedBy, job.AttemptedByID, job.AttemptedIDs = r.Attempted, r.AttemptedByName, r.AttemptedBy, r.AttemptedIDs
	if req.Reverts() {
		job.Approved = kept.Plan
	} else {
		job.ExpectBefore = r.Before
	}
	if took != nil {
		h.log.WarnContext(ctx, "an approval that never finished is taken over", slog.String("request", r.ID),
			slog.String("approvedBy", took.DecidedByName), slog.Time("approved", took.Decided), slog.String("xRequestId", reqID))
	}
	o := h.pipe.Run(ctx, job)
	out := chatOutcome{result: o.Result, err: o.Err, o: &o}
	switch {
	case o.Err != nil:
		out.reply = notDone(inv, cmd, o.Err, reqID)
		// Not lost, and not "approved" when nothing was applied: the
		// request is open again until it expires, to be approved again
		// (the drift check keeps a change whose outcome was unknown from
		// being written twice) or rejected.
		var attempted time.Time // the write went out: the next approval may find it applied
		if change.OutcomeUnknown(o.Err) {
			attempted = start // before the write: changes recorded after it are newer
		}
		var recorded string // what this approval recorded (a revert's steps) is the request's own
		if change.OutcomeUnknown(o.Err) || errors.Is(o.Err, change.ErrPartlyApplied) {
			recorded = h.pipe.RecordID(job)
		}
		back, err := h.opts.Requests.Reopen(ctx, r.ID, inv.User, d.Decided, attempted, recorded)
		switch {
		case err == nil:
			again := "approve it again once that is solved, or reject it."
			if apply.Retryable(o.Err) {
				again = "approve it again to retry."
			}
			out.reply.Lines = append(out.reply.Lines, "Request "+r.ID+" is open again: "+again)
		case errors.Is(err, chatrequest.ErrDecided) && back != nil && !(back.State == chatrequest.StateApproved && back.DecidedBy == inv.User && back.Decided.Equal(d.Decided)):
			// Taken over while this approval was frozen (approvalLife):
			// what it would say is stale, and the requester is not told.
			out.reply = &chat.Reply{Status: chat.StatusFailed, Lines: []string{"This approval of request " + r.ID +
				" did not finish in time, and another approval has taken its place since: the outcome is that one's (check with `show`)."}}
			return out
		}
	case req.Reverts():
		out.reply = chat.ApprovedReverted(inv, r.ID, r.RequestedByName, kept.RevertOf)
	default:
		out.reply = chat.ApprovedApplied(inv, r.ID, r.RequestedByName, &req, o.Body, o.Result.RequestID)
	}
	if o.Err == nil {
		// Finished: never taken over. A mark that cannot be written (or
		// a process frozen before it) leaves the request unmarked: past
		// approvalLife the next approve finds its change recorded and
		// marks it then, running nothing.
		if _, err := h.opts.Requests.Finish(ctx, r.ID, inv.User, d.Decided); err != nil {
			h.log.WarnContext(ctx, "the finished approval could not be marked finished", slog.String("request", r.ID), apply.Cause(err))
		}
	}
	if took != nil && out.reply != nil {
		out.reply.Lines = append(out.reply.Lines, "The approval of "+took.DecidedByName+" at "+took.Decided.UTC().Format(time.RFC3339)+
			" never finished, so this approval took its place (had a write of an earlier approval landed, that write is the one in Intune, and it is recorded as that approval's).")
	}
	h.tellRequester(rp, r, out.reply)
	return out
}

// tellRequester posts a decision's outcome to the request's own
// conversation (Slack's response_url of the request command), best
// effort, before the decision is answered (Lambda freezes what runs after)
// and bounded; Slack takes a response_url for 30 minutes only.
func (h *Handler) tellRequester(rp Replier, r *chatrequest.Request, reply *chat.Reply) {
	if r.ResponseURL == "" || time.Since(r.Created) > responseURLLife {
		return
	}
	inv := &chat.Invocation{Sender: r.Sender, Tenant: r.Tenant, User: r.RequestedBy, ResponseURL: r.ResponseURL, CanFollowUp: true}
	ctx, cancel := context.WithTimeout(context.Background(), pressPostTimeout)
	defer cancel()
	if err := rp.FollowUp(ctx, inv, reply); err != nil {
		h.log.Warn("the request's conversation could not be told the outcome", slog.String("request", r.ID), apply.Cause(err))
	}
}

// responseURLLife is how long Slack takes posts to a command's
// response_url.
const responseURLLife = 30 * time.Minute

// sameRequester reports whether inv's user asked for r: any id the sender
// gave for one (Teams: the Entra object id and the 29: id) is one of the
// other's.
func sameRequester(sender string, r *chatrequest.Request, inv *chat.Invocation) bool {
	for _, a := range []string{r.RequestedBy, r.RequestedByOther} {
		for _, b := range []string{inv.User, inv.OtherUser} {
			if a != "" && b != "" && sameUser(sender, a, b) {
				return true
			}
		}
	}
	return false
}

// sameUser compares two user ids of a chat sender: Slack's exactly,
// Teams' (Entra object ids) without regard to case.
func sameUser(sender, a, b string) bool {
	if sender == "teams" {
		return strings.EqualFold(a, b)
	}
	return a == b
}

// approvalLife bounds the work of one approval: it runs in its invoke,
// and no Lambda invoke lasts longer than 15 minutes (the local server's
// bound is shorter). An approval still "approved" past it and not marked
// finished never finished: its sandbox was frozen after the "still
// working" answer and never thawed (or its finish could not be marked).
// It can no longer write (its deadline has passed: the Graph and AWS
// clients send nothing after it), so another approval may take its place.
const approvalLife = 16 * time.Minute

// abandoned reports whether d, a request another approval decided, is an
// approval that never finished: approved, not marked finished, and decided
// longer than approvalLife ago (the store's Retake checks it again, with
// the expiry).
func abandoned(d *chatrequest.Request) bool {
	return d != nil && d.State == chatrequest.StateApproved && d.Finished.IsZero() && time.Since(d.Decided) >= approvalLife
}

// withAttempt adds to out, a refusal of request r before anything ran,
// that an earlier approval of r sent its change to Graph without a clear
// answer (Request.Attempted), so the change may be in Intune all the same.
func withAttempt(out chatOutcome, r *chatrequest.Request) chatOutcome {
	if r == nil || r.Attempted.IsZero() || out.reply == nil {
		return out
	}
	out.reply.Lines = append(out.reply.Lines, "But an earlier approval of request "+r.ID+" (at "+r.Attempted.UTC().Format(time.RFC3339)+
		") "+chat.MayHaveSent+".")
	return out
}

// storeUnavailable is the refusal when the request store fails: the
// change record's table keeps the requests (record-unavailable, not
// graph-unavailable, which counts towards the Graph alarm).
func storeUnavailable(err error) error {
	return &change.Error{Code: change.CodeUnavailable, Kind: change.KindRecordUnavailable, RetryAfter: 5 * time.Second,
		Message: "the request store (the change record's table) is unavailable, so nothing was done; try again later", Err: err}
}

var (
	errSelfApproval = change.Refuse(change.KindPolicySeparationOfDuties, "the requester cannot approve their own request")
	errNotApprover  = change.Refuse(change.KindPolicyCommand, "not an approver of this configuration")
	// errRequesterDenied: the requester left the sender's allow-list.
	errRequesterDenied = change.Refuse(change.KindPolicyCommand, "the requester may no longer run commands")
)

// graphTarget is the target of an assignment as Graph holds it, for an
// audit line's before.
func graphTarget(assignment json.RawMessage) json.RawMessage { return graph.TargetOf(assignment) }
