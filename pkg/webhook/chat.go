package webhook

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/chat"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	changerecord "github.com/enrollhook/enrollhook/pkg/record"
	"github.com/enrollhook/enrollhook/pkg/source"
)

// Replier is implemented by senders whose deliveries are chat commands
// (Slack, Teams). The handler authenticates them like any sender, then
// answers in the sender's own message format instead of the assignment or
// a problem: a chat user sees "done", "refused" or usage help, and the
// chat service always gets its 200. Authentication failures, an unreadable
// body and a wrong media type remain problem+json.
type Replier interface {
	Source
	// Invocation reads the authenticated delivery, as Authenticate parsed
	// it. Errors are *change.Error with CodeMediaType or CodeMalformed.
	Invocation(h http.Header, d source.Delivery) (*chat.Invocation, error)
	// Reply renders r: the Content-Type and body of a 200 answer.
	Reply(inv *chat.Invocation, r *chat.Reply) (contentType string, body []byte)
	// AnswerWithin is how long the handler may work before it must answer
	// (the sender's deadline less a margin for the network).
	AnswerWithin() time.Duration
	// FollowUp delivers a reply after the answer, when the Graph call
	// outlived AnswerWithin; chat.ErrNoFollowUp when the sender has no
	// way to receive one.
	FollowUp(ctx context.Context, inv *chat.Invocation, r *chat.Reply) error
	// Allowed is the sender's allow-list: nil when one of ids may run
	// commands in tenant, else a *chat.Refusal (an approval checks the
	// requester again with it).
	Allowed(tenant string, ids ...string) error
}

// chatWork tracks commands still running after their answer.
type chatWork struct{ wg sync.WaitGroup }

