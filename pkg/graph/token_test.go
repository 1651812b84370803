package graph

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// scriptedCred is a credential whose answers the test decides: each call
// gets the next token ("tok-1", "tok-2", ...) valid for life from the test
// clock, unless fail is set; block, when set, holds every call until it is
// closed or the call's ctx ends.
type scriptedCred struct {
	mu      sync.Mutex
	calls   int
	opts    []policy.TokenRequestOptions
	clock   func() time.Time
	life    time.Duration
	refresh time.Duration // RefreshOn = issue time + refresh, when set
	fail    error
	block   chan struct{}
	called  chan struct{} // receives one value per call, when set
}

var _ azcore.TokenCredential = (*scriptedCred)(nil)

func (c *scriptedCred) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	c.calls++
	n := c.calls
	c.opts = append(c.opts, o)
	block, called := c.block, c.called
	c.mu.Unlock()
	if called != nil {
		called <- struct{}{}
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return azcore.AccessToken{}, ctx.Err()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return azcore.AccessToken{}, c.fail
	}
	now := c.clock()
	tk := azcore.AccessToken{Token: "tok-" + strconv.Itoa(n), ExpiresOn: now.Add(c.life)}
	if c.refresh > 0 {
		tk.RefreshOn = now.Add(c.refresh)
	}
	return tk, nil
}

func (c *scriptedCred) Calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// testClock is a clock the test moves by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (k *testClock) Now() time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.now
}

func (k *testClock) Advance(d time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.now = k.now.Add(d)
}

func newTestCache(cred *scriptedCred) (*tokenCache, *testClock) {
	clock := &testClock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	cred.clock = clock.Now
	tc := newTokenCache(cred, "https://graph.microsoft.com/.default")
	tc.now = clock.Now
	return tc, clock
}

func bearer(t *testing.T, tc *tokenCache) string {
	t.Helper()
	tok, err := tc.get(context.Background(), "")
	if err != nil {
		t.Fatalf("get = %v", err)
	}
	return tok.header[0]
}

func TestTokenCacheReusesTheToken(t *testing.T) {
	cred := &scriptedCred{life: time.Hour}
	tc, clock := newTestCache(cred)
	for i := range 5 {
		if got := bearer(t, tc); got != "Bearer tok-1" {
			t.Fatalf("get #%d = %q, want Bearer tok-1", i+1, got)
		}
		clock.Advance(10 * time.Minute) // 40 minutes in all: far from expiry
	}
	if n := cred.Calls(); n != 1 {
		t.Errorf("GetToken calls = %d, want 1", n)
	}
	o := cred.opts[0]
	if len(o.Scopes) != 1 || o.Scopes[0] != "https://graph.microsoft.com/.default" || !o.EnableCAE || o.Claims != "" {
		t.Errorf("TokenRequestOptions = %+v, want the scope, EnableCAE and no claims", o)
	}
}

func TestTokenCacheRefreshesAheadOfExpiry(t *testing.T) {
	cred := &scriptedCred{life: time.Hour}
	tc, clock := newTestCache(cred)
	bearer(t, tc)
	clock.Advance(55 * time.Minute) // exactly 5 minutes before expiry: still fresh
	if got := bearer(t, tc); got != "Bearer tok-1" || cred.Calls() != 1 {
		t.Fatalf("at expiry-5m: get = %q after %d calls, want tok-1 after 1", got, cred.Calls())
	}
	clock.Advance(time.Second)
	if got := bearer(t, tc); got != "Bearer tok-2" || cred.Calls() != 2 {
		t.Fatalf("within 5m of expiry: get = %q after %d calls, want tok-2 after 2", got, cred.Calls())
	}
	if got := bearer(t, tc); got != "Bearer tok-2" || cred.Calls() != 2 {
		t.Errorf("after the refresh: get = %q after %d calls, want tok-2 after 2", got, cred.Calls())
	}
}

func TestTokenCacheHonoursRefreshOn(t *testing.T) {
	cred := &scriptedCred{life: time.Hour, refresh: 10 * time.Minute}
	tc, clock := newTestCache(cred)
	bearer(t, tc)
	clock.Advance(10 * time.Minute)
	if got := bearer(t, tc); got != "Bearer tok-1" {
		t.Fatalf("at RefreshOn: get = %q, want tok-1", got)
	}
	clock.Advance(time.Second)
	if got := bearer(t, tc); got != "Bearer tok-2" || cred.Calls() != 2 {
		t.Errorf("past RefreshOn (50m before expiry): get = %q after %d calls, want tok-2 after 2", got, cred.Calls())
	}
}

