package graph_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graph"
)

// TestAWriteRetriedAfterAnUnclearAnswer: a PATCH answered 504 or cut off
// (Intune may have applied it) and then refused on the retry fails marked
// change.ErrOutcomeUnknown, its code still Graph's refusal; after a 429
// (refused unprocessed) it is not. A read is never marked. A connection
// that never opened sent nothing.
func TestAWriteRetriedAfterAnUnclearAnswer(t *testing.T) {
	for _, tt := range []struct {
		name    string
		first   func(r *http.Request) (*http.Response, error)
		unknown bool
	}{
		{"504", func(r *http.Request) (*http.Response, error) {
			return memResponse(r, 504, `{"error":{"code":"GatewayTimeout"}}`, nil), nil
		}, true},
		{"connection reset", func(*http.Request) (*http.Response, error) {
			return nil, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
		}, true},
		{"429", func(r *http.Request) (*http.Response, error) {
			return memResponse(r, 429, `{"error":{"code":"TooManyRequests"}}`, map[string]string{"Retry-After": "0.001"}), nil
		}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			tr := transportFunc(func(r *http.Request) (*http.Response, error) {
				if calls++; calls == 1 {
					return tt.first(r)
				}
				return memResponse(r, 400, `{"error":{"code":"BadRequest","message":"x"}}`, nil), nil
			})
			c, err := graph.NewClient("https://graph.example/beta", &fakeCredential{token: testToken}, testScope,
				&graph.Options{Transport: tr, RetryDelay: time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.PatchAssignment(context.Background(), cfgID, asgID, testAssignment())
			if ce := codeOf(t, err); calls != 2 || ce.Code != change.CodeGraphRefused || change.OutcomeUnknown(err) != tt.unknown {
				t.Errorf("PATCH after %s: %d calls, %v; unknown = %v, want %v", tt.name, calls, err, change.OutcomeUnknown(err), tt.unknown)
			}
			calls = 0
			if _, err := c.GetAssignment(context.Background(), cfgID, asgID); err == nil || change.OutcomeUnknown(err) {
				t.Errorf("GET after %s: %v, want a refusal not marked unknown", tt.name, err)
			}
		})
	}
	t.Run("connection refused", func(t *testing.T) {
		tr := transportFunc(func(*http.Request) (*http.Response, error) {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
		})
		testNothingSent(t, tr)
	})
	t.Run("dial timeouts, retried", func(t *testing.T) {
		tr := transportFunc(func(*http.Request) (*http.Response, error) {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}
		})
		testNothingSent(t, tr)
	})
}

// testNothingSent checks that a PATCH over tr, which never connects, is
// known to have sent nothing.
func testNothingSent(t *testing.T, tr transportFunc) {
	t.Helper()
	c, err := graph.NewClient("https://graph.example/beta", &fakeCredential{token: testToken}, testScope,
		&graph.Options{Transport: tr, RetryDelay: time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.PatchAssignment(context.Background(), cfgID, asgID, testAssignment())
	if !errors.Is(err, change.ErrNothingSent) || change.OutcomeUnknown(err) {
		t.Errorf("PATCH that never connected: %v, want nothing sent", err)
	}
}

// TestNoRetryAfterTheDeadline: a wait that ends past the call's deadline
// (a sandbox thawed after it, whose timers all fired) sends no other
// attempt, even when the wait, not the context, ended first.
func TestNoRetryAfterTheDeadline(t *testing.T) {
	calls := 0
	tr := transportFunc(func(r *http.Request) (*http.Response, error) {
		calls++
		return memResponse(r, 503, `{"error":{"code":"ServiceUnavailable"}}`, nil), nil
	})
	c, err := graph.NewClient("https://graph.example/beta", &fakeCredential{token: testToken}, testScope,
		&graph.Options{Transport: tr, RetryDelay: time.Millisecond, DeadlineMargin: time.Millisecond, Logger: slog.New(slog.DiscardHandler),
			Sleep: func(ctx context.Context, d time.Duration) error {
				dl, _ := ctx.Deadline()
				time.Sleep(time.Until(dl) + 20*time.Millisecond) // thawed past it
				return nil                                       // the wait's timer won
			}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := c.PatchAssignment(ctx, cfgID, asgID, testAssignment()); err == nil || calls != 1 {
		t.Errorf("PATCH = %v after %d attempts; want one attempt, then the deadline", err, calls)
	}
}

// slowCredential hands out its token only after the call's deadline (a
// sandbox frozen while the token was fetched, thawed after it).
type slowCredential struct{ fakeCredential }

func (s *slowCredential) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if dl, ok := ctx.Deadline(); ok {
		time.Sleep(time.Until(dl) + 20*time.Millisecond)
	}
	return s.fakeCredential.GetToken(ctx, o)
}

// TestNoWriteOnceTheTokenCameLate: a token that comes after the call's
// deadline sends nothing: the write never goes out late.
func TestNoWriteOnceTheTokenCameLate(t *testing.T) {
	calls := 0
	tr := transportFunc(func(r *http.Request) (*http.Response, error) {
		calls++
		return memResponse(r, 200, `{"id":"x"}`, nil), nil
	})
	c, err := graph.NewClient("https://graph.example/beta", &slowCredential{fakeCredential{token: testToken}}, testScope,
		&graph.Options{Transport: tr, DeadlineMargin: time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.PatchAssignment(ctx, cfgID, asgID, testAssignment()); err == nil || calls != 0 {
		t.Errorf("PATCH = %v after %d sends; want an error, nothing sent", err, calls)
	}
}
