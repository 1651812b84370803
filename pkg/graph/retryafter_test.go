package graph_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graph"
)

// TestRetryAfterBeyondTheBudgetStopsAtOnce: when Graph asks for a wait
// that no retry in this invoke could honour (a day, more, or as long as
// the time left), the client sends nothing more and hands Graph's wait to
// the caller, who answers 503 with that Retry-After.
func TestRetryAfterBeyondTheBudgetStopsAtOnce(t *testing.T) {
	const day = 24 * time.Hour
	twoDays := time.Now().Add(2 * day).UTC().Format(http.TimeFormat)
	tests := []struct {
		name     string
		opts     *graph.Options
		timeout  time.Duration // 0: no deadline
		answer   answer
		min, max time.Duration // the caller's Retry-After
		stop     string
	}{
		{"429 Retry-After a day", nil, 0,
			answer{status: 429, header: map[string]string{"Retry-After": "86400"}, body: `{"error":{"code":"TooManyRequests"}}`},
			day, day, "retry-after-above-max"},
		{"503 Retry-After a day", nil, 0,
			answer{status: 503, header: map[string]string{"Retry-After": "86400"}},
			day, day, "retry-after-above-max"},
		{"429 Retry-After two days", nil, 0,
			answer{status: 429, header: map[string]string{"Retry-After": "172800"}},
			2 * day, 2 * day, "retry-after-above-max"},
		{"429 Retry-After too large for a number: a week", nil, 0,
			answer{status: 429, header: map[string]string{"Retry-After": "99999999999999999999"}},
			7 * day, 7 * day, "retry-after-above-max"},
		{"429 retry-after-ms a day", nil, 0,
			answer{status: 429, header: map[string]string{"retry-after-ms": "86400000"}},
			day, day, "retry-after-above-max"},
		{"429 Retry-After as a date two days ahead", nil, 0,
			answer{status: 429, header: map[string]string{"Retry-After": twoDays}},
			2*day - 2*time.Second, 2 * day, "retry-after-above-max"},
		{"a day, with MaxRetryDelay raised past it", &graph.Options{MaxRetryDelay: 48 * time.Hour}, time.Minute,
			answer{status: 429, header: map[string]string{"Retry-After": "86400"}},
			day, day, "deadline-budget"},
		{"exactly the time left", &graph.Options{DeadlineMargin: -1}, 20 * time.Second,
			answer{status: 429, header: map[string]string{"Retry-After": "20"}},
			20 * time.Second, 20 * time.Second, "deadline-budget"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The second answer would succeed: only a retry could reach it.
			h := newHarness(t, tt.opts, false, tt.answer, answer{status: 200, body: `{"id":"x"}`})
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			_, err := h.c.PatchAssignment(ctx, cfgID, asgID, testAssignment())
			ce := codeOf(t, err)
			if ce.Code != change.CodeUnavailable || ce.RetryAfter < tt.min || ce.RetryAfter > tt.max {
				t.Errorf("PatchAssignment = %v (RetryAfter %v), want CodeUnavailable with RetryAfter in [%v, %v]",
					err, ce.RetryAfter, tt.min, tt.max)
			}
			if ce.RetryAfter%time.Second != 0 {
				t.Errorf("RetryAfter = %v, want whole seconds for the header", ce.RetryAfter)
			}
			if n := len(h.g.requests()); n != 1 {
				t.Errorf("requests = %d, want 1 (no retry after a wait beyond the budget)", n)
			}
			if w := h.waits(); len(w) != 0 {
				t.Errorf("waits = %v, want none", w)
			}
			var re *graph.ResponseError
			if !errors.As(err, &re) || re.StatusCode != tt.answer.status {
				t.Errorf("ResponseError = %+v, want status %d", re, tt.answer.status)
			}
			if logs := h.logs.String(); !strings.Contains(logs, `"retryStop":"`+tt.stop+`"`) {
				t.Errorf("the log does not say retrying stopped (%s):\n%s", tt.stop, logs)
			}
		})
	}
}

// TestRetryAfterWithinTheBudgetIsWaited: a wait that fits is honoured as
// Graph asked, so the boundary above is the budget and not a fixed number.
func TestRetryAfterWithinTheBudgetIsWaited(t *testing.T) {
	h := newHarness(t, &graph.Options{DeadlineMargin: -1}, false,
		answer{status: 429, header: map[string]string{"Retry-After": "19"}}, answer{status: 200, body: `{"id":"x"}`})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := h.c.PatchAssignment(ctx, cfgID, asgID, testAssignment())
	if err != nil || res.Retries != 1 {
		t.Fatalf("PatchAssignment = %+v, %v; want success after one retry", res, err)
	}
	if w := h.waits(); len(w) != 1 || w[0] != 19*time.Second {
		t.Errorf("waits = %v, want [19s]", w)
	}
}
