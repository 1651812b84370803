package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/limiter"
)

// HeaderReplay marks an answer served from the de-duplication store.
const HeaderReplay = "Idempotent-Replay"

// Store is what the handler needs for de-duplication; see
// idempotency.Store for the protocol and the errors.
type Store interface {
	Begin(ctx context.Context, key, fingerprint string, inProgressUntil time.Time) (*idempotency.Lease, error)
	Complete(ctx context.Context, l *idempotency.Lease, resp idempotency.Response, expires time.Time) error
	Release(ctx context.Context, l *idempotency.Lease) error
}

// dedupeKey returns the store key and the fingerprint of a change. The key
// is the sender's delivery id where it has one (every sender derives it
// from bytes its signature covers, never from an unsigned header);
// otherwise a hash of the fingerprint, so the same approval sent twice
// without an id is still recognised. The fingerprint covers the whole
// decision: the sender, the ticket (id, system, state, requester, approver,
// link) and the change. The same key with another fingerprint is a
// conflict, not a replay. encoding/json writes struct fields in declaration
// order, so the sender's key order and whitespace change neither.
func dedupeKey(source, deliveryID string, req *change.Request) (key, fingerprint string) {
	b, _ := json.Marshal(struct {
		Sender          string             `json:"sender"`
		Ticket          *change.Ticket     `json:"ticket"`
		ConfigurationID string             `json:"configurationId"`
		AssignmentID    string             `json:"assignmentId"`
		Assignment      *change.Assignment `json:"assignment"`
	}{source, &req.Ticket, req.ConfigurationID, req.AssignmentID, &req.Assignment})
	sum := sha256.Sum256(b)
	fingerprint = hex.EncodeToString(sum[:])
	if deliveryID != "" {
		return source + ":" + deliveryID, fingerprint
	}
	return source + ":change:" + fingerprint, fingerprint
}

// headerDryRun marks a stored answer as a dry run's plan: the delivery id
// is spent on the dry run, and the same delivery without the flag is
// refused, never applied. RFC 7240's Preference-Applied says the same to
// the caller.
const headerDryRun = "Preference-Applied"

// isDryRunAnswer reports whether a stored answer was a dry run's.
func isDryRunAnswer(r *idempotency.Response) bool {
	return r.Headers[headerDryRun] == "dry-run"
}

// dedupeBegin takes the delivery in the store. It returns the lease to
// complete or release, or done=true when it has answered itself (a replay,
// a duplicate in progress, a mismatch, a real delivery whose id was spent on
// a dry run, or a store failure). A dry run takes its delivery too, so that
// a captured dry run can never be replayed without its (unsigned) flag into
// a write; a dry run of a delivery that was applied gets the real answer.
// A dry run without a delivery id takes nothing: there is no id to spend.
func (h *Handler) dedupeBegin(ctx context.Context, w http.ResponseWriter, r *http.Request, rec *record, start time.Time, dryRun bool) (*idempotency.Lease, bool) {
	if h.opts.Store == nil || dryRun && rec.deliveryID == "" {
		return nil, false
	}
	key, fp := dedupeKey(rec.source, rec.deliveryID, rec.req)
	until := time.Now().Add(h.opts.Timeout)
	if d, ok := ctx.Deadline(); ok {
		until = d
	}
	lease, err := h.opts.Store.Begin(ctx, key, fp, until)
	if err == nil && lease.Replay == nil {
		rec.deduplicated = true
	}
	var inProgress *idempotency.InProgressError
	switch {
	case errors.As(err, &inProgress):
		h.finish(w, r, *rec, start, &change.Error{Code: change.CodeConflict, Kind: "delivery-in-progress", RetryAfter: inProgress.RetryAfter,
			Message: "this delivery is being applied by another attempt; retry after Retry-After to get its answer"})
		return nil, true
	case errors.Is(err, idempotency.ErrMismatch):
		h.finish(w, r, *rec, start, &change.Error{Code: change.CodeConflict, Kind: "delivery-mismatch",
			Message: "this delivery id was already used for a different decision (sender, ticket, state, requester, approver or change); send a new delivery id for a new decision"})
		return nil, true
	case err != nil:
		h.finish(w, r, *rec, start, &change.Error{Code: change.CodeUnavailable, Kind: "dedupe-unavailable", RetryAfter: 5 * time.Second,
			Message: "the de-duplication store is unavailable, so nothing was applied; retry later", Err: err})
		return nil, true
	case lease.Replay != nil && isDryRunAnswer(lease.Replay) && !dryRun:
		h.finish(w, r, *rec, start, &change.Error{Code: change.CodeConflict, Kind: "delivery-was-dry-run",
			Message: "this delivery id was used for a dry run, so it never applies; send the change again as a new delivery (a new delivery id) without the dry-run flag"})
		return nil, true
	case lease.Replay != nil:
		rec.replayed = true
		rec.planned = isDryRunAnswer(lease.Replay)
		if !rec.planned {
			rec.after = lease.Replay.Body // the audit line's after target (audit.go)
		}
		for k, v := range lease.Replay.Headers {
			w.Header().Set(k, v)
		}
		w.Header().Set(HeaderReplay, "true")
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(lease.Replay.Body)))
		w.WriteHeader(lease.Replay.Status)
		_, _ = w.Write(lease.Replay.Body)
		h.finish(w, r, *rec, start, nil)
		return nil, true
	}
	return lease, false
}

