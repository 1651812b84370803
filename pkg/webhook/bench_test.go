package webhook

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
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

// memGraph answers every PATCH with the updated assignment, in memory.
type memGraph struct{ body []byte }

func (m memGraph) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("request-id", "5f0c0a4e-0000-4000-8000-000000000001")
	return &http.Response{StatusCode: 200, Header: h, Body: io.NopCloser(bytes.NewReader(m.body)), Request: req, ContentLength: int64(len(m.body))}, nil
}

// BenchmarkRequestPath is one delivery through the whole handler: verify the
// signature, decode, validate, build the Graph PATCH on azcore's pipeline,
// take Graph's answer from memory, encode the reply. No network.
func BenchmarkRequestPath(b *testing.B) {
	answer := []byte(`{"@odata.type":"#microsoft.graph.enrollmentConfigurationAssignment","id":"2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_5e6f0000-0000-0000-0000-000000000001",` +
		`"target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"5e6f0000-0000-0000-0000-000000000001",` +
		`"deviceAndAppManagementAssignmentFilterId":"a1b2c3d4-0000-0000-0000-00000000f117","deviceAndAppManagementAssignmentFilterType":"include"},"source":"direct","sourceId":null}`)
	gc, err := graph.NewClient("https://graph.microsoft.com/beta", staticCred{}, "https://graph.microsoft.com/.default",
		&graph.Options{Transport: memGraph{answer}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	src, _ := generic.New(testSecret, 5*time.Minute)
	h := newTestHandler(gc, []Source{src}, &testOptions{Now: func() time.Time { return testNow }, Logger: slog.New(slog.DiscardHandler)})
	sig, _ := generic.Sign(testSecret, "msg_bench", testNow, []byte(validBody))
	body := []byte(validBody)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/hooks/generic", bytes.NewReader(body))
		for k, v := range sig {
			r.Header[k] = v
		}
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkRefusedSignature is the cost of turning away a forged delivery.
func BenchmarkRefusedSignature(b *testing.B) {
	src, _ := generic.New(testSecret, 5*time.Minute)
	h := newTestHandler(&fakeGraph{}, []Source{src}, &testOptions{Now: func() time.Time { return testNow }, Logger: slog.New(slog.DiscardHandler)})
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/hooks/generic", strings.NewReader(validBody))
		r.Header.Set("webhook-id", "msg_bench")
		r.Header.Set("webhook-timestamp", "1764403200")
		r.Header.Set("webhook-signature", "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 401 {
			b.Fatalf("status %d", w.Code)
		}
	}
}
