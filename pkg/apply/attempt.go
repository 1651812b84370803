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
// the sender's retry, but with a note (idempotency.Store.Attempted): the
// assignment as it was before the write, and when. The retry reads Graph
// first, and
//   - if the assignment already is what the change makes of it, answers it
//     as applied without writing again;
//   - if it is as the note has it, and no other change of it is recorded
//     since, applies the change (the first write did not land);
//   - else refuses 409 drifted, and keeps that answer: a newer change
//     (another ticket's, or a hand in Intune) is never overwritten by the
//     late retry of an older one.

// attemptNote is the note an attempt of unknown outcome leaves to the
// delivery's next attempt.
type attemptNote struct {
	// Prior is the assignment as Graph held it before the write; null when
	// it was not read (a pipeline without a change record).
	Prior json.RawMessage `json:"prior"`
	// Time is when the attempt gave up, on the pipeline's clock.
	Time time.Time `json:"time"`
}

// mayHaveWritten reports whether err, a failure of the apply step, may have
// come after Graph applied the change: a timeout or an unavailable Graph
// after the write was sent (not marked change.ErrNothingSent), or a fault
// of our own.
func mayHaveWritten(err error) bool {
	return Retryable(err) && !errors.Is(err, change.ErrNothingSent)
}

// giveUpUnknown gives the delivery of lease up for a retry with a note of
// a's prior assignment. A lease that carries an earlier attempt's note keeps
// that one: the earlier write may be the one that landed.
func (p *Pipeline) giveUpUnknown(ctx context.Context, lease *idempotency.Lease, a *Applied) {
	note := lease.Attempt
	if note == nil {
		note, _ = json.Marshal(attemptNote{Prior: orNull(a.Prior), Time: p.now()})
	}
	expires := time.Now().Add(p.opts.Dedupe.CompletedTTL)
	err := p.storeWrite(ctx, func(ctx context.Context) error {
		return p.opts.Dedupe.Store.Attempted(ctx, lease, note, expires)
	})
	if err != nil {
		p.log.WarnContext(ctx, "de-duplication record not updated: a retry of this delivery will not know that its first write may have been applied", Cause(err))
	}
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
	if err != nil {
		return nil, noWrite(err)
	}
	after, err := graph.Patched(current, req)
	if err != nil {
		return nil, err
	}
	changes, err := graph.Changes(current, after)
	if err != nil {
		return nil, err
	}
	if len(changes) == 0 {
		a := &Applied{Result: res, Headers: map[string]string{}, Body: current, Before: graph.TargetOf(n.Prior), Prior: n.Prior}
		if res != nil && res.RequestID != "" {
			a.Headers[HeaderGraphRequestID] = res.RequestID
		}
		p.log.InfoContext(ctx, "an earlier attempt of this delivery had applied the change; answered without writing again",
			slog.String("xRequestId", job.RequestID))
		return a, nil
	}
	if len(n.Prior) == 0 || string(n.Prior) == "null" {
		return nil, nil // nothing to compare with: the change is applied
	}
	unknown := "an earlier attempt of this delivery sent the change to Graph and its outcome is unknown (Graph did not answer in time, or was unavailable)"
	if moved, err := graph.Changes(n.Prior, current); err != nil || len(moved) != 0 {
		return nil, &change.Error{Code: change.CodeConflict, Kind: change.KindDrifted, Message: fmt.Sprintf(
			"%s, and assignment %s of configuration %s changed since: before that attempt %s, now %s; nothing was changed, so the newer state is kept: if this change is still wanted, approve it again as a new delivery",
			unknown, req.AssignmentID, req.ConfigurationID, compact(graph.TargetOf(n.Prior)), compact(graph.TargetOf(current)))}
	}
	since, err := p.changedSince(ctx, job, n.Time)
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

// changedSince returns the latest change of the job's assignment recorded
// after t by another delivery, or nil.
func (p *Pipeline) changedSince(ctx context.Context, job *Job, t time.Time) (*record.Record, error) {
	if p.opts.Records == nil || t.IsZero() {
		return nil, nil
	}
	recs, err := p.opts.Records.ByAssignment(ctx, job.Request.ConfigurationID, job.Request.AssignmentID, 0)
	if err != nil {
		return nil, err
	}
	own := p.recordID(job)
	for i := range recs {
		r := &recs[i]
		if r.ID != own && (r.State == "" || r.State == record.StateApplied) && r.Time.After(t) {
			return r, nil
		}
	}
	return nil, nil
}
