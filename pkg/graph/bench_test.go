package graph_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/graph"
)

// BenchmarkPatchAssignment measures the request path (escaping, marshalling,
// building the request, token from the client's cache, error-free answer
// handling) against an in-memory transport, without the network. About 8
// of its allocations are the transport's own response.
func BenchmarkPatchAssignment(b *testing.B) {
	const answer = `{"@odata.type":"#microsoft.graph.enrollmentConfigurationAssignment","id":"asg_2-b","target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"5e6f0000-0000-0000-0000-00000000beef"}}`
	tr := transportFunc(func(r *http.Request) (*http.Response, error) {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return memResponse(r, http.StatusOK, answer, map[string]string{"request-id": "rid-bench"}), nil
	})
	c, err := graph.NewClient("https://graph.microsoft.com/beta", &fakeCredential{token: testToken}, testScope,
		&graph.Options{Transport: tr, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	bodies := map[string]any{
		"struct": testAssignment(),
		"raw":    json.RawMessage(`{"@odata.type":"#microsoft.graph.enrollmentConfigurationAssignment","target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"5e6f0000-0000-0000-0000-00000000beef"}}`),
	}
	for _, name := range []string{"struct", "raw"} {
		body := bodies[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				res, err := c.PatchAssignment(ctx, cfgID, asgID, body)
				if err != nil || len(res.Body) == 0 {
					b.Fatalf("PatchAssignment = %v, %v", res, err)
				}
			}
		})
	}
}
