package webhook

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
)

// A dry run (?dryRun=true, Prefer: dry-run, the chat command plan) runs
// every step of a change but the write (apply.Pipeline.Plan). It does spend
// its delivery id (the flag is outside every signature): the same delivery
// sent later without the flag is refused as delivery-was-dry-run, and a dry
// run of a delivery that was already applied gets that delivery's real
// answer, not a plan.

// wantsDryRun reports whether the request asks for a dry run in any
// spelling: any dryRun query parameter (name in any case, every value) other
// than false, or a Prefer: dry-run preference.
func wantsDryRun(r *http.Request) bool {
	for k, vs := range r.URL.Query() {
		if !strings.EqualFold(k, "dryRun") {
			continue
		}
		for _, v := range vs {
			if !strings.EqualFold(strings.TrimSpace(v), "false") {
				return true
			}
		}
	}
	for _, p := range r.Header.Values("Prefer") {
		for _, part := range strings.Split(p, ",") {
			if strings.EqualFold(strings.TrimSpace(part), "dry-run") {
				return true
			}
		}
	}
	return false
}

// dryRun answers a dry run of an approved, allowed change of the request
// path: 200 with the apply.Plan, or the problem of the read. Nothing is
// written, taken or queued.
func (h *Handler) dryRun(ctx context.Context, w http.ResponseWriter, r *http.Request, rec record, lease *idempotency.Lease, start time.Time) {
	p, err := h.pipe.Plan(ctx, rec.req)
	rec.result, rec.planned = p.Result, true
	if err != nil {
		h.pipe.Release(ctx, lease)
		h.finish(w, r, rec, start, err)
		return
	}
	headers := map[string]string{apply.HeaderDryRun: apply.DryRunApplied}
	if p.Result != nil && p.Result.RequestID != "" {
		headers[HeaderGraphRequestID] = p.Result.RequestID
	}
	h.pipe.Complete(ctx, lease, idempotency.Response{Status: http.StatusOK, Headers: headers, Body: p.Body})
	for k, v := range headers {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(p.Body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(p.Body)
	h.finish(w, r, rec, start, nil)
}