// Wait blocks until every chat command still running after its answer has
// finished and posted its follow-up, or ctx ends. The local server calls it
// on shutdown; tests call it before they look.
func (h *Handler) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { h.chat.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// chatOutcome is what a command's work produced.
type chatOutcome struct {
	reply  *chat.Reply
	result *graph.Result
	err    error
	o      *apply.Outcome // the pipeline's outcome of an assign or plan
}

// handleChat runs an authenticated chat command: refuse a user who is not
// allowed, help, usage, show or assign, and answers with a 200 in the
// sender's format. A Graph call that has not finished by AnswerWithin is
// answered "still working" and finishes in the background; its outcome is
// posted with FollowUp where the sender allows.
//
// On Lambda the background cannot be relied on: the sandbox is frozen once
// the answer is returned, so the Graph call (usually already sent) and the
// follow-up resume only if the same sandbox serves another invoke, by which
// time the invoke deadline has passed and the call reports out-of-time; the
// follow-up then says the outcome is unknown. docs/senders/chat.md says so.
func (h *Handler) handleChat(w http.ResponseWriter, r *http.Request, name string, rp Replier, d source.Delivery, start time.Time) {
	deliveryID, body := d.ID, d.Body
	inv, err := rp.Invocation(r.Header, d)
	if err != nil {
		h.refuse(w, r, name, deliveryID, start, err)
		return
	}
	inv.Received = start
	if inv.DeliveryID == "" {
		// No usable delivery id from the sender: the request id names the
		// command in the audit trail instead.
		inv.DeliveryID = w.Header().Get(HeaderRequestID)
	}
	rec := chatRecord{requestID: w.Header().Get(HeaderRequestID), method: r.Method, route: routeOf(r),
		source: name, deliveryID: deliveryID, inv: inv}
	if p, ok := rp.(interface{ Pressed(source.Delivery) bool }); ok {
		rec.pressed = p.Pressed(d)
	}
	if h.chatDedupe(w, r, rp, &rec, body, start) {
		return
	}
	switch {
	case inv.Denied != nil:
		h.chatAnswer(w, r, rp, &rec, chat.Refused(inv), start)
		return
	case inv.ParseErr != nil || inv.Command == nil:
		h.chatAnswer(w, r, rp, &rec, chat.Usage(inv.Prefix, inv.ParseErr), start)
		return
	case inv.Command.Verb == chat.VerbHelp:
		h.chatAnswer(w, r, rp, &rec, chat.Help(inv.Prefix), start)
		return
	}
	if wantsDryRun(r) {
		switch inv.Command.Verb {
		case chat.VerbAssign:
			inv.Command.Verb = chat.VerbPlan // a dry run asked for on the URL
		case chat.VerbRevert, chat.VerbApprove, chat.VerbReject:
			// No dry run of these: refused rather than done for real.
			h.chatAnswer(w, r, rp, &rec, chat.Usage(inv.Prefix, &chat.ParseError{Reason: string(inv.Command.Verb) + " has no dry run"}), start)
			return
		}
	}
	// The policy narrows the sender's allow-list per command (the rights it
	// names cover plan and revert with assign, history with show:
	// policy.CheckCommand).
	verb := inv.Command.Verb
	switch verb {
	case chat.VerbApprove, chat.VerbReject:
		// Approvers read the plan they approve; who may approve what is
		// the policy's approvers (approval.go).
		verb = chat.VerbShow
	}
	if err := h.pipe.CheckCommand(name, inv.Tenant, inv.User, string(verb)); err != nil {
		rec.err = err
		h.chatAnswer(w, r, rp, &rec, policyRefused(inv, err), start)
		return
	}
	var req *change.Request
	if inv.Command.Verb == chat.VerbAssign || inv.Command.Verb == chat.VerbPlan || inv.Command.Verb == chat.VerbRevert {
		if req, err = inv.Request(h.pipe.ChangeOptions()); err != nil {
			h.chatAnswer(w, r, rp, &rec, chat.Invalid(err), start)
			return
		}
		rec.req = req
		if h.async[name] && inv.Command.Verb == chat.VerbAssign && !h.secondPerson(name, inv) {
			// A plan is never queued: it reads and answers in the request.
			h.chatEnqueue(w, r, rp, &rec, start) // async.go
			return
		}
	}
	var job *apply.Job
	if req != nil {
		// The chat command's own record holds the delivery (chatDedupe),
		// completed with its reply: the pipeline takes nothing.
		// A revert runs in the request like a plan: the queue carries
		// changes, not references to the change record.
		job = &apply.Job{Sender: name, DeliveryID: deliveryID, RequestID: rec.requestID, Request: req, Start: start,
			Via: apply.ViaChat, Chat: true, Held: true, DryRun: inv.Command.Verb == chat.VerbPlan, RevertOf: inv.Command.Ref}
	}
	reqID := rec.requestID
	// The work must outlive this request when it runs late: detach it from
	// the request's cancellation but keep the invoke's deadline.
	deadline, has := r.Context().Deadline()
	if !has {
		deadline = start.Add(h.pipe.Timeout())
	}
	ctx, cancel := context.WithDeadline(context.WithoutCancel(r.Context()), deadline)
	// One goroutine does the work and hands its outcome either to this
	// handler (done) or, once the handler has answered "still working"
	// (late closed), to the follow-up.
	done, late := make(chan chatOutcome), make(chan struct{})
	logCtx := context.WithoutCancel(r.Context())
	h.chat.wg.Add(1)
	go func() {
		defer h.chat.wg.Done()
		out := h.runCommand(ctx, rp, inv, job, name, deliveryID, reqID, start)
		cancel()
		select {
		case done <- out:
		case <-late:
			h.followUp(logCtx, rp, rec, out, start)
		}
	}()
	timer := time.NewTimer(time.Until(start.Add(rp.AnswerWithin())))
	defer timer.Stop()
	select {
	case out := <-done:
		rec.result, rec.err, rec.o = out.result, out.err, out.o
		if out.result != nil && out.result.RequestID != "" {
			w.Header().Set(HeaderGraphRequestID, out.result.RequestID)
		}
		h.chatAnswer(w, r, rp, &rec, out.reply, start)
	case <-timer.C:
		h.chatAnswer(w, r, rp, &rec, chat.Pending(inv.Command, inv.CanFollowUp), start)
		close(late)
	}
}

// runCommand runs show, or an assign or plan through the pipeline
// (job), and turns its outcome into a reply.
func (h *Handler) runCommand(ctx context.Context, rp Replier, inv *chat.Invocation, job *apply.Job, name, deliveryID, reqID string, start time.Time) chatOutcome {
	cmd := inv.Command
	switch {
	case cmd.Verb == chat.VerbApprove || cmd.Verb == chat.VerbReject:
		return h.decide(ctx, rp, inv, name, deliveryID, reqID, start) // approval.go
	case job != nil && h.secondPerson(name, inv):
		return h.request(ctx, inv, job, reqID)
	}
	if job != nil {
		// The policy, then the apply step of every change (write slot, the
		// update strategy's Graph calls, the body Graph holds afterwards)
		// or, for plan, a dry run: the read, no write.
		o := h.pipe.Run(ctx, job)
		out := chatOutcome{result: o.Result, err: o.Err, o: &o}
		switch {
		case o.Err != nil:
			out.reply = notDone(inv, cmd, o.Err, reqID)
		case job.Request.Reverts():
			out.reply = chat.Reverted(inv, revertedChanges(o.Reverted))
		case o.Planned:
			changed := make([]string, 0, len(o.Plan.Changes))
			for _, c := range o.Plan.Changes {
				changed = append(changed, c.Path)
			}
			out.reply = chat.Planned(inv, job.Request, o.Plan.Before, o.Plan.After, changed)
		default:
			out.reply = chat.Applied(inv, job.Request, o.Body, o.Result.RequestID)
		}
		return out
	}
	if cmd.Verb == chat.VerbHistory {
		recs, err := h.pipe.History(ctx, cmd.ConfigurationID, cmd.AssignmentID, historyLength)
		if err != nil {
			return chatOutcome{reply: chat.Failed(cmd, err, reqID), err: err}
		}
		entries := make([]chat.HistoryEntry, 0, len(recs))
		for _, r := range recs {
			entries = append(entries, chat.HistoryEntry{ID: r.ID, Action: r.Action, Ticket: r.Ticket.ID, Reverts: r.Reverts,
				RequestedBy: r.Ticket.RequestedBy, ApprovedBy: r.Ticket.ApprovedBy, Time: r.Time.UTC().Format(time.RFC3339),
				Before: r.Before, After: r.After, Scheduled: scheduledFor(&r)})
		}
		return chatOutcome{reply: chat.History(cmd, entries)}
	}
	body, res, err := h.pipe.Show(ctx, cmd.ConfigurationID, cmd.AssignmentID)
	if err != nil {
		return chatOutcome{reply: chat.Failed(cmd, err, reqID), result: res, err: err}
	}
	return chatOutcome{reply: chat.Shown(cmd, body), result: res}
}

// scheduledFor is when a scheduled change of the record is to be
// applied, "" for any other.
func scheduledFor(r *changerecord.Record) string {
	if r.State != changerecord.StateScheduled {
		return ""
	}
	return r.NotBefore.UTC().Format(time.RFC3339)
}

// historyLength is how many changes /intune history lists.
const historyLength = 10

// followUp delivers the outcome of a command answered "still working".
func (h *Handler) followUp(ctx context.Context, rp Replier, rec chatRecord, out chatOutcome, start time.Time) {
	rec.result, rec.err, rec.o = out.result, out.err, out.o
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	delivery := "unavailable"
	var ferr error
	if rec.inv.CanFollowUp {
		if ferr = rp.FollowUp(ctx, rec.inv, out.reply); ferr == nil {
			delivery = "posted"
		} else {
			delivery = "failed"
		}
	}
	attrs := chatAttrs(&rec, out.reply, start)
	attrs = append(attrs, slog.String("followUp", delivery))
	if ferr != nil {
		attrs = append(attrs, apply.Cause(ferr))
	}
	h.log.LogAttrs(ctx, slog.LevelInfo, "webhook follow-up", attrs...)
	h.chatAudit(ctx, &rec, out.reply, start)
}

// chatRecord is what one chat request's log line says.
type chatRecord struct {
	requestID, method, route string
	source, deliveryID       string
	inv                      *chat.Invocation
	req                      *change.Request
	result                   *graph.Result
	err                      error
	o                        *apply.Outcome // the pipeline's outcome, for the audit line
	lease                    *idempotency.Lease
	replayed                 bool // answered from the de-duplication store
	// pressed: a button press (Slack interactivity), whose HTTP answer
	// Slack does not show: the reply goes to its response_url too.
	pressed bool
}

// chatDedupe takes a chat command's delivery in the store, whatever its
// verb, before anything runs: a command sent twice (a replay of a captured
// signed request, with or without a dry-run flag) gets the first answer
// again, marked Idempotent-Replay, and runs once. The fingerprint is the
// signed body. It reports whether it has answered itself; otherwise the
// lease, if any, is in rec, and chatAnswer completes it with the answer.
func (h *Handler) chatDedupe(w http.ResponseWriter, r *http.Request, rp Replier, rec *chatRecord, body []byte, start time.Time) bool {
	if !h.pipe.Deduplicates() || rec.deliveryID == "" {
		return false
	}
	until, has := r.Context().Deadline()
	if !has {
		until = start.Add(h.pipe.Timeout())
	}
	key, fp := apply.ChatKey(rec.source, rec.deliveryID, body)
	lease, err := h.pipe.Take(context.WithoutCancel(r.Context()), key, fp, until)
	var inProgress *idempotency.InProgressError
	switch {
	case err == nil && lease.Replay != nil:
		rec.replayed = true
		for k, v := range lease.Replay.Headers {
			w.Header().Set(k, v)
		}
		w.Header().Set(HeaderReplay, "true")
		w.Header().Set("Content-Length", strconv.Itoa(len(lease.Replay.Body)))
		w.WriteHeader(lease.Replay.Status)
		_, _ = w.Write(lease.Replay.Body)
		replayed := &chat.Reply{Status: chat.StatusReplayed}
		h.log.LogAttrs(r.Context(), slog.LevelInfo, "webhook", chatAttrs(rec, replayed, start)...)
		if auditedReply(chat.Status(lease.Replay.Headers[HeaderOutcome]), rec.inv) {
			h.chatAudit(r.Context(), rec, replayed, start)
		}
		return true
	case err == nil:
		rec.lease = lease
		return false
	case errors.As(err, &inProgress):
		// Not a refusal: the first attempt may apply it (and is audited).
		h.chatAnswer(w, r, rp, rec, chat.Duplicate(), start)
		return true
	case errors.Is(err, idempotency.ErrMismatch):
		rec.err = &change.Error{Code: change.CodeConflict, Kind: change.KindDeliveryMismatch,
			Message: "this command's delivery id was already used for another command; nothing was run"}
	default:
		rec.err = &change.Error{Code: change.CodeUnavailable, Kind: change.KindDedupeUnavailable, RetryAfter: 5 * time.Second,
			Message: "the de-duplication store is unavailable, so nothing was run; try again later", Err: err}
	}
	h.chatAnswer(w, r, rp, rec, chat.Failed(rec.inv.Command, rec.err, rec.requestID), start)
	return true
}

// HeaderOutcome is set on every chat reply, which is a 200 whatever
// happened, to the outcome the reply reports (a chat.Status: applied,
// shown, help, planned, queued, pending; refused, invalid, usage, failed),
// so that a client such as the send command tells a refusal from a change
// without reading Slack's or Teams' message format. A replay carries the
// first answer's outcome.
const HeaderOutcome = "X-Enrollhook-Outcome"

// chatAnswer writes the 200 reply and the request's one log line, and
// records the reply as the delivery's answer first, so that a replay that
// follows it finds it.
func (h *Handler) chatAnswer(w http.ResponseWriter, r *http.Request, rp Replier, rec *chatRecord, reply *chat.Reply, start time.Time) {
	ct, body := rp.Reply(rec.inv, reply)
	if rec.lease != nil {
		h.pipe.Complete(r.Context(), rec.lease, idempotency.Response{Status: http.StatusOK,
			Headers: map[string]string{"Content-Type": ct, HeaderOutcome: string(reply.Status)}, Body: body})
		rec.lease = nil
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set(HeaderOutcome, string(reply.Status))
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	attrs := chatAttrs(rec, reply, start)
	if rec.pressed && rec.inv.CanFollowUp {
		// Slack shows nothing of a button press's answer: post the
		// reply where it shows (a pending one's outcome follows later).
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), pressPostTimeout)
		delivery := "posted"
		if err := rp.FollowUp(ctx, rec.inv, reply); err != nil {
			delivery = "failed"
			attrs = append(attrs, apply.NamedCause("followUpCause", err))
		}
		cancel()
		attrs = append(attrs, slog.String("followUp", delivery))
	}
	h.log.LogAttrs(r.Context(), slog.LevelInfo, "webhook", attrs...)
	h.chatAudit(r.Context(), rec, reply, start)
}

