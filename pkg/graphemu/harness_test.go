package graphemu_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/graphemu"
)

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// startTime is where a harness clock starts: a fixed moment, so the dates
// the emulator writes can be compared as text. Only the emulator reads this
// clock. A test that drives a library judging expiry by the wall clock
// (azidentity, MSAL) passes Options.Now anchored on time.Now instead.
var startTime = time.Date(2026, 11, 29, 10, 15, 0, 0, time.UTC)

// harness is an emulator behind httptest with a token already fetched.
type harness struct {
	t      *testing.T
	emu    *graphemu.Server
	url    string
	clock  *clock
	token  string
	secret string // the identity header the emulator expects
}

func newHarness(t *testing.T, opts *graphemu.Options) *harness {
	t.Helper()
	o := graphemu.Options{}
	if opts != nil {
		o = *opts
	}
	clk := &clock{t: startTime}
	if o.Now == nil {
		o.Now = clk.Now
	}
	emu := graphemu.New(&o)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	h := &harness{t: t, emu: emu, url: srv.URL, clock: clk, secret: o.IdentityHeader}
	if h.secret == "" {
		h.secret = graphemu.DefaultIdentityHeader
	}
	h.token = h.mustToken("https://graph.microsoft.com")
	return h
}

// tokenRes calls the managed-identity endpoint as azidentity would.
func (h *harness) tokenRes(method, query, secret string) res {
	h.t.Helper()
	r, err := http.NewRequest(method, h.url+graphemu.TokenPath+"?"+query, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	if secret != "" {
		r.Header.Set(graphemu.IdentityHeaderName, secret)
	}
	return h.send(r)
}

func (h *harness) mustToken(resource string) string {
	h.t.Helper()
	q := url.Values{"api-version": {graphemu.IdentityAPIVersion}, "resource": {resource}}
	r := h.tokenRes(http.MethodGet, q.Encode(), h.secret)
	if r.status != http.StatusOK {
		h.t.Fatalf("token: status %d, body %s", r.status, r.body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(r.body, &tok); err != nil || tok.AccessToken == "" {
		h.t.Fatalf("token body %s: %v", r.body, err)
	}
	return tok.AccessToken
}

type req struct {
	method, path string
	body         string
	header       map[string]string
	gzip         bool
	noAuth       bool   // send no Authorization header
	auth         string // Authorization value instead of the harness token
	noType       bool   // send no Content-Type
	ctx          context.Context
}

type res struct {
	status int
	header http.Header
	body   []byte
}

func (h *harness) do(q req) res {
	h.t.Helper()
	body := []byte(q.body)
	if q.gzip {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write(body)
		_ = zw.Close()
		body = b.Bytes()
	}
	ctx := q.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	var rd io.Reader
	if q.body != "" || q.gzip {
		rd = bytes.NewReader(body)
	}
	r, err := http.NewRequestWithContext(ctx, q.method, h.url+q.path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if rd != nil && !q.noType {
		r.Header.Set("Content-Type", "application/json")
	}
	if q.gzip {
		r.Header.Set("Content-Encoding", "gzip")
	}
	switch {
	case q.auth != "":
		r.Header.Set("Authorization", q.auth)
	case !q.noAuth:
		r.Header.Set("Authorization", "Bearer "+h.token)
	}
	for k, v := range q.header {
		r.Header.Set(k, v)
	}
	return h.send(r)
}

func (h *harness) send(r *http.Request) res {
	h.t.Helper()
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		h.t.Fatalf("%s %s: %v", r.Method, r.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return res{status: resp.StatusCode, header: resp.Header, body: b}
}

func (h *harness) get(path string) res { return h.do(req{method: http.MethodGet, path: path}) }

func (h *harness) patch(path, body string) res {
	return h.do(req{method: http.MethodPatch, path: path, body: body})
}

func (h *harness) post(path, body string) res {
	return h.do(req{method: http.MethodPost, path: path, body: body})
}

// object decodes a JSON object body.
func (r res) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

// graphError decodes a Graph error body.
type graphError struct {
	Error struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError struct {
			Code            string `json:"code"`
			Date            string `json:"date"`
			RequestID       string `json:"request-id"`
			ClientRequestID string `json:"client-request-id"`
		} `json:"innerError"`
	} `json:"error"`
}

func (r res) graphError(t *testing.T) graphError {
	t.Helper()
	var e graphError
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Code == "" {
		t.Fatalf("body %q is not a Graph error: %v", r.body, err)
	}
	return e
}

func (r res) code(t *testing.T) string {
	t.Helper()
	return r.graphError(t).Error.Code
}

// Paths.
func configs(v string) string { return "/" + v + "/deviceManagement/deviceEnrollmentConfigurations" }
func cfgPath(v, cfg string) string {
	return configs(v) + "/" + url.PathEscape(cfg)
}
func asgsPath(v, cfg string) string { return cfgPath(v, cfg) + "/assignments" }
func asgPath(v, cfg, asg string) string {
	return asgsPath(v, cfg) + "/" + url.PathEscape(asg)
}

var versions = []string{"beta", "v1.0"}

// stored decodes what the emulator holds for an assignment.
func stored(t *testing.T, emu *graphemu.Server, cfg, asg string) map[string]any {
	t.Helper()
	raw, ok := emu.Assignment(cfg, asg)
	if !ok {
		t.Fatalf("Assignment(%q, %q) missing", cfg, asg)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func targetOf(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	tg, ok := m["target"].(map[string]any)
	if !ok {
		t.Fatalf("no target object in %v", m)
	}
	return tg
}

func ids(t *testing.T, value any) []string {
	t.Helper()
	list, ok := value.([]any)
	if !ok {
		t.Fatalf("value %v is not an array", value)
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		out = append(out, e.(map[string]any)["id"].(string))
	}
	return out
}

const groupBody = `{"@odata.type":"#microsoft.graph.enrollmentConfigurationAssignment",
  "target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"11110000-0000-0000-0000-000000000099"}}`