// A renewal ahead of expiry that fails leaves the current token in use, and
// is not tried again for refreshBackoff.
func TestTokenCacheRefreshFailureKeepsTheToken(t *testing.T) {
	cred := &scriptedCred{life: time.Hour}
	tc, clock := newTestCache(cred)
	bearer(t, tc)
	cred.fail = errors.New("IMDS unavailable")
	clock.Advance(56 * time.Minute)
	for range 3 {
		if got := bearer(t, tc); got != "Bearer tok-1" {
			t.Fatalf("get = %q, want tok-1 while it lasts", got)
		}
	}
	if n := cred.Calls(); n != 2 {
		t.Errorf("GetToken calls = %d, want 2 (one renewal, then the backoff)", n)
	}
	clock.Advance(refreshBackoff)
	cred.mu.Lock()
	cred.fail = nil
	cred.mu.Unlock()
	if got := bearer(t, tc); got != "Bearer tok-3" {
		t.Errorf("after the backoff: get = %q, want tok-3", got)
	}
}

func TestTokenCacheFailureWithoutAToken(t *testing.T) {
	credErr := errors.New("AADSTS700016: application not found")
	cred := &scriptedCred{life: time.Hour, fail: credErr}
	tc, clock := newTestCache(cred)
	for i := range 2 {
		_, err := tc.get(context.Background(), "")
		var te *tokenError
		if !errors.As(err, &te) || !errors.Is(err, credErr) {
			t.Fatalf("get #%d = %v, want a *tokenError wrapping the credential's", i+1, err)
		}
		if retriableError(err) {
			t.Errorf("a token failure is retriable: %v", err)
		}
	}
	// No backoff without a token: every call asks the credential again.
	if n := cred.Calls(); n != 2 {
		t.Errorf("GetToken calls = %d, want 2", n)
	}
	// A token past its expiry counts as none.
	cred.mu.Lock()
	cred.fail = nil
	cred.mu.Unlock()
	bearer(t, tc)
	clock.Advance(time.Hour + time.Second)
	cred.mu.Lock()
	cred.fail = credErr
	cred.mu.Unlock()
	if _, err := tc.get(context.Background(), ""); !errors.Is(err, credErr) {
		t.Errorf("get after expiry = %v, want the credential's failure", err)
	}
}

// waitForWaiters waits until n callers wait on tc's fetch in progress.
func waitForWaiters(t *testing.T, tc *tokenCache, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tc.mu.Lock()
		got := 0
		if tc.flight != nil {
			got = tc.flight.waiters
		}
		tc.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiters = %d, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// getConcurrently has n callers ask tc for a token while the credential
// holds its first call, releases it once the other n-1 wait on it, and
// returns what each got.
func getConcurrently(t *testing.T, tc *tokenCache, cred *scriptedCred, n int) ([]string, []error) {
	t.Helper()
	cred.block, cred.called = make(chan struct{}), make(chan struct{}, n)
	got, errs := make([]string, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			tok, err := tc.get(context.Background(), "")
			if err == nil {
				got[i] = tok.header[0]
			}
			errs[i] = err
		})
	}
	<-cred.called
	waitForWaiters(t, tc, n-1)
	close(cred.block)
	wg.Wait()
	return got, errs
}

func TestTokenCacheSingleFlight(t *testing.T) {
	cred := &scriptedCred{life: time.Hour}
	tc, _ := newTestCache(cred)
	got, errs := getConcurrently(t, tc, cred, 20)
	for i := range got {
		if errs[i] != nil || got[i] != "Bearer tok-1" {
			t.Errorf("caller %d: %q, %v; want Bearer tok-1", i, got[i], errs[i])
		}
	}
	if n := cred.Calls(); n != 1 {
		t.Errorf("GetToken calls = %d for 20 concurrent callers, want 1", n)
	}
}

func TestTokenCacheSingleFlightFailure(t *testing.T) {
	credErr := errors.New("IMDS unavailable")
	cred := &scriptedCred{life: time.Hour, fail: credErr}
	tc, _ := newTestCache(cred)
	_, errs := getConcurrently(t, tc, cred, 20)
	for i, err := range errs {
		if !errors.Is(err, credErr) {
			t.Errorf("caller %d: %v, want the credential's failure", i, err)
		}
	}
	if n := cred.Calls(); n != 1 {
		t.Errorf("GetToken calls = %d for 20 concurrent callers, want 1 (its failure is theirs)", n)
	}
}