// pressPostTimeout bounds the post of a button press's reply, which runs
// before the invoke returns (Lambda freezes what runs after).
const pressPostTimeout = time.Second

// chatAttrs are the audit attributes of a chat command: ids, the user who
// requested and approved it, the outcome; never the text, a secret or the
// response URL.
func chatAttrs(rec *chatRecord, reply *chat.Reply, start time.Time) []slog.Attr {
	attrs := make([]slog.Attr, 0, 18)
	attrs = append(attrs, slog.String("xRequestId", rec.requestID), slog.String("method", rec.method),
		slog.String("route", rec.route), slog.String("source", rec.source))
	if rec.deliveryID != "" {
		attrs = append(attrs, slog.String("deliveryId", rec.deliveryID))
	}
	inv := rec.inv
	attrs = append(attrs, slog.String("requestedBy", inv.Actor()))
	if inv.Command != nil {
		attrs = append(attrs, slog.String("command", string(inv.Command.Verb)))
		if inv.Command.Verb != chat.VerbHelp {
			attrs = append(attrs, slog.String("configurationId", inv.Command.ConfigurationID), slog.String("assignmentId", inv.Command.AssignmentID))
		}
	}
	if rec.req != nil {
		attrs = append(attrs, slog.String("ticket", rec.req.Ticket.ID), slog.String("approvedBy", rec.req.Ticket.ApprovedBy),
			slog.String("targetType", apply.TargetType(rec.req)))
	}
	if rec.result != nil {
		attrs = append(attrs, slog.String("graphRequestId", rec.result.RequestID), slog.String("clientRequestId", rec.result.ClientRequestID))
	}
	if rec.err != nil {
		p, _ := apply.ProblemFor(rec.err, "")
		attrs = append(attrs, slog.String("problem", p.Type[len(apply.ProblemTypePrefix):]))
		if p.Status >= 500 {
			attrs = append(attrs, apply.Cause(rec.err))
		}
	}
	return append(attrs, slog.String("outcome", string(reply.Status)), slog.Int("status", http.StatusOK),
		slog.Float64("durationMs", float64(time.Since(start).Microseconds())/1000))
}

