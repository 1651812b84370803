package graph

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Why retrying stopped, for the log.
const (
	stopMaxRetries    = "max-retries"
	stopBudget        = "deadline-budget"
	stopRetryAfterCap = "retry-after-above-max"
)

// callState is what one logical call did, for the client's log and Result.
type callState struct {
	op              string
	clientRequestID string
	attempts        int
	stop            string
	// sent: a request of the call went out (its token was had); until
	// then a failure is known to have written nothing.
	sent bool
	// unclear: an attempt that went out was retried after an answer that
	// does not say whether Graph acted on it (503, 504, or none): a write
	// the retry then fails may have been applied by that attempt.
	unclear bool
}

// retryPolicy owns the retry budget of a call, which must be the caller's:
// Lambda gives the invoke a deadline, and a retry that cannot finish before
// it only turns a clean 503 with Retry-After into a killed function.
//
// It retries 429, 503 and 504 and transport errors that are timeouts or
// dropped connections, nothing else: Intune's 500s are usually
// deterministic ("An error has occurred"), and every retried write counts
// against the tenant's 200 writes per 20 s.
type retryPolicy struct {
	maxRetries    int
	retryDelay    time.Duration
	maxRetryDelay time.Duration
	log           *slog.Logger
	// sleep waits d or until ctx is done; tests replace it to record delays.
	sleep func(ctx context.Context, d time.Duration) error
}

// do runs attempt(0), then attempt(1), ... until an outcome is final, and
// returns that outcome: the last response with its body, or an error. ctx is
// the call's (the caller's deadline less the margin); once it has ended, its
// error is the outcome, whatever the attempt returned.
func (p *retryPolicy) do(ctx context.Context, st *callState, attempt func(n int) (*http.Response, []byte, error)) (*http.Response, []byte, error) {
	deadline, hasDeadline := ctx.Deadline()
	for n := 0; ; n++ {
		resp, payload, err := attempt(n)
		st.attempts = n + 1
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, nil, ctxErr
		}
		if !shouldRetry(resp, err) {
			return resp, payload, err
		}
		if st.sent && (err != nil && !dialFailed(err) || err == nil && resp.StatusCode != http.StatusTooManyRequests) {
			st.unclear = true // a 429 is refused unprocessed, a dial sent nothing; the others may have been acted on
		}
		if n >= p.maxRetries {
			st.stop = stopMaxRetries
			return resp, payload, err
		}
		delay, asked := retryAfter(resp)
		if !asked {
			delay = p.backoff(n + 1)
		} else if delay > p.maxRetryDelay {
			// Retrying before Graph asked only earns another 429.
			st.stop = stopRetryAfterCap
			return resp, payload, err
		}
		// A wait that ends at or after the deadline leaves no time for the
		// retry: stop now and pass Graph's wait on to the caller.
		if hasDeadline && !time.Now().Add(delay).Before(deadline) {
			st.stop = stopBudget
			return resp, payload, err
		}
		p.logRetry(ctx, st, n+1, resp, delay)
		if err := p.sleep(ctx, delay); err != nil {
			return nil, nil, err
		}
		// A process frozen during the wait (a Lambda sandbox) and thawed
		// past the deadline may see the wait end before ctx does: no
		// attempt goes out after the deadline, whichever timer fired first.
		if pastDeadline(ctx) {
			return nil, nil, context.DeadlineExceeded
		}
	}
}

func (p *retryPolicy) logRetry(ctx context.Context, st *callState, attempt int, resp *http.Response, delay time.Duration) {
	if !p.log.Enabled(ctx, slog.LevelWarn) {
		return
	}
	// A transport error's text names the URL, so only its kind is logged.
	status, reason, requestID := 0, "transport-error", ""
	if resp != nil {
		status, reason = resp.StatusCode, "status"
		requestID = graphRequestID(resp.Header)
	}
	p.log.LogAttrs(ctx, slog.LevelWarn, "graph call retried",
		slog.String("op", st.op),
		slog.Int("attempt", attempt),
		slog.String("reason", reason),
		slog.Int("status", status),
		slog.String("requestId", requestID),
		slog.String("clientRequestId", st.clientRequestID),
		slog.Float64("delayMs", float64(delay.Microseconds())/1000),
	)
}

