package graph

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

const (
	// refreshAhead is how long before ExpiresOn a token is renewed when the
	// credential sets no RefreshOn, so that no call sends a token about to
	// lapse (and so that a slow token endpoint is met while one still works).
	refreshAhead = 5 * time.Minute
	// refreshBackoff spaces the renewals tried ahead of expiry after one
	// failed: the current token still works meanwhile, and the credential
	// has retried on its own already.
	refreshBackoff = 30 * time.Second

	bearerPrefix = "Bearer "
)

// tokenCache keeps the bearer token of a Client: one GetToken per token's
// life rather than per call. A token is used until RefreshOn when the
// credential sets it, else until 5 minutes before ExpiresOn; then the first
// caller to notice renews it while the others keep sending the current one.
// A renewal that fails leaves the current token in use while it lasts, and
// the next try waits 30 s. Without a usable token callers wait for one
// fetch (single flight): its token serves them all, and so does its
// failure, unless the fetch ended because its own caller's ctx did, in which
// case the next waiter fetches under its own ctx.
//
// The token travels as a prebuilt Authorization value that every request
// shares read-only, so a call spends no allocation on it.
type tokenCache struct {
	cred   azcore.TokenCredential
	scopes []string
	now    func() time.Time

	cur atomic.Pointer[cachedToken] // nil: no usable token

	mu          sync.Mutex
	flight      *tokenFlight // the fetch in progress, if any
	lastAttempt time.Time    // start of the last fetch, for refreshBackoff
}

// cachedToken is one token as requests use it.
type cachedToken struct {
	header    []string  // {"Bearer <token>"}: read-only, shared by requests
	expiresOn time.Time // not sent after this
	refreshAt time.Time // renewed after this
}

// tokenFlight is one GetToken in progress; done closes when it ends.
type tokenFlight struct {
	done chan struct{}
	tok  *cachedToken
	err  error
	// callerGone means the fetch failed because its caller's ctx ended:
	// a waiter tries again under its own ctx instead of taking the error.
	callerGone bool
	// background means nobody called for the fetch (Client.Prefetch): a
	// waiter tries again under its own ctx whatever its failure.
	background bool
	// waiters counts the callers that joined the fetch (under tokenCache.mu),
	// so that tests can tell when every caller waits on it.
	waiters int
}

func newTokenCache(cred azcore.TokenCredential, scope string) *tokenCache {
	return &tokenCache{cred: cred, scopes: []string{scope}, now: time.Now}
}

// get returns the Authorization value to send. claims, when not empty, are
// the claims of a Continuous Access Evaluation challenge that the fetched
// token must satisfy. A failure is a *tokenError.
func (tc *tokenCache) get(ctx context.Context, claims string) (*cachedToken, error) {
	return tc.getFor(ctx, claims, false)
}

// prefetch fetches a token when there is no usable one, as a fetch that
// nobody waits on: a caller that joins it and sees it fail fetches again.
func (tc *tokenCache) prefetch(ctx context.Context) error {
	_, err := tc.getFor(ctx, "", true)
	return err
}

func (tc *tokenCache) getFor(ctx context.Context, claims string, background bool) (*cachedToken, error) {
	if claims != "" {
		// Only a token fetched with these claims answers the challenge:
		// neither the cached one nor another caller's fetch will do.
		tk, err := tc.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: tc.scopes, Claims: claims, EnableCAE: true})
		if err != nil {
			return nil, &tokenError{err: err}
		}
		t := newCachedToken(tk)
		tc.cur.Store(t)
		return t, nil
	}
	if t := tc.cur.Load(); t != nil {
		now := tc.now()
		if !t.refreshAt.Before(now) && !t.expiresOn.Before(now) {
			return t, nil
		}
	}
	return tc.slow(ctx, claims, background)
}

