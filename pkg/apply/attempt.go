package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/record"
)

// A write whose answer is lost (Graph did not answer in time, or answered
// 429, 5xx) may or may not have been applied. Its delivery cannot keep an
// answer (there is none) and must not be lost either, so it is given up for
// the sender's retry, but with a note (idempotency.Store.Note, kept on the
// delivery's record before the write, so that a holder that dies leaves it
// too): the assignment as it was before the write, when, and for the assign
// action the other assignments it kept. The retry reads Graph first, and
//   - if the assignment already is what the change makes of it (under the
//     assign action, possibly under a new id), answers it as applied
//     without writing again;
//   - if it is as the note has it, and no other change of it is recorded
//     since, applies the change (the first write did not land);
//   - else refuses 409 drifted, and keeps that answer: a newer change
//     (another ticket's, or a hand in Intune) is never overwritten by the
//     late retry of an older one.

// attemptNote is the note an attempt leaves to the delivery's next attempt.
type attemptNote struct {
	// Prior is the assignment as Graph held it before the write; null when
	// it was not read (a pipeline without a change record).
	Prior json.RawMessage `json:"prior"`
	// Others, for the assign action, are the ids of the assignments it
	// kept beside the changed one (an empty list when there were none);
	// null for the item PATCH.
	Others []string `json:"others"`
	// Time is when Prior was read and the first write about to be sent;
	// Sent when the latest write was (a retry that writes again keeps the
	// first reading, and moves Sent). Wall clock, like the change
	// record's.
	Time time.Time `json:"time"`
	Sent time.Time `json:"sent,omitzero"`
}

// sent is when the note's latest write was sent.
func (n *attemptNote) sent() time.Time {
	if n.Sent.IsZero() {
		return n.Time
	}
	return n.Sent
}

// minNoteLife is the least a note is kept: longer than the dead-letter
// queues keep a message (14 days, template.yaml), so that a message moved
// back from one still meets the note its earlier receive left.
const minNoteLife = 15 * 24 * time.Hour

// noteLife is how long a note is kept: as long as answers are, and at
// least minNoteLife. Notes are few (a write whose answer was lost), so the
// store holds them longer at little cost.
func (p *Pipeline) noteLife() time.Duration { return max(p.opts.Dedupe.CompletedTTL, minNoteLife) }

// mayHaveWritten reports whether err, a failure of the apply step, may have
// come after Graph applied the change: marked so (change.ErrOutcomeUnknown:
// a write the Graph client retried after an unclear answer), or a timeout,
// an unavailable Graph or a fault of our own after the write was sent (not
// marked change.ErrNothingSent).
func mayHaveWritten(err error) bool {
	if errors.Is(err, change.ErrPartlyApplied) {
		return change.OutcomeUnknown(err) // decided on the stopped step's own error (partlyReverted)
	}
	return change.OutcomeUnknown(err) || Retryable(err) && !errors.Is(err, change.ErrNothingSent)
}

// noteBefore keeps the note of wr on the delivery's record (lease) before
// the write, and returns it: nil when there is no lease. A lease that
// carries an earlier attempt's note keeps that note's reading (the earlier
// write may be the one that landed), with this write's time as its Sent,
// and carries it so. A note that cannot be kept refuses the write: a retry
// could not tell what it did.
func (p *Pipeline) noteBefore(ctx context.Context, lease *idempotency.Lease, wr *written) ([]byte, error) {
	if lease == nil {
		return nil, nil
	}
	now := time.Now()
	n := attemptNote{Prior: orNull(wr.prior), Others: wr.others, Time: now, Sent: now}
	if lease.Attempt != nil {
		if json.Unmarshal(lease.Attempt, &n) != nil {
			return lease.Attempt, nil // our own note, unreadable: left as it is
		}
		n.Sent = now
		if n.Others == nil {
			n.Others = wr.others // the first attempt used the item PATCH, this one the assign action
		}
	}
	note, err := json.Marshal(n)
	if err == nil {
		expires := time.Now().Add(p.noteLife())
		err = p.storeWrite(ctx, func(ctx context.Context) error { return p.opts.Dedupe.Store.Note(ctx, lease, note, expires) })
	}
	if err != nil {
		return nil, &change.Error{Code: change.CodeUnavailable, Kind: change.KindDedupeUnavailable, RetryAfter: 5 * time.Second,
			Message: "the de-duplication store is unavailable, so the change was not sent; nothing was applied; retry later",
			Err:     errors.Join(change.ErrNothingSent, err)}
	}
	return note, nil // a lease that carried a note carries this one now (Store.Note)
}

