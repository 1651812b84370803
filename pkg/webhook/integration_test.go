package webhook

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/graphemu"
	"github.com/enrollhook/enrollhook/pkg/source/generic"
)

// The real pipeline in process: handler → graph client on azcore →
// azidentity's ManagedIdentityCredential → the Graph emulator and its
// managed-identity endpoint. MSAL caches managed-identity tokens process-wide,
// so the package shares one emulator and resets it per test.
var (
	emuOnce sync.Once
	emu     *graphemu.Server
	emuSrv  *httptest.Server
)

func sharedEmulator(t testing.TB) *graphemu.Server {
	t.Helper()
	emuOnce.Do(func() {
		emu = graphemu.New(nil)
		emuSrv = httptest.NewServer(emu)
	})
	emu.Reset()
	return emu
}

type stack struct {
	h    *testHandler
	emu  *graphemu.Server
	logs *strings.Builder
}

// emulatorClient is a Graph client at graphURL (the shared emulator's
// beta root when empty) with the emulator's managed identity, retrying
// retries times, and the logger whose lines logs keeps (and the secret
// sink checks).
func emulatorClient(t *testing.T, graphURL string, retries int, tweaks ...func(*graph.Options)) (*graph.Client, *graphemu.Server, *strings.Builder, *slog.Logger) {
	t.Helper()
	e := sharedEmulator(t)
	t.Setenv("IDENTITY_ENDPOINT", emuSrv.URL+graphemu.TokenPath)
	t.Setenv("IDENTITY_HEADER", graphemu.DefaultIdentityHeader)
	cred, err := azidentity.NewManagedIdentityCredential(nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := &strings.Builder{}
	log := testLogger(&lockedWriter{w: logs})
	if graphURL == "" {
		graphURL = emuSrv.URL + "/beta"
	}
	o := &graph.Options{
		MaxRetries: retries, RetryDelay: 10 * time.Millisecond, InsecureAllowHTTP: true, Logger: log, DeadlineMargin: 50 * time.Millisecond,
	}
	for _, tweak := range tweaks {
		tweak(o)
	}
	gc, err := graph.NewClient(graphURL, cred, "https://graph.microsoft.com/.default", o)
	if err != nil {
		t.Fatal(err)
	}
	return gc, e, logs, log
}

func newStack(t *testing.T, retries int, tweaks ...func(*testOptions)) *stack {
	t.Helper()
	return newStackGraph(t, retries, nil, tweaks...)
}

// newStackGraph is newStack with the Graph client's options tweaked.
func newStackGraph(t *testing.T, retries int, graphTweak func(*graph.Options), tweaks ...func(*testOptions)) *stack {
	t.Helper()
	var gt []func(*graph.Options)
	if graphTweak != nil {
		gt = append(gt, graphTweak)
	}
	gc, e, logs, log := emulatorClient(t, "", retries, gt...)
	src, _ := generic.New(testSecret, 5*time.Minute)
	o := &testOptions{Now: func() time.Time { return testNow }, Logger: log, Timeout: 3 * time.Second}
	for _, tweak := range tweaks {
		tweak(o)
	}
	h := newTestHandler(gc, []Source{src}, o)
	return &stack{h: h, emu: e, logs: logs}
}

type lockedWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (s *stack) send(t *testing.T, body string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, signed(t, body, testNow))
	return w
}

func TestEndToEndAgainstTheEmulator(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(e *graphemu.Server)
		status     int
		problem    string
		retryAfter bool
		writes     int
	}{
		{"PATCH answered 200 with the object", func(e *graphemu.Server) { e.SetPatchStatus(200) }, 200, "", false, 1},
		{"PATCH answered 204: read back with GET", func(e *graphemu.Server) { e.SetPatchStatus(204) }, 200, "", false, 1},
		{"throttled twice then applied", func(e *graphemu.Server) { e.Throttle(2, "0") }, 200, "", false, 1},
		{"throttled without Retry-After then applied", func(e *graphemu.Server) { e.Throttle(1, "") }, 200, "", false, 1},
		{"503 then applied", func(e *graphemu.Server) { e.Fail(1, 503) }, 200, "", false, 1},
		{"Graph asks to wait longer than the deadline allows", func(e *graphemu.Server) { e.Throttle(5, "120") }, 503, "graph-unavailable", true, 0},
		{"Graph keeps failing", func(e *graphemu.Server) { e.Fail(50, 504) }, 503, "graph-unavailable", true, 0},
		{"permission missing", func(e *graphemu.Server) { e.SetPermission(graphemu.PermissionRead) }, 502, "graph-permission-denied", false, 0},
		// The default update strategy (auto) applies it with the assign
		// action instead (strategy_test.go has the patch-only refusal).
		{"tenant refuses the item route", func(e *graphemu.Server) { e.RefuseItemRoute(true) }, 200, "", false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t, 3)
			tt.setup(s.emu)
			w := s.send(t, validBody)
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tt.status, w.Body)
			}
			if got := s.emu.Writes(); got != tt.writes {
				t.Errorf("writes applied in Graph = %d, want %d", got, tt.writes)
			}
			if (w.Header().Get("Retry-After") != "") != tt.retryAfter {
				t.Errorf("Retry-After = %q", w.Header().Get("Retry-After"))
			}
			body := w.Body.String()
			if strings.Contains(body, emuSrv.URL) || strings.Contains(body, "127.0.0.1") || strings.Contains(body, "StatelessOnboardingService") {
				t.Errorf("a Graph URL or raw Graph body reached the caller: %s", body)
			}
			if tt.problem != "" {
				p := decodeProblem(t, w)
				if p.Type != apply.ProblemTypePrefix+tt.problem {
					t.Errorf("type = %s, want %s", p.Type, tt.problem)
				}
				if tt.problem == "graph-permission-denied" && !strings.Contains(p.Detail, "DeviceManagementServiceConfig.ReadWrite.All") {
					t.Errorf("detail does not name the permission: %s", p.Detail)
				}
				if tt.problem == "graph-refused" && !strings.Contains(p.Detail, "No method match route template") {
					t.Errorf("detail does not name Graph's error code: %s", p.Detail)
				}
				return
			}
			var got map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			target, _ := got["target"].(map[string]any)
			if got["id"] != graphemu.AssignmentESPGroup || target["deviceAndAppManagementAssignmentFilterType"] != "include" ||
				target["deviceAndAppManagementAssignmentFilterId"] != graphemu.FilterCorporate {
				t.Errorf("answer is not the updated assignment: %s", w.Body)
			}
			if w.Header().Get(HeaderGraphRequestID) == "" {
				t.Error("no X-Graph-Request-Id")
			}
			stored, _ := s.emu.Assignment(graphemu.ConfigESP, graphemu.AssignmentESPGroup)
			if !strings.Contains(string(stored), `"include"`) {
				t.Errorf("Graph does not hold the change: %s", stored)
			}
		})
	}
}