// chatAudit writes the audit line of a chat command's decision: an assign
// applied, queued, refused (the user, the policy, invalid values) or
// failed. Help, usage, show and plan change nothing and are not decisions;
// a pending answer is decided by its follow-up, which calls this again. A
// command the pipeline ran is audited by the pipeline's Finish, from its
// outcome (a chat command writes nothing back to a ticket).
func (h *Handler) chatAudit(ctx context.Context, rec *chatRecord, reply *chat.Reply, start time.Time) {
	if reply.Status == chat.StatusPending {
		return
	}
	if rec.o != nil {
		rec.o.WriteBack = false
		h.pipe.Finish(ctx, rec.o)
		return
	}
	e := &apply.Entry{RequestID: rec.requestID, DeliveryID: rec.deliveryID, Sender: rec.source, Request: rec.req,
		Result: rec.result, Start: start, Reason: apply.Slug(rec.err)}
	if e.Request == nil {
		e.Request = whoSent(rec)
	}
	switch reply.Status {
	case chat.StatusQueued:
		e.Outcome = apply.AuditQueued
	case chat.StatusReplayed:
		e.Outcome = apply.AuditReplayed
	case chat.StatusRefused:
		e.Outcome = apply.AuditRefused
		if e.Reason == "" {
			// The user, workspace or tenant is not on the sender's
			// allow-list: what Invocation.Change answers, a problem type.
			e.Reason = string(change.CodeForbidden)
		}
	case chat.StatusInvalid:
		e.Outcome = apply.AuditRefused
		if e.Reason == "" {
			e.Reason = string(change.CodeInvalid)
		}
	case chat.StatusFailed:
		e.Outcome = apply.FailedOutcome(rec.err)
	default:
		return
	}
	h.pipe.Audit(ctx, e)
}