// giveUpUnknown gives the delivery of lease up for a retry, with the note
// kept before the write (or the earlier attempt's the lease carries; or,
// should the failure have come before the note was kept, one of a's prior).
func (p *Pipeline) giveUpUnknown(ctx context.Context, lease *idempotency.Lease, note []byte, a *Applied) {
	switch {
	case lease.Attempt != nil:
		note = lease.Attempt
	case note == nil:
		note, _ = json.Marshal(attemptNote{Prior: orNull(a.Prior), Time: time.Now()})
	}
	expires := time.Now().Add(p.noteLife())
	err := p.storeWrite(ctx, func(ctx context.Context) error {
		return p.opts.Dedupe.Store.Attempted(ctx, lease, note, expires)
	})
	if err != nil {
		p.log.WarnContext(ctx, "de-duplication record not updated: the note kept before the write goes to a retry once this attempt's hold ends", Cause(err))
	}
}

// settleEarlier settles a delivery whose lease carries an earlier
// attempt's note, before anything else is checked (the window may have
// closed, a revert may have cancelled the scheduled change since: both
// say nothing was changed, which the earlier write may belie). It reports
// whether o is the outcome: the change answered as applied, or refused;
// false when the change is to be checked and applied as usual. canceled
// says a revert has recorded the (scheduled) change's cancellation since:
// if the change had landed all the same, it stands, and is recorded so
// that the ticket can be reverted again; the log says so, as an error.
func (p *Pipeline) settleEarlier(ctx context.Context, job *Job, lease *idempotency.Lease, canceled bool, o *Outcome) bool {
	found, err := p.afterUnknown(ctx, job, lease.Attempt)
	if err != nil {
		err = earlierUnknown(err)
	}
	switch {
	case err != nil && change.ErrorCode(err) == change.CodeConflict:
		// Final: every later retry gets this answer, as long as the note
		// would have lived (a message moved back from a dead-letter queue
		// included).
		p.keepRefusalFor(ctx, job, lease, err, p.noteLife())
	case err != nil:
		p.refuseTaken(ctx, job, lease, err) // a retry keeps the note
	case found != nil:
		if canceled {
			p.log.ErrorContext(ctx, "a scheduled change whose Graph answer was lost had been applied before a revert of its ticket cancelled it: it stands, and is recorded; revert the ticket again to put it back",
				slog.String("xRequestId", job.RequestID), slog.String("ticket", job.Request.Ticket.ID))
		}
		p.answerApplied(ctx, job, lease, found, o, p.noteLife())
		return true
	default:
		return false
	}
	o.WriteBack = true
	o.fail(err)
	return true
}

// afterUnknown is the retry of a delivery whose earlier attempt left note
// (see above). It returns the change as applied when Graph already holds
// it, nil and nil when the change is to be applied, or the refusal.
func (p *Pipeline) afterUnknown(ctx context.Context, job *Job, note []byte) (*Applied, error) {
	var n attemptNote
	if json.Unmarshal(note, &n) != nil {
		n = attemptNote{} // our own note, unreadable: as if the prior were unknown
	}
	req := job.Request
	current, res, err := p.current(ctx, req)
	if change.ErrorCode(err) == change.CodeNotFound && n.Others != nil && p.upd.assign != nil {
		// The assign action may have named the assignment anew.
		if a, rerr := p.renamed(ctx, req, n.Others); a != nil || rerr != nil {
			if a != nil {
				a.Before, a.Prior, a.written = graph.TargetOf(n.Prior), n.Prior, n.sent()
				p.log.InfoContext(ctx, "an earlier attempt of this delivery had applied the change, under a new assignment id; answered without writing again",
					slog.String("xRequestId", job.RequestID), slog.String("newAssignmentId", a.Headers[HeaderAssignmentID]))
			}
			return a, rerr
		}
	}
	if err != nil {
		return nil, noWrite(err)
	}
	if graph.InEffect(current, req, p.beta()) {
		a := p.foundApplied(res, current, n.Prior, n.sent())
		p.log.InfoContext(ctx, "an earlier attempt of this delivery had applied the change; answered without writing again",
			slog.String("xRequestId", job.RequestID))
		return a, nil
	}
	if len(n.Prior) == 0 || string(n.Prior) == "null" {
		return nil, nil // nothing to compare with: the change is applied
	}
	unknown := "an earlier attempt of this delivery sent the change to Graph and its outcome is unknown (Graph did not answer in time, or was unavailable)"
	if !graph.SameAssignment(n.Prior, current, p.beta()) {
		return nil, &change.Error{Code: change.CodeConflict, Kind: change.KindDrifted, Message: fmt.Sprintf(
			"%s, and assignment %s of configuration %s changed since: before that attempt %s, now %s; nothing was changed, so the newer state is kept: if this change is still wanted, approve it again as a new delivery",
			unknown, req.AssignmentID, req.ConfigurationID, compact(graph.TargetOf(n.Prior)), compact(graph.TargetOf(current)))}
	}
	since, err := p.changedSince(ctx, job, &n)
	if err != nil {
		return nil, &change.Error{Code: change.CodeUnavailable, Kind: change.KindRecordUnavailable, RetryAfter: 5 * time.Second,
			Message: unknown + ", and the change record could not be read to check what happened since; nothing was changed; retry later",
			Err:     errors.Join(change.ErrNothingSent, err)}
	}
	if since != nil {
		return nil, &change.Error{Code: change.CodeConflict, Kind: change.KindDrifted, Message: fmt.Sprintf(
			"%s, and change %s of ticket %s was applied to assignment %s of configuration %s since (at %s); nothing was changed, so the newer change is kept: if this change is still wanted, approve it again as a new delivery",
			unknown, since.ID, since.Ticket.ID, req.AssignmentID, req.ConfigurationID, since.Time.UTC().Format(time.RFC3339))}
	}
	return nil, nil
}