func TestEndToEndTokenFetchedOnceAndNeverLogged(t *testing.T) {
	s := newStack(t, 3)
	before := s.emu.TokenRequests()
	for i := 0; i < 3; i++ {
		if w := s.send(t, validBody); w.Code != 200 {
			t.Fatalf("send %d: %d %s", i, w.Code, w.Body)
		}
	}
	if n := s.emu.TokenRequests() - before; n > 1 {
		t.Errorf("token requests for 3 deliveries = %d, want at most 1", n)
	}
	logs := s.logs.String()
	for _, tok := range s.emu.IssuedTokens() {
		if strings.Contains(logs, tok) {
			t.Fatal("an access token reached the log")
		}
	}
	if strings.Contains(logs, "Bearer") || strings.Contains(logs, strings.TrimPrefix(testSecret, "whsec_")) {
		t.Fatal("the log carries an Authorization value or the secret")
	}
}

func TestEndToEndDeadlineFromTheInvoke(t *testing.T) {
	s := newStack(t, 3)
	// Graph would answer long after the test's own timeout: an answer at
	// all means the handler answered by its invoke's deadline rather than
	// waiting for Graph (no clock is compared: the machine may be slow).
	s.emu.SetLatency(10 * time.Minute)
	defer s.emu.SetLatency(0)
	r := signed(t, validBody, testNow)
	ctx, cancel := context.WithTimeout(r.Context(), 500*time.Millisecond)
	defer cancel()
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r.WithContext(ctx))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("status = %d Retry-After %q; body %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if p := decodeProblem(t, w); p.Type != apply.ProblemTypePrefix+"out-of-time" {
		t.Errorf("type = %s, want out-of-time", p.Type)
	}
}

// TestLogsCarryNoGraphURLOrIntuneMessage: failures are logged by their ids,
// never with the Graph URL or Intune's message text.
func TestLogsCarryNoGraphURLOrIntuneMessage(t *testing.T) {
	for _, setup := range []func(e *graphemu.Server){
		func(e *graphemu.Server) { e.RefuseItemRoute(true) },
		func(e *graphemu.Server) { e.Fail(50, 503) },
	} {
		// Only the item PATCH, so that the refused route stays a failure.
		s := newStack(t, 1, func(o *testOptions) { o.UpdateStrategy = apply.StrategyPatch })
		setup(s.emu)
		w := s.send(t, validBody)
		if w.Code < 500 {
			t.Fatalf("status %d", w.Code)
		}
		if w.Header().Get(HeaderGraphRequestID) == "" {
			t.Errorf("a Graph failure answer lacks X-Graph-Request-Id")
		}
		logs := s.logs.String()
		for _, leak := range []string{"deviceEnrollmentConfigurations", "StatelessOnboardingService", emuSrv.URL} {
			if strings.Contains(logs, leak) {
				t.Errorf("the log contains %q:\n%s", leak, logs)
			}
		}
	}
	// Graph unreachable: the transport error is logged without its URL.
	sharedEmulator(t)
	t.Setenv("IDENTITY_ENDPOINT", emuSrv.URL+graphemu.TokenPath)
	t.Setenv("IDENTITY_HEADER", graphemu.DefaultIdentityHeader)
	cred, err := azidentity.NewManagedIdentityCredential(nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := &strings.Builder{}
	log := testLogger(&lockedWriter{w: logs})
	gc, err := graph.NewClient("http://127.0.0.1:1/beta", cred, "https://graph.microsoft.com/.default", &graph.Options{MaxRetries: -1, InsecureAllowHTTP: true, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	src, _ := generic.New(testSecret, 5*time.Minute)
	h := newTestHandler(gc, []Source{src}, &testOptions{Now: func() time.Time { return testNow }, Logger: log})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, signed(t, validBody, testNow))
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("unreachable Graph: status %d %s", w.Code, w.Body)
	}
	if strings.Contains(logs.String(), "deviceEnrollmentConfigurations") || strings.Contains(logs.String(), "127.0.0.1:1/beta") {
		t.Errorf("the log contains the Graph URL:\n%s", logs)
	}
}
