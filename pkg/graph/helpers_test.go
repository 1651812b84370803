package graph_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graph"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

const (
	testToken = "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.c2VjcmV0LXRva2VuLWZvci10ZXN0cw.sig-DO-NOT-LOG"
	testScope = "https://graph.microsoft.com/.default"
	basePath  = "/beta"
	cfgID     = "cfg-1_A"
	asgID     = "asg_2-b"
	asgPath   = basePath + "/deviceManagement/deviceEnrollmentConfigurations/" + cfgID + "/assignments/" + asgID
)

// fakeCredential is an azcore.TokenCredential that counts its calls.
type fakeCredential struct {
	mu    sync.Mutex
	calls int
	token string
	err   error
}

var _ azcore.TokenCredential = (*fakeCredential)(nil)

func (f *fakeCredential) GetToken(_ context.Context, _ policy.TokenRequestOptions) (azcore.AccessToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return azcore.AccessToken{}, f.err
	}
	return azcore.AccessToken{Token: f.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func (f *fakeCredential) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// answer is one canned Graph response.
type answer struct {
	status int
	header map[string]string
	body   string
	// block holds the response until the client gives up.
	block bool
}

// recorded is one request as the fake Graph saw it.
type recorded struct {
	Method   string
	Path     string // escaped
	RawQuery string
	Header   http.Header
	Body     []byte
}

// fakeGraph answers the n-th request under basePath with answers[n] (the
// last answer repeats) and records every request. Requests outside
// basePath are recorded as stray.
type fakeGraph struct {
	mu      sync.Mutex
	answers []answer
	reqs    []recorded
	stray   int
	release chan struct{}
}

func (g *fakeGraph) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	g.mu.Lock()
	n := len(g.reqs)
	g.reqs = append(g.reqs, recorded{Method: r.Method, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery,
		Header: r.Header.Clone(), Body: body})
	var a answer
	if len(g.answers) > 0 {
		a = g.answers[min(n, len(g.answers)-1)]
	} else {
		a = answer{status: http.StatusInternalServerError}
	}
	g.mu.Unlock()
	if a.block {
		select {
		case <-r.Context().Done():
		case <-g.release:
		}
		return
	}
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	if a.body != "" && w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
	}
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

func (g *fakeGraph) setAnswers(a ...answer) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.answers = a
}

func (g *fakeGraph) requests() []recorded {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]recorded(nil), g.reqs...)
}

func (g *fakeGraph) strays() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stray
}

// newFakeGraph starts a TLS fake Graph mounted under basePath and returns
// it with the base URL and the server's client.
func newFakeGraph(t *testing.T, answers ...answer) (*fakeGraph, string, *http.Client) {
	t.Helper()
	g := &fakeGraph{answers: answers, release: make(chan struct{})}
	mux := http.NewServeMux()
	mux.Handle(basePath+"/", g)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.stray++
		g.mu.Unlock()
		http.NotFound(w, r)
	})
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(g.release) }) // runs before srv.Close
	return g, srv.URL + basePath, srv.Client()
}

// harness is a client wired to a fake Graph, a counting credential, a log
// buffer and a recorder of retry waits (which are not waited out).
type harness struct {
	c      *graph.Client
	g      *fakeGraph
	base   string
	cred   *fakeCredential
	logs   *syncBuffer
	mu     sync.Mutex
	sleeps []time.Duration
}

func (h *harness) baseURL(*testing.T) string { return h.base }

// graphCred names the credential interface where a nil one is needed.
type graphCred = azcore.TokenCredential

func (h *harness) waits() []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]time.Duration(nil), h.sleeps...)
}

// newHarness builds a client against a new fake Graph. opts may be nil;
// its Transport and Logger are set here. realSleep keeps the real wait.
func newHarness(t *testing.T, opts *graph.Options, realSleep bool, answers ...answer) *harness {
	t.Helper()
	g, base, hc := newFakeGraph(t, answers...)
	h := &harness{g: g, base: base, cred: &fakeCredential{token: testToken}, logs: &syncBuffer{}}
	var o graph.Options
	if opts != nil {
		o = *opts
	}
	o.Transport = hc
	o.Logger = slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := graph.NewClient(base, h.cred, testScope, &o)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	if !realSleep {
		graph.SetSleep(c, func(ctx context.Context, d time.Duration) error {
			h.mu.Lock()
			h.sleeps = append(h.sleeps, d)
			h.mu.Unlock()
			return ctx.Err()
		})
	}
	h.c = c
	return h
}

// syncBuffer is a bytes.Buffer safe for the log handler and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, append(bytes.TrimSpace(got), '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
		t.Errorf("%s:\n got %s\nwant %s", name, got, want)
	}
}

// codeOf returns the *change.Error in err's chain, failing the test when
// there is none.
func codeOf(t *testing.T, err error) *change.Error {
	t.Helper()
	var ce *change.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *change.Error", err, err)
	}
	return ce
}

func testAssignment() *change.Assignment {
	return &change.Assignment{
		ODataType: change.TypeAssignment,
		Target: &change.Target{
			ODataType:  change.TypeGroup,
			GroupID:    "5e6f0000-0000-0000-0000-00000000beef",
			FilterID:   "a1b2c3d4-0000-0000-0000-00000000f117",
			FilterType: change.FilterInclude,
		},
	}
}

// transportFunc is an in-memory policy.Transporter.
type transportFunc func(*http.Request) (*http.Response, error)

func (f transportFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

func memResponse(r *http.Request, status int, body string, header map[string]string) *http.Response {
	resp := &http.Response{
		StatusCode: status,
		Status:     http.StatusText(status),
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  make(http.Header, len(header)+1),
		Body:    http.NoBody,
		Request: r,
	}
	if body != "" {
		resp.Body = io.NopCloser(strings.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		resp.Header.Set(k, v)
	}
	return resp
}
