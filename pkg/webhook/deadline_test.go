package webhook

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/source/generic"
)

// TestGraphMarginOnlyBeforeAnOutsideDeadline: the Graph client keeps its
// margin before a deadline someone outside enforces (the Lambda invoke's),
// so that the function can still answer; a request without a deadline (the
// local server) is bounded by the pipeline's own Timeout, and no margin is
// kept before that one. With a margin longer than the Timeout, the
// deadline-less request is applied, and the same request under an outside
// deadline is answered "no time left" without a Graph call.
func TestGraphMarginOnlyBeforeAnOutsideDeadline(t *testing.T) {
	answer := []byte(`{"id":"` + "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_5e6f0000-0000-0000-0000-000000000001" + `","target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}`)
	mg := newMemGraph(answer)
	gc, err := graph.NewClient("https://graph.microsoft.com/beta", staticCred{}, "https://graph.microsoft.com/.default",
		&graph.Options{Transport: mg, DeadlineMargin: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	src, _ := generic.New(testSecret, 5*time.Minute)
	h := newTestHandler(gc, []Source{src}, &testOptions{Now: func() time.Time { return testNow }, Timeout: 5 * time.Second,
		Logger: slog.New(slog.DiscardHandler)})

	w := httptest.NewRecorder()
	h.ServeHTTP(w, signed(t, validBody, testNow))
	if w.Code != 200 {
		t.Fatalf("a request without a deadline: %d %s, want it applied (no margin before the pipeline's own bound)", w.Code, w.Body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	w = httptest.NewRecorder()
	h.ServeHTTP(w, signedID(t, "msg_outside_deadline", validBody, testNow).WithContext(ctx))
	if w.Code != 503 || !strings.Contains(w.Body.String(), "out-of-time") || !strings.Contains(w.Body.String(), "no time was left") {
		t.Fatalf("a request under an outside deadline shorter than the margin: %d %s, want 503 out-of-time, no time left", w.Code, w.Body)
	}
}
