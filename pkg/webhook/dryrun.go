package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
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
// spelling, failing closed: the flag is outside every signature, so a
// request meant as a dry run must never be read as a real one. It is a dry
// run when the raw query has a parameter whose name, folded to lower case
// without '-', '_' and '.', is "dryrun" and whose value is anything but
// exactly "false" (a value that does not unescape counts as a dry run); the
// query is split on '&' and ';' by hand, since url.Query drops a pair that
// holds a ';' or a bad escape. Or when a Prefer header names the dry-run
// preference, with or without a value or parameters (RFC 7240: the token
// before '=' or ';').
func wantsDryRun(r *http.Request) bool {
	for _, pair := range strings.FieldsFunc(r.URL.RawQuery, func(c rune) bool { return c == '&' || c == ';' }) {
		name, value, _ := strings.Cut(pair, "=")
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		if foldFlag(name) != "dryrun" {
			continue
		}
		v, err := url.QueryUnescape(value)
		if err != nil || !strings.EqualFold(strings.TrimSpace(v), "false") {
			return true
		}
	}
	for _, p := range r.Header.Values("Prefer") {
		for _, pref := range strings.Split(p, ",") {
			token, _, _ := strings.Cut(pref, ";")
			token, _, _ = strings.Cut(token, "=")
			if strings.EqualFold(strings.TrimSpace(token), "dry-run") {
				return true
			}
		}
	}
	return false
}

// foldFlag folds a query parameter's name for wantsDryRun.
func foldFlag(name string) string {
	return strings.ToLower(strings.NewReplacer("-", "", "_", "", ".", "", " ", "").Replace(name))
}

// dryRun answers a dry run of an approved, allowed change of the request
// path: 200 with the apply.Plan, or the problem of the read. Nothing is
// written, taken or queued.
func (h *Handler) dryRun(ctx context.Context, w http.ResponseWriter, r *http.Request, rec record, lease *idempotency.Lease, start time.Time) {
	p, err := h.pipe.Plan(ctx, rec.req)
	rec.result, rec.planned = p.Result, true
	if err != nil {
		// The delivery id stays spent even when the plan failed: released,
		// the same captured request sent without its flag would apply.
		// The refusal is its answer.
		prob, _ := apply.ProblemFor(err, w.Header().Get(HeaderRequestID))
		if body, merr := json.Marshal(prob); merr == nil {
			h.pipe.Complete(ctx, lease, idempotency.Response{Status: prob.Status, Body: body,
				Headers: map[string]string{apply.HeaderDryRun: apply.DryRunApplied, "Content-Type": "application/problem+json"}})
		}
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
