package webhook

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
)

// HeaderReplay marks an answer served from the de-duplication store.
const HeaderReplay = "Idempotent-Replay"

// dedupeBegin takes the delivery in the store. It returns the lease to
// complete or release, or done=true when it has answered itself (a replay,
// a duplicate in progress, a mismatch, a real delivery whose id was spent on
// a dry run, or a store failure). A dry run takes its delivery too, so that
// a captured dry run can never be replayed without its (unsigned) flag into
// a write; a dry run of a delivery that was applied gets the real answer.
// A dry run without a delivery id takes nothing: there is no id to spend.
func (h *Handler) dedupeBegin(ctx context.Context, w http.ResponseWriter, r *http.Request, rec *record, start time.Time, dryRun bool) (*idempotency.Lease, bool) {
	if !h.pipe.Deduplicates() || dryRun && rec.deliveryID == "" {
		return nil, false
	}
	key, fp := apply.Key(rec.source, rec.deliveryID, rec.req)
	lease, err := h.pipe.Take(ctx, key, fp, h.pipe.Until(ctx))
	if err == nil && lease.Replay == nil {
		rec.deduplicated = true
	}
	var inProgress *idempotency.InProgressError
	switch {
	case errors.As(err, &inProgress):
		h.finish(w, r, *rec, start, &change.Error{Code: change.CodeConflict, Kind: change.KindDeliveryInProgress, RetryAfter: inProgress.RetryAfter,
			Message: "this delivery is being applied by another attempt; retry after Retry-After to get its answer"})
		return nil, true
	case errors.Is(err, idempotency.ErrMismatch):
		h.finish(w, r, *rec, start, &change.Error{Code: change.CodeConflict, Kind: change.KindDeliveryMismatch,
			Message: "this delivery id was already used for a different decision (sender, ticket, state, requester, approver or change); send a new delivery id for a new decision"})
		return nil, true
	case err != nil:
		h.finish(w, r, *rec, start, &change.Error{Code: change.CodeUnavailable, Kind: change.KindDedupeUnavailable, RetryAfter: 5 * time.Second,
			Message: "the de-duplication store is unavailable, so nothing was applied; retry later", Err: err})
		return nil, true
	case lease.Replay != nil && apply.IsDryRunAnswer(lease.Replay) && !dryRun:
		h.finish(w, r, *rec, start, &change.Error{Code: change.CodeConflict, Kind: change.KindDeliveryDryRun,
			Message: "this delivery id was used for a dry run, so it never applies; send the change again as a new delivery (a new delivery id) without the dry-run flag"})
		return nil, true
	case lease.Replay != nil:
		rec.replayed = true
		rec.planned = apply.IsDryRunAnswer(lease.Replay)
		if !rec.planned {
			rec.after = lease.Replay.Body // the audit line's after target
		}
		for k, v := range lease.Replay.Headers {
			w.Header().Set(k, v)
		}
		w.Header().Set(HeaderReplay, "true")
		if lease.Replay.Headers["Content-Type"] == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(lease.Replay.Body)))
		w.WriteHeader(lease.Replay.Status)
		_, _ = w.Write(lease.Replay.Body)
		h.finish(w, r, *rec, start, nil)
		return nil, true
	}
	return lease, false
}
