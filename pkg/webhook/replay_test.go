package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/chat"
	"github.com/enrollhook/enrollhook/pkg/graphemu"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/policy"
	"github.com/enrollhook/enrollhook/pkg/source/generic"
	"github.com/enrollhook/enrollhook/pkg/source/jira"
	"github.com/enrollhook/enrollhook/pkg/source/servicenow"
	"github.com/enrollhook/enrollhook/pkg/source/slack"
	"github.com/enrollhook/enrollhook/pkg/source/teams"
)

// The replay suite: a delivery captured on the wire is sent again with
// every part its signature does not cover changed. Whatever the attacker
// (or a confused proxy) changes, Graph sees at most one write per signed
// delivery.

// newReplayStack serves every sender against the Graph emulator with the
// embedded de-duplication store, as `make run` does.
func newReplayStack(t *testing.T) *stack {
	t.Helper()
	return newReplayStackAt(t, "")
}

// newReplayStackAt is newReplayStack with Graph at graphURL (the emulator
// when empty), for a Graph that cannot be reached.
func newReplayStackAt(t *testing.T, graphURL string) *stack {
	t.Helper()
	gc, e, logs, log := emulatorClient(t, graphURL, 2)
	gen, _ := generic.New(testSecret, 5*time.Minute)
	sn, err := servicenow.New(snSecret, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	jr, err := jira.New(jiraSecret, jiraTestOptions)
	if err != nil {
		t.Fatal(err)
	}
	sl, err := slack.New(chatSlackSecret, &slack.Options{
		Allow:        chat.Allowlist{Tenant: "T0001", Users: []string{"U0456EFGH"}},
		AnswerWithin: 2 * time.Second, AllowLoopbackResponseURL: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	tm, err := teams.New(chatTeamsToken, &teams.Options{Allow: chat.Allowlist{Tenant: chatTenant, Users: []string{chatAAD}}, AnswerWithin: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	o := &testOptions{Now: func() time.Time { return testNow }, Logger: log, Timeout: 3 * time.Second,
		UpdateStrategy: apply.StrategyPatch, Store: idempotency.NewMemory(nil, 0), Policy: policy.Default()}
	return &stack{h: newTestHandler(gc, []Source{gen, sn, jr, sl, tm}, o), emu: e, logs: logs}
}

// captured is one signed delivery as it crossed the wire.
type captured struct {
	path   string
	header http.Header
	body   []byte
}

func capture(r *http.Request) captured {
	b, _ := io.ReadAll(r.Body)
	return captured{path: r.URL.Path, header: r.Header.Clone(), body: b}
}

// request rebuilds the delivery, changed by mod.
func (c captured) request(mod func(r *http.Request)) *http.Request {
	r := httptest.NewRequest(http.MethodPost, c.path, bytes.NewReader(c.body))
	r.Header = c.header.Clone()
	if mod != nil {
		mod(r)
	}
	return r
}

// unsignedChanges are the parts of a request no sender's signature covers.
var unsignedChanges = []struct {
	name string
	mod  func(r *http.Request)
}{
	{"sent again as it is", nil},
	{"another Jira identifier", func(r *http.Request) { r.Header.Set(jira.HeaderIdentifier, "replayed-identifier-1") }},
	{"another Jira identifier, retry flag", func(r *http.Request) {
		r.Header.Set(jira.HeaderIdentifier, "replayed-identifier-2")
		r.Header.Set(jira.HeaderRetry, "1")
	}},
	{"no Jira identifier", func(r *http.Request) { r.Header.Del(jira.HeaderIdentifier) }},
	{"a query", func(r *http.Request) { r.URL.RawQuery = "replay=1" }},
	{"dryRun=false", func(r *http.Request) { r.URL.RawQuery = "dryRun=false" }},
	{"dryRun=true", func(r *http.Request) { r.URL.RawQuery = "dryRun=true" }},
	{"DRYRUN=1", func(r *http.Request) { r.URL.RawQuery = "DRYRUN=1" }},
	{"Prefer: dry-run", func(r *http.Request) { r.Header.Set("Prefer", "dry-run") }},
	{"Prefer: return=minimal", func(r *http.Request) { r.Header.Set("Prefer", "return=minimal") }},
	{"a request id", func(r *http.Request) { r.Header.Set("X-Request-Id", "replay-request-id") }},
	{"Content-Type with charset", func(r *http.Request) {
		r.Header.Set("Content-Type", r.Header.Get("Content-Type")+"; charset=utf-8")
	}},
	{"lower-case header names", func(r *http.Request) {
		h := http.Header{}
		for k, v := range r.Header {
			h.Set(strings.ToLower(k), v[0]) // Set canonicalises again, as net/http and the adapter do
		}
		r.Header = h
	}},
	{"body re-encoded by a proxy", func(r *http.Request) {
		var v any
		if b, _ := io.ReadAll(r.Body); json.Unmarshal(b, &v) == nil {
			out, _ := json.MarshalIndent(v, "", "  ")
			r.Body = io.NopCloser(bytes.NewReader(out))
			r.ContentLength = int64(len(out))
		}
	}},
}

func TestReplaysOfACapturedDeliveryWriteOnce(t *testing.T) {
	for _, tt := range []struct {
		name string
		// original is the signed delivery; it changes Graph when first sent.
		original func(t *testing.T) *http.Request
	}{
		{"generic", func(t *testing.T) *http.Request { return signed(t, validBody, testNow) }},
		{"servicenow", func(t *testing.T) *http.Request {
			return snRequest(t, itsmSample(t, "../source/servicenow/testdata/approved.json"), testNow)
		}},
		{"jira webhook", func(t *testing.T) *http.Request {
			return jiraRequest(t, itsmSample(t, "../source/jira/testdata/issue-approved.json"))
		}},
		{"jira automation envelope", func(t *testing.T) *http.Request {
			return jiraRequest(t, itsmSample(t, "../source/jira/testdata/automation-envelope.json"))
		}},
		{"slack", func(t *testing.T) *http.Request {
			return slackRequest(t, slackForm("assign "+graphemu.ConfigESP+" "+graphemu.AssignmentESPGroup+" group "+newGroup), testNow)
		}},
		{"teams", func(t *testing.T) *http.Request {
			return teamsRequest(t, teamsActivity("assign "+graphemu.ConfigESP+" "+graphemu.AssignmentESPGroup+" group "+newGroup, testNow))
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newReplayStack(t)
			c := capture(tt.original(t))
			first := httptest.NewRecorder()
			s.h.ServeHTTP(first, c.request(nil))
			waitChat(t, s.h)
			if first.Code != http.StatusOK || s.emu.Writes() != 1 {
				t.Fatalf("the original delivery: %d %s, writes %d; want 200 and one write", first.Code, first.Body, s.emu.Writes())
			}
			for _, u := range unsignedChanges {
				w := httptest.NewRecorder()
				s.h.ServeHTTP(w, c.request(u.mod))
				waitChat(t, s.h)
				if n := s.emu.Writes(); n != 1 {
					t.Fatalf("%s: Graph writes = %d after the replay (%d %s), want 1", u.name, n, w.Code, w.Body)
				}
				if w.Code == http.StatusOK && w.Header().Get(HeaderReplay) != "true" {
					t.Errorf("%s: answered 200 without %s: true: %s", u.name, HeaderReplay, w.Body)
				}
				if strings.Contains(w.Body.String(), `"dryRun":true`) {
					t.Errorf("%s: a dry-run flag on an applied delivery answered a plan, not the real answer: %s", u.name, w.Body)
				}
			}
		})
	}
}

func waitChat(t *testing.T, h *testHandler) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestReplayOfADryRunNeverApplies: a dry run captured on the wire, sent
// again without its (unsigned) flag, changes nothing, on every route.
func TestReplayOfADryRunNeverApplies(t *testing.T) {
	for _, tt := range []struct {
		name     string
		original func(t *testing.T) *http.Request
	}{
		{"generic", func(t *testing.T) *http.Request { return signed(t, validBody, testNow) }},
		{"servicenow", func(t *testing.T) *http.Request {
			return snRequest(t, itsmSample(t, "../source/servicenow/testdata/approved.json"), testNow)
		}},
		{"jira", func(t *testing.T) *http.Request {
			return jiraRequest(t, itsmSample(t, "../source/jira/testdata/issue-approved.json"))
		}},
		{"slack", func(t *testing.T) *http.Request {
			return slackRequest(t, slackForm("assign "+graphemu.ConfigESP+" "+graphemu.AssignmentESPGroup+" group "+newGroup), testNow)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newReplayStack(t)
			c := capture(tt.original(t))
			dry := httptest.NewRecorder()
			s.h.ServeHTTP(dry, c.request(func(r *http.Request) { r.URL.RawQuery = "dryRun=true" }))
			waitChat(t, s.h)
			if dry.Code != http.StatusOK || !strings.Contains(strings.ToLower(dry.Body.String()), "dry") {
				t.Fatalf("the dry run: %d %s", dry.Code, dry.Body)
			}
			for _, mod := range []func(*http.Request){nil, func(r *http.Request) { r.URL.RawQuery = "dryRun=false" }} {
				w := httptest.NewRecorder()
				s.h.ServeHTTP(w, c.request(mod))
				waitChat(t, s.h)
				if n := s.emu.Writes(); n != 0 {
					t.Fatalf("the dry run sent again without its flag wrote %d times (%d %s)", n, w.Code, w.Body)
				}
			}
		})
	}
}

// TestOneDeliveryIDOneDecision: the same signed delivery id with any other
// part of the decision is refused as a different delivery, never answered
// with the first one's outcome.
func TestOneDeliveryIDOneDecision(t *testing.T) {
	s := newReplayStack(t)
	if w := s.serve(t, signed(t, validBody, testNow)); w.Code != http.StatusOK {
		t.Fatalf("first: %d %s", w.Code, w.Body)
	}
	for _, tt := range []struct{ name, from, to string }{
		{"another approver", `"approvedBy":"bob@contoso.com"`, `"approvedBy":"carol@contoso.com"`},
		{"another requester", `"requestedBy":"alice@contoso.com"`, `"requestedBy":"dave@contoso.com"`},
		{"another ticket", `"id":"CHG0030042"`, `"id":"CHG0030099"`},
		{"another system", `"system":"servicenow"`, `"system":"jira"`},
		{"another state spelling", `"state":"approved"`, `"state":"Approved"`},
		{"another filter type", `"deviceAndAppManagementAssignmentFilterType":"include"`, `"deviceAndAppManagementAssignmentFilterType":"exclude"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := strings.Replace(validBody, tt.from, tt.to, 1)
			if body == validBody {
				t.Fatalf("%s not in the body", tt.from)
			}
			w := s.serve(t, signed(t, body, testNow))
			if p := decodeProblem(t, w); w.Code != http.StatusConflict || p.Type != apply.ProblemTypePrefix+"delivery-mismatch" {
				t.Errorf("%d %s, want 409 delivery-mismatch", w.Code, w.Body)
			}
		})
	}
	if n := s.emu.Writes(); n != 1 {
		t.Errorf("Graph writes = %d, want 1", n)
	}
}

// TestGraphFailuresLogNoGraphURL: when Graph fails, no log line of the
// request, chat or follow-up path names a Graph URL, a Graph path or
// Intune's text; every cause goes through one redaction (apply.Cause).
func TestGraphFailuresLogNoGraphURL(t *testing.T) {
	// A port nothing listens on: the transport error names the URL.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	unreachable := "http://" + l.Addr().String() + "/beta"
	l.Close()
	for _, tt := range []struct {
		name   string
		status int    // the emulator's failure, or 0
		url    string // Graph's root, or "" for the emulator
	}{
		{"500", http.StatusInternalServerError, ""},
		{"503", http.StatusServiceUnavailable, ""},
		{"403", http.StatusForbidden, ""},
		{"400", http.StatusBadRequest, ""},
		{"unreachable", 0, unreachable},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newReplayStackAt(t, tt.url)
			if tt.status != 0 {
				s.emu.Fail(100, tt.status)
			}
			w := httptest.NewRecorder()
			s.h.ServeHTTP(w, slackRequest(t, slackForm("assign "+graphemu.ConfigESP+" "+graphemu.AssignmentESPGroup+" group "+newGroup), testNow))
			waitChat(t, s.h)
			// Not applied (refused, or nothing sent), or unknown (5xx
			// after the PATCH went out).
			if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "not applied") && !strings.Contains(w.Body.String(), "outcome is unknown") {
				t.Fatalf("slack reply: %d %s", w.Code, w.Body)
			}
			w = httptest.NewRecorder()
			s.h.ServeHTTP(w, teamsRequest(t, teamsActivity("show "+graphemu.ConfigESP+" "+graphemu.AssignmentESPGroup, testNow)))
			waitChat(t, s.h)
			w = httptest.NewRecorder()
			s.h.ServeHTTP(w, signedID(t, "msg_fail_1", validBody, testNow))
			if w.Code < 400 {
				t.Fatalf("generic: %d %s", w.Code, w.Body)
			}
			logs := s.logs.String()
			if !strings.Contains(logs, `"cause"`) && (tt.status >= 500 || tt.url != "") {
				t.Errorf("no cause logged:\n%s", logs)
			}
			for _, leak := range []string{emuSrv.URL, strings.TrimPrefix(emuSrv.URL, "http://"), unreachable, strings.TrimPrefix(unreachable, "http://"), "/deviceManagement/"} {
				if strings.Contains(logs, leak) {
					t.Errorf("a log line names %q:\n%s", leak, logs)
				}
			}
		})
	}
}

// TestDryRunFlagFailsClosed: every spelling a client could mean as a dry
// run is one; only an explicit false, or no flag, is a real request.
func TestDryRunFlagFailsClosed(t *testing.T) {
	for _, tt := range []struct {
		query, prefer string
		dry           bool
	}{
		{"dryRun=true", "", true},
		{"dryRun=true;", "", true}, // url.Query drops the pair
		{"dryRun=tr%ue", "", true}, // a bad escape: url.Query drops the pair
		{"dryRun=true;x=1", "", true},
		{"dry-run=true", "", true},
		{"DRY_RUN=1", "", true},
		{"dryrun", "", true},
		{"dryRun=", "", true},
		{"x=1&dryRun=yes", "", true},
		{"dryRun=false&dryRun=true", "", true},
		{"", "dry-run", true},
		{"", "dry-run; x=1", true},
		{"", "dry-run=true", true},
		{"", "respond-async, DRY-RUN", true},
		{"dryRun=false", "", false},
		{"dryRun=FALSE", "", true}, // exactly false, as the contract says
		{"x=1", "", false},
		{"", "return=minimal", false},
		{"", "", false},
	} {
		r := httptest.NewRequest(http.MethodPost, "/hooks/generic", nil)
		r.URL.RawQuery = tt.query
		if tt.prefer != "" {
			r.Header.Set("Prefer", tt.prefer)
		}
		if got := wantsDryRun(r); got != tt.dry {
			t.Errorf("wantsDryRun(?%s, Prefer: %s) = %v, want %v", tt.query, tt.prefer, got, tt.dry)
		}
	}
}

// TestFailedDryRunStillSpendsItsDeliveryID: a dry run whose read failed
// (Graph unavailable) keeps its delivery id spent, so the captured request
// sent again without the flag, once Graph is back, does not apply.
func TestFailedDryRunStillSpendsItsDeliveryID(t *testing.T) {
	s := newReplayStack(t)
	c := capture(signed(t, validBody, testNow))
	s.emu.Fail(100, http.StatusServiceUnavailable)
	dry := httptest.NewRecorder()
	s.h.ServeHTTP(dry, c.request(func(r *http.Request) { r.URL.RawQuery = "dryRun=true" }))
	if dry.Code != http.StatusServiceUnavailable {
		t.Fatalf("the dry run against a failing Graph: %d %s", dry.Code, dry.Body)
	}
	s.emu.Fail(0, http.StatusServiceUnavailable)
	for _, mod := range []func(*http.Request){nil, func(r *http.Request) { r.URL.RawQuery = "dryRun=false" }} {
		w := httptest.NewRecorder()
		s.h.ServeHTTP(w, c.request(mod))
		if n := s.emu.Writes(); n != 0 || w.Code != http.StatusConflict {
			t.Fatalf("the failed dry run sent again without its flag: %d %s, writes %d; want 409 and none", w.Code, w.Body, n)
		}
	}
	again := httptest.NewRecorder()
	s.h.ServeHTTP(again, c.request(func(r *http.Request) { r.Header.Set("Prefer", "dry-run") }))
	if again.Header().Get("Content-Type") != "application/problem+json" || again.Header().Get(HeaderReplay) != "true" {
		t.Errorf("the dry run sent again: %d %v %s; want its stored problem", again.Code, again.Header(), again.Body)
	}
}