// foundApplied is the answer of a change an earlier write applied, found
// by the read res (current): recorded with prior, the assignment before
// that write, at written, its time.
func (p *Pipeline) foundApplied(res *graph.Result, current, prior json.RawMessage, written time.Time) *Applied {
	a := &Applied{Result: res, Headers: map[string]string{}, Body: current, Before: graph.TargetOf(prior), Prior: prior, written: written}
	if res == nil {
		a.Result = &graph.Result{}
	} else if res.RequestID != "" {
		a.Headers[HeaderGraphRequestID] = res.RequestID
	}
	if p.assigning() {
		a.Headers[HeaderStrategy] = StrategyAssign
	}
	return a
}

// wroteSomething reports whether r is a change record of a write to Graph
// (not a schedule, nor a cancellation, which wrote nothing).
func wroteSomething(r *record.Record) bool {
	return (r.State == "" || r.State == record.StateApplied) && len(r.After) > 0 && string(r.After) != "null"
}

// errEarlierUnknown marks a refusal or failure of the retry of a delivery
// whose earlier write's outcome is unknown (afterUnknown): that write may
// have been applied, so the ticket is told "unknown", never "failed".
var errEarlierUnknown = fmt.Errorf("apply: an earlier attempt's write may have been applied: %w", change.ErrOutcomeUnknown)

// earlierUnknown marks err with errEarlierUnknown.
func earlierUnknown(err error) error { return change.Mark(err, errEarlierUnknown) }

// beta reports whether changes go to Graph's beta endpoint.
func (p *Pipeline) beta() bool { return p.opts.Update.GraphVersion != "v1.0" }

// renamed looks for the assignment an earlier assign action of req may
// have named anew (graph.RenamedAssignment): the change as applied, nil
// when there is none.
func (p *Pipeline) renamed(ctx context.Context, req *change.Request, others []string) (*Applied, error) {
	items, res, err := p.upd.assign.ListAssignments(ctx, req.ConfigurationID)
	if err != nil {
		return nil, noWrite(err)
	}
	body, id, err := graph.RenamedAssignment(items, req, others, p.beta())
	if body == nil || err != nil {
		return nil, noWrite(err)
	}
	a := &Applied{Result: res, Body: body, Headers: map[string]string{HeaderStrategy: StrategyAssign, HeaderAssignmentID: id}}
	if res.RequestID != "" {
		a.Headers[HeaderGraphRequestID] = res.RequestID
	}
	return a, nil
}

// changedSince returns the latest change of the job's assignment that
// another delivery wrote after the note was taken, or nil: recorded after
// the note's time, and leaving the assignment other than the note read it
// (a change recorded late whose write came before that read is in the
// note's prior already; a change away and back has its first half caught),
// or setting it back to that from what this change makes. Records that
// wrote nothing (a cancelled schedule) do not count.
func (p *Pipeline) changedSince(ctx context.Context, job *Job, n *attemptNote) (*record.Record, error) {
	if p.opts.Records == nil || n.Time.IsZero() {
		return nil, nil
	}
	recs, err := p.opts.Records.ByAssignment(ctx, job.Request.ConfigurationID, job.Request.AssignmentID, 0)
	if err != nil {
		return nil, err
	}
	own := p.recordID(job)
	for i := range recs {
		r := &recs[i]
		if r.ID == own || !wroteSomething(r) || !r.Time.After(n.Time) {
			continue
		}
		// A change that left the assignment otherwise than the note read
		// it; or one that set it back to that, from what this change
		// makes (so this change had landed, and the other is newer).
		if !graph.SameAssignment(r.After, n.Prior, p.beta()) || graph.InEffect(r.Before, job.Request, p.beta()) {
			return r, nil
		}
	}
	return nil, nil
}
