package webhook

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/source/generic"
)

type staticCred struct{}

func (staticCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "bench-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// memGraph answers every PATCH with the updated assignment, in memory: the
// network, which the benchmark leaves out, so it does as little as it can
// (one header map for every answer, which the client only reads).
type memGraph struct {
	body   []byte
	header http.Header
}

func newMemGraph(body []byte) *memGraph {
	return &memGraph{body: body, header: http.Header{
		"Content-Type": {"application/json"},
		"Request-Id":   {"5f0c0a4e-0000-4000-8000-000000000001"},
	}}
}

func (m *memGraph) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
	}
	return &http.Response{StatusCode: 200, Header: m.header, Body: io.NopCloser(bytes.NewReader(m.body)), Request: req, ContentLength: int64(len(m.body))}, nil
}

// benchRequest hands the handler the same signed request on every
// iteration, as a server would after reading it off the wire: the request
// is built once and only its body is rewound, so what the benchmark counts
// is the handler's work, not httptest's parsing of a textual request.
type benchRequest struct {
	base *http.Request
	body *rewindBody
}

// rewindBody is a request body that can be read again from the start.
type rewindBody struct{ bytes.Reader }

func (*rewindBody) Close() error { return nil }

func newBenchRequest(target string, body []byte, header http.Header) *benchRequest {
	r := httptest.NewRequest(http.MethodPost, target, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	b := &benchRequest{base: r, body: &rewindBody{}}
	b.body.Reset(body)
	r.Body, r.ContentLength = b.body, int64(len(body))
	return b
}

// next rewinds the body and returns a shallow copy of the request, so that
// nothing one iteration sets on the request reaches the next.
func (b *benchRequest) next(raw []byte) *http.Request {
	b.body.Reset(raw)
	r := *b.base
	return &r
}

// benchWriter is a ResponseWriter that keeps the status and counts the
// body; its header map is cleared, not reallocated, between iterations.
type benchWriter struct {
	header http.Header
	code   int
	n      int
}

func (w *benchWriter) Header() http.Header { return w.header }
func (w *benchWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *benchWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.n += len(b)
	return len(b), nil
}
func (w *benchWriter) reset() { clear(w.header); w.code, w.n = 0, 0 }

// BenchmarkRequestPath is one delivery through the whole handler: verify the
// signature, decode, validate, build the Graph PATCH, take Graph's answer
// from memory, encode the reply. No network, and no request parsing: the
// request arrives built (benchRequest).
func BenchmarkRequestPath(b *testing.B) {
	answer := []byte(`{"@odata.type":"#microsoft.graph.enrollmentConfigurationAssignment","id":"2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_5e6f0000-0000-0000-0000-000000000001",` +
		`"target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"5e6f0000-0000-0000-0000-000000000001",` +
		`"deviceAndAppManagementAssignmentFilterId":"a1b2c3d4-0000-0000-0000-00000000f117","deviceAndAppManagementAssignmentFilterType":"include"},"source":"direct","sourceId":null}`)
	gc, err := graph.NewClient("https://graph.microsoft.com/beta", staticCred{}, "https://graph.microsoft.com/.default",
		&graph.Options{Transport: newMemGraph(answer), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	src, _ := generic.New(testSecret, 5*time.Minute)
	h := newTestHandler(gc, []Source{src}, &testOptions{Now: func() time.Time { return testNow }, Logger: slog.New(slog.DiscardHandler)})
	sig, _ := generic.Sign(testSecret, "msg_bench", testNow, []byte(validBody))
	sig.Set("Content-Type", "application/json")
	body := []byte(validBody)
	req := newBenchRequest("/hooks/generic", body, sig)
	w := &benchWriter{header: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w.reset()
		h.ServeHTTP(w, req.next(body))
		if w.code != 200 {
			b.Fatalf("status %d", w.code)
		}
	}
}

// BenchmarkRefusedSignature is the cost of turning away a forged delivery.
func BenchmarkRefusedSignature(b *testing.B) {
	src, _ := generic.New(testSecret, 5*time.Minute)
	h := newTestHandler(&fakeGraph{}, []Source{src}, &testOptions{Now: func() time.Time { return testNow }, Logger: slog.New(slog.DiscardHandler)})
	body := []byte(validBody)
	req := newBenchRequest("/hooks/generic", body, http.Header{
		"Webhook-Id":        {"msg_bench"},
		"Webhook-Timestamp": {"1764403200"},
		"Webhook-Signature": {"v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="},
	})
	w := &benchWriter{header: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		h.ServeHTTP(w, req.next(body))
		if w.code != 401 {
			b.Fatalf("status %d", w.code)
		}
	}
}