// backoff returns the wait before retry n (1-based) when Graph gave no
// Retry-After: retryDelay doubled per retry, capped at maxRetryDelay, with
// "equal jitter" (a uniform value in [d/2, d]) so that concurrent
// invocations throttled together do not come back together.
func (p *retryPolicy) backoff(n int) time.Duration {
	d := p.retryDelay
	for i := 1; i < n && d < p.maxRetryDelay; i++ {
		d *= 2
	}
	if d > p.maxRetryDelay || d <= 0 {
		d = p.maxRetryDelay
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// shouldRetry reports whether one attempt's outcome is transient.
func shouldRetry(resp *http.Response, err error) bool {
	if err != nil {
		return retriableError(err)
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

func retriableError(err error) bool {
	// Token failures and half-read PATCH and POST answers are marked
	// non-retriable (tokenError, downloadError).
	var nre interface{ NonRetriable() }
	if errors.As(err, &nre) {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNABORTED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// retryAfter returns the wait Graph asked for and whether it asked: the
// millisecond headers first (retry-after-ms, x-ms-retry-after-ms), then
// Retry-After as seconds (with a decimal fraction too, as Graph's own
// throttling documentation shows it: "Retry-After: 2.128") or as an HTTP
// date. A value that is not positive
// counts as not asked, so the backoff applies instead of a busy retry. A
// wait longer than maxWait (a day's Retry-After: 86400, or a number too
// large to parse) is believed as maxWait: it is beyond any invoke's budget
// all the same, so the call stops and the caller is told to wait that long.
func retryAfter(resp *http.Response) (time.Duration, bool) {
	if resp == nil {
		return 0, false
	}
	h := resp.Header
	for _, name := range [...]string{HeaderRetryAfterMS, HeaderXMSRetryAfterMS} {
		if d, ok := parseWait(h.Get(name), time.Millisecond); ok {
			return d, true
		}
	}
	v := h.Get(HeaderRetryAfter)
	if v == "" {
		return 0, false
	}
	if d, ok := parseWait(v, time.Second); ok {
		return d, true
	}
	if _, err := strconv.ParseInt(v, 10, 64); err == nil {
		return 0, false // a number, but not a positive one
	}
	if whole, frac, ok := strings.Cut(v, "."); ok {
		return parseFractionalSeconds(whole, frac)
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return min(d, maxWait), true
		}
	}
	return 0, false
}

// parseWait reads v as a count of unit written in decimal digits: a
// positive count is a wait, bounded by maxWait; a run of digits too long
// for int64 is maxWait too.
func parseWait(v string, unit time.Duration) (time.Duration, bool) {
	if v == "" || strings.Trim(v, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return maxWait, true
	case err != nil || n <= 0:
		return 0, false
	case n >= int64(maxWait/unit):
		return maxWait, true
	}
	return time.Duration(n) * unit, true
}

// parseFractionalSeconds reads whole.frac seconds, both decimal digits
// (at least one each): a positive wait, rounded up to the millisecond and
// bounded by maxWait.
func parseFractionalSeconds(whole, frac string) (time.Duration, bool) {
	if whole == "" || frac == "" || strings.Trim(whole, "0123456789") != "" || strings.Trim(frac, "0123456789") != "" {
		return 0, false
	}
	d, _ := parseWait(whole, time.Second) // 0 for a whole part of zeros
	if d >= maxWait {
		return maxWait, true
	}
	// The fraction in milliseconds: its first three digits, one more when
	// any digit after them is not zero.
	ms, _ := strconv.Atoi((frac + "00")[:3])
	if len(frac) > 3 && strings.Trim(frac[3:], "0") != "" {
		ms++
	}
	d = min(d+time.Duration(ms)*time.Millisecond, maxWait)
	return d, d > 0
}

// maxWait bounds any Retry-After we believe, so arithmetic never overflows:
// a week, far beyond any invoke's budget.
const maxWait = 7 * 24 * time.Hour