// whoSent is the audit line's change of a chat command refused before it
// became one (a user not allowed, a self-approval): who sent it, as the
// approver of an approve or reject (the ticket is the request's id), else
// as the requester (the ticket is the delivery id); nil when the sender
// named nobody.
func whoSent(rec *chatRecord) *change.Request {
	inv := rec.inv
	if inv == nil || inv.User == "" {
		return nil
	}
	t := change.Ticket{ID: rec.deliveryID, RequestedBy: inv.Actor()}
	if c := inv.Command; c != nil && (c.Verb == chat.VerbApprove || c.Verb == chat.VerbReject) {
		t = change.Ticket{ID: c.Ref, ApprovedBy: inv.Actor()}
	}
	r := &change.Request{Ticket: t}
	if c := inv.Command; c != nil {
		r.ConfigurationID, r.AssignmentID = c.ConfigurationID, c.AssignmentID
		if c.Verb == chat.VerbRevert {
			r.Action = change.ActionRevert
		}
	}
	return r
}

// auditedReply reports whether a chat reply of status st wrote an audit
// line: a change applied, queued, refused or failed, a request for a
// second person's approval, or its rejection; a change still pending at
// the sender's deadline (its outcome is audited when it ends). Reads, help
// and plans change nothing and write none, nor do their replays.
func auditedReply(st chat.Status, inv *chat.Invocation) bool {
	switch st {
	case chat.StatusApplied, chat.StatusQueued, chat.StatusRefused, chat.StatusInvalid, chat.StatusFailed,
		chat.StatusRequested, chat.StatusRejected:
		return true
	case chat.StatusPending:
		return inv != nil && inv.Command != nil && inv.Command.Verb != chat.VerbShow && inv.Command.Verb != chat.VerbPlan &&
			inv.Command.Verb != chat.VerbHistory
	}
	return false
}