// A fetch that fails because its own caller gave up is not the others'
// failure: the next waiter fetches under its own ctx.
func TestTokenCacheLeaderGivesUp(t *testing.T) {
	cred := &scriptedCred{life: time.Hour, block: make(chan struct{}), called: make(chan struct{}, 2)}
	tc, _ := newTestCache(cred)
	leaderCtx, cancel := context.WithCancel(context.Background())
	leaderErr := make(chan error, 1)
	go func() {
		_, err := tc.get(leaderCtx, "")
		leaderErr <- err
	}()
	<-cred.called
	waiter := make(chan string, 1)
	go func() {
		tok, err := tc.get(context.Background(), "")
		if err != nil {
			waiter <- err.Error()
			return
		}
		waiter <- tok.header[0]
	}()
	waitForWaiters(t, tc, 1)
	cancel()
	if err := <-leaderErr; !errors.Is(err, context.Canceled) {
		t.Errorf("leader: %v, want context.Canceled", err)
	}
	<-cred.called
	close(cred.block)
	if got := <-waiter; got != "Bearer tok-2" {
		t.Errorf("waiter: %q, want Bearer tok-2 from its own fetch", got)
	}
}

// A waiter whose own ctx ends stops waiting.
func TestTokenCacheWaiterGivesUp(t *testing.T) {
	cred := &scriptedCred{life: time.Hour, block: make(chan struct{}), called: make(chan struct{}, 1)}
	tc, _ := newTestCache(cred)
	go func() { _, _ = tc.get(context.Background(), "") }()
	<-cred.called
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := tc.get(ctx, "")
		done <- err
	}()
	waitForWaiters(t, tc, 1)
	cancel()
	var te *tokenError
	if err := <-done; !errors.As(err, &te) || !errors.Is(err, context.Canceled) {
		t.Errorf("waiter: %v, want a *tokenError wrapping context.Canceled", err)
	}
	close(cred.block)
}

// Many callers racing through expiry and refresh all get a usable token
// (run under -race).
func TestTokenCacheConcurrentRefresh(t *testing.T) {
	var calls atomic.Int32
	cred := &scriptedCred{life: 10 * time.Minute}
	tc, clock := newTestCache(cred)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if _, err := tc.get(context.Background(), ""); err != nil {
					t.Error(err)
					return
				}
				calls.Add(1)
				clock.Advance(time.Second)
			}
		})
	}
	wg.Wait()
	// 1600 s with a token every 5 minutes (10 minutes' life, renewed 5
	// before): about 6 fetches, never one per call.
	if n := cred.Calls(); n > 20 {
		t.Errorf("GetToken calls = %d for %d gets, want a handful", n, calls.Load())
	}
}

func TestTokenCacheExpire(t *testing.T) {
	cred := &scriptedCred{life: time.Hour}
	tc, _ := newTestCache(cred)
	first, _ := tc.get(context.Background(), "")
	tc.expire(first)
	if got := bearer(t, tc); got != "Bearer tok-2" {
		t.Fatalf("after expire: %q, want tok-2", got)
	}
	tc.expire(first) // an old token's 401 keeps the new one
	if got := bearer(t, tc); got != "Bearer tok-2" || cred.Calls() != 2 {
		t.Errorf("after a stale expire: %q after %d calls, want tok-2 after 2", got, cred.Calls())
	}
	// A CAE challenge is answered only by a token fetched with its claims,
	// even while a fresh one (another caller's renewal) is cached.
	calls := cred.Calls()
	got, err := tc.get(context.Background(), "claims-json")
	if err != nil || cred.Calls() != calls+1 || cred.opts[len(cred.opts)-1].Claims != "claims-json" {
		t.Errorf("claims with a fresh token cached: %v, %+v; want a fetch with the claims", err, cred.opts)
	}
	if got != tc.cur.Load() {
		t.Errorf("the token fetched with the claims is not the one cached for the next calls")
	}
}

func TestCAEClaims(t *testing.T) {
	for _, tc := range []struct {
		name, header, claims string
		err                  bool
	}{
		{"none", "", "", false},
		{"other scheme", `Basic realm="x"`, "", false},
		{"bearer without claims", `Bearer realm="", error="invalid_token"`, "", false},
		{"CAE", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZX19fQ=="`,
			`{"access_token":{"nbf":{"essential":true}}}`, false},
		{"bad claims", `Bearer error="insufficient_claims", claims="not base64!"`, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := &http.Response{Header: http.Header{}}
			if tc.header != "" {
				resp.Header.Set("WWW-Authenticate", tc.header)
			}
			claims, err := caeClaims(resp)
			if claims != tc.claims || (err != nil) != tc.err {
				t.Errorf("caeClaims(%q) = %q, %v; want %q, error %v", tc.header, claims, err, tc.claims, tc.err)
			}
		})
	}
}