func (tc *tokenCache) slow(ctx context.Context, claims string, background bool) (*cachedToken, error) {
	for {
		tc.mu.Lock()
		now := tc.now()
		t := tc.cur.Load()
		usable := t != nil && !t.expiresOn.IsZero() && !t.expiresOn.Before(now)
		if usable {
			if !t.refreshAt.Before(now) || tc.flight != nil || now.Sub(tc.lastAttempt) < refreshBackoff {
				tc.mu.Unlock()
				return t, nil
			}
			// Renew ahead of expiry; the others keep using t meanwhile.
			f := tc.start(now)
			tc.mu.Unlock()
			if nt, err := tc.fetch(ctx, f, claims); err == nil {
				return nt, nil
			}
			return t, nil // t still works; the failure is retried after refreshBackoff
		}
		if f := tc.flight; f != nil {
			f.waiters++
			tc.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return nil, &tokenError{err: ctx.Err()}
			}
			if f.err == nil {
				return f.tok, nil
			}
			if !f.callerGone && !f.background {
				return nil, f.err
			}
			continue
		}
		f := tc.start(now)
		f.background = background
		tc.mu.Unlock()
		return tc.fetch(ctx, f, claims)
	}
}

// start records a fetch in progress; tc.mu is held.
func (tc *tokenCache) start(now time.Time) *tokenFlight {
	f := &tokenFlight{done: make(chan struct{})}
	tc.flight, tc.lastAttempt = f, now
	return f
}

// fetch calls the credential for f and publishes what it got.
func (tc *tokenCache) fetch(ctx context.Context, f *tokenFlight, claims string) (*cachedToken, error) {
	tk, err := tc.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: tc.scopes, Claims: claims, EnableCAE: true})
	tc.mu.Lock()
	if err == nil {
		f.tok = newCachedToken(tk)
		tc.cur.Store(f.tok)
	} else {
		f.err = &tokenError{err: err}
		f.callerGone = ctx.Err() != nil
	}
	tc.flight = nil
	tc.mu.Unlock()
	close(f.done)
	return f.tok, f.err
}

func newCachedToken(tk azcore.AccessToken) *cachedToken {
	t := &cachedToken{header: []string{bearerPrefix + tk.Token}, expiresOn: tk.ExpiresOn, refreshAt: tk.RefreshOn}
	if tk.RefreshOn.IsZero() {
		t.refreshAt = tk.ExpiresOn.Add(-refreshAhead)
	}
	return t
}

// expire drops t after Graph answered 401 to it, so that the next call
// fetches a new token; a token already renewed by another call stays.
func (tc *tokenCache) expire(t *cachedToken) {
	tc.cur.CompareAndSwap(t, nil)
}

// tokenError marks the credential's failures so that they map to "could
// not get a token" rather than "Graph could not be reached". It is never
// retried: the credential has retried already if that could help.
type tokenError struct{ err error }

func (e *tokenError) Error() string { return "get token: " + e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }
func (e *tokenError) NonRetriable() {}

// caeClaims returns the claims of a Continuous Access Evaluation challenge
// in a 401 (WWW-Authenticate: Bearer error="insufficient_claims",
// claims="<base64>"), decoded, or "" when the answer holds none. Graph sends
// one when it revokes a CAE token early; the call is then sent once more
// with a token that carries the claims.
func caeClaims(resp *http.Response) (string, error) {
	for _, c := range parseChallenges(resp.Header.Values("WWW-Authenticate")) {
		if c.scheme != "Bearer" {
			continue
		}
		if claims := c.params["claims"]; claims != "" && c.params["error"] == "insufficient_claims" {
			b, err := base64.StdEncoding.DecodeString(claims)
			if err != nil {
				// The decoding error ("illegal base64 data at input byte
				// 42") would tell nobody anything.
				return "", errors.New("authentication challenge contains invalid claims: " + claims)
			}
			return string(b), nil
		}
	}
	return "", nil
}

type authChallenge struct {
	scheme string
	params map[string]string
}

var (
	// challengeRE matches a challenge with quoted parameters, capturing its
	// scheme and parameters; challengeParamRE one parameter's name and value.
	challengeRE      = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?:(\w+) ((?:\w+="[^"]*",?\s*)+))`) })
	challengeParamRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(\w+)="([^"]*)"`) })
)

// parseChallenges reads WWW-Authenticate values, each of which may hold
// several challenges.
func parseChallenges(values []string) []authChallenge {
	var parsed []authChallenge
	for _, h := range values {
		for _, sm := range challengeRE().FindAllStringSubmatch(h, -1) {
			c := authChallenge{scheme: sm[1], params: map[string]string{}}
			for _, p := range challengeParamRE().FindAllStringSubmatch(sm[2], -1) {
				c.params[p[1]] = p[2]
			}
			parsed = append(parsed, c)
		}
	}
	return parsed
}