// dedupeEnd completes the lease with the answer, or releases it when the
// attempt failed so that the sender's retry runs.
func (h *Handler) dedupeEnd(ctx context.Context, lease *idempotency.Lease, failed bool, status int, headers map[string]string, body []byte) {
	if lease == nil {
		return
	}
	// The answer is already decided; the store write must not be cut short
	// by a caller that went away.
	ctx = context.WithoutCancel(ctx)
	var err error
	if failed {
		err = h.opts.Store.Release(ctx, lease)
	} else {
		err = h.opts.Store.Complete(ctx, lease, idempotency.Response{Status: status, Headers: headers, Body: body}, time.Now().Add(h.opts.CompletedTTL))
	}
	if err != nil {
		h.log.WarnContext(ctx, "de-duplication record not updated", causeAttr(err))
	}
}

// outbound bounds a call the handler makes itself by the deadline less
// DeadlineMargin.
func (h *Handler) outbound(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && h.opts.DeadlineMargin > 0 {
		return context.WithDeadline(ctx, d.Add(-h.opts.DeadlineMargin))
	}
	return context.WithCancel(ctx)
}

// Limiter is what the handler needs to pace Graph writes.
type Limiter interface {
	// Wait takes one write slot; a *limiter.BudgetError when none frees up
	// before ctx's deadline. done is called once the write is answered.
	Wait(ctx context.Context) (done func(), err error)
}

// waitForWriteSlot waits for the limiter; when the slot would come too late
// the caller is told to retry (503 with Retry-After), nothing is applied.
// done is called once Graph has answered the write.
func (h *Handler) waitForWriteSlot(ctx context.Context) (done func(), err error) {
	if h.opts.Limiter == nil {
		return func() {}, nil
	}
	ctx, cancel := h.outbound(ctx)
	defer cancel()
	done, err = h.opts.Limiter.Wait(ctx)
	var be *limiter.BudgetError
	switch {
	case err == nil:
		return done, nil
	case errors.As(err, &be):
		return nil, &change.Error{Code: change.CodeUnavailable, Kind: "write-limit", RetryAfter: be.RetryAfter,
			Message: "Intune's write limit is reached for now; nothing was applied, retry after Retry-After"}
	default:
		return nil, &change.Error{Code: change.CodeTimeout, RetryAfter: 5 * time.Second,
			Message: "no write slot before the deadline; nothing was applied", Err: err}
	}
}