// TestPrefetch: the prefetch fetches the token in the background; a call
// made while it is in flight waits for it rather than fetching another,
// and the calls after it send its token. A failed prefetch is logged, and
// the next call fetches again.
func TestPrefetch(t *testing.T) {
	logs := &syncWriter{w: &bytes.Buffer{}}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	cred := &scriptedCred{life: time.Hour, block: make(chan struct{}), called: make(chan struct{}, 4)}
	tc, _ := newTestCache(cred)
	c := &Client{tokens: tc, log: log}
	c.Prefetch(context.Background(), time.Minute)
	<-cred.called // the prefetch is fetching
	got := make(chan string, 1)
	go func() {
		tok, err := tc.get(context.Background(), "")
		if err != nil {
			got <- err.Error()
			return
		}
		got <- tok.header[0]
	}()
	waitForWaiters(t, tc, 1)
	close(cred.block)
	if tok := <-got; tok != "Bearer tok-1" || cred.Calls() != 1 {
		t.Fatalf("a call during the prefetch sent %q after %d fetches, want the prefetched tok-1 and one fetch", tok, cred.Calls())
	}
	if tok := bearer(t, tc); tok != "Bearer tok-1" || cred.Calls() != 1 {
		t.Fatalf("a call after the prefetch sent %q after %d fetches", tok, cred.Calls())
	}

	failing := &scriptedCred{life: time.Hour, fail: errors.New("no identity endpoint"), called: make(chan struct{}, 4)}
	tc2, _ := newTestCache(failing)
	c2 := &Client{tokens: tc2, log: log}
	c2.Prefetch(context.Background(), time.Minute)
	<-failing.called
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "graph token prefetch failed") {
		if time.Now().After(deadline) {
			t.Fatalf("a failed prefetch is not logged: %s", logs.String())
		}
		time.Sleep(time.Millisecond)
	}
	failing.mu.Lock()
	failing.fail = nil
	failing.mu.Unlock()
	if tok := bearer(t, tc2); tok != "Bearer tok-2" || failing.Calls() != 2 {
		t.Fatalf("after a failed prefetch a call sent %q after %d fetches, want a second fetch", tok, failing.Calls())
	}
}

// syncWriter serialises writes to w, for a logger used from the
// prefetch's goroutine and read by the test.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

// stepCred answers its calls in turn: each call n waits on gates[n] (when
// there is one) and returns errs[n] or a token "tok-n".
type stepCred struct {
	mu     sync.Mutex
	calls  int
	gates  []chan struct{}
	errs   []error
	called chan int
}

func (c *stepCred) GetToken(ctx context.Context, _ policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	n := c.calls
	c.calls++
	c.mu.Unlock()
	c.called <- n
	if n < len(c.gates) && c.gates[n] != nil {
		select {
		case <-c.gates[n]:
		case <-ctx.Done():
			return azcore.AccessToken{}, ctx.Err()
		}
	}
	if n < len(c.errs) && c.errs[n] != nil {
		return azcore.AccessToken{}, c.errs[n]
	}
	return azcore.AccessToken{Token: "tok-" + strconv.Itoa(n+1), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// TestPrefetchFailureIsNotPassedOn: a call that joined the prefetch's fetch
// and sees it fail fetches a token of its own rather than taking the
// prefetch's error (a transient failure at cold start must not fail the
// first delivery); so does a call that joined a prefetch that hung until
// its own bound.
func TestPrefetchFailureIsNotPassedOn(t *testing.T) {
	for _, tc := range []struct {
		name   string
		within time.Duration
		gate   chan struct{}
		err    error
	}{
		{"the prefetch fails", time.Minute, make(chan struct{}), errors.New("transient STS 503")},
		{"the prefetch hangs past its bound", 50 * time.Millisecond, make(chan struct{}), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cred := &stepCred{gates: []chan struct{}{tc.gate}, errs: []error{tc.err}, called: make(chan int, 4)}
			cache := newTokenCache(cred, "https://graph.microsoft.com/.default")
			c := &Client{tokens: cache, log: slog.New(slog.DiscardHandler)}
			c.Prefetch(context.Background(), tc.within)
			<-cred.called // the prefetch is fetching
			type result struct {
				tok *cachedToken
				err error
			}
			got := make(chan result, 1)
			go func() {
				tok, err := cache.get(context.Background(), "")
				got <- result{tok, err}
			}()
			waitForWaiters(t, cache, 1)
			if tc.err != nil {
				close(tc.gate) // the prefetch fails now; a hung one ends at its bound
			}
			r := <-got
			if r.err != nil || r.tok.header[0] != "Bearer tok-2" {
				t.Fatalf("the call that joined the prefetch got %v, %v; want a token of its own (tok-2)", r.tok, r.err)
			}
			if tc.err == nil {
				close(tc.gate)
			}
		})
	}
}