// notDone is the chat reply to a command the pipeline did not carry out
// (err): a refusal (403: "Refused, nothing was changed"), or a failure; a
// revert that stopped part way (change.ErrPartlyApplied), or a refusal
// after an earlier write whose outcome is unknown, is never told as
// refused, whatever its code: something may have changed.
func notDone(inv *chat.Invocation, cmd *chat.Command, err error, reqID string) *chat.Reply {
	if change.ErrorCode(err) == change.CodeForbidden && !errors.Is(err, change.ErrPartlyApplied) && !change.OutcomeUnknown(err) {
		return policyRefused(inv, err)
	}
	return chat.Failed(cmd, err, reqID)
}

// policyRefused is the chat reply to a command the policy refuses: the
// rule's reason, written for the user, and the user's id to hand to the
// administrator.
func policyRefused(inv *chat.Invocation, err error) *chat.Reply {
	msg := "the policy does not allow this command"
	var ce *change.Error
	if errors.As(err, &ce) {
		msg = ce.Message
	}
	return chat.Refused(&chat.Invocation{User: inv.User, Denied: &chat.Refusal{Message: msg}})
}

// revertedChanges are a revert's changes (or its plan's) for a reply.
func revertedChanges(rv *apply.Reverted) []chat.RevertedChange {
	if rv == nil {
		return nil
	}
	changes := make([]chat.RevertedChange, 0, len(rv.Changes))
	for _, c := range rv.Changes {
		changes = append(changes, chat.RevertedChange{Reverts: c.Reverts, ConfigurationID: c.ConfigurationID,
			AssignmentID: c.AssignmentID, Assignment: c.Assignment})
	}
	return changes
}
