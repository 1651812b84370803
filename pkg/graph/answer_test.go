package graph_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graph"
)

// TestAnswerPastTheBoundIsRefused: an answer larger than 4 MiB, announced
// or not, is not read into memory and passed on: the call fails as Graph
// unavailable. One within the bound is read whole.
func TestAnswerPastTheBoundIsRefused(t *testing.T) {
	pad := func(n int) string { return `{"id":"` + asgID + `","pad":"` + strings.Repeat("A", n) + `"}` }
	for _, tt := range []struct {
		name string
		body string
		ok   bool
	}{{"5 MiB", pad(5 << 20), false}, {"3 MiB", pad(3 << 20), true}} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil, false, answer{status: 200, body: tt.body})
			res, err := h.c.GetAssignment(context.Background(), cfgID, asgID)
			if tt.ok {
				if err != nil || len(res.Body) != len(tt.body) {
					t.Fatalf("%d-byte answer: %v", len(tt.body), err)
				}
				return
			}
			if err == nil || change.ErrorCode(err) != change.CodeUnavailable {
				t.Fatalf("%d-byte answer: res %v, err %v; want unavailable", len(tt.body), res != nil, err)
			}
		})
	}
}

// TestRedirectIsNotFollowed: a redirect is Graph's answer, an error, and
// nothing is sent where it points, the token least of all.
func TestRedirectIsNotFollowed(t *testing.T) {
	other := newHarness(t, nil, false, answer{status: 200, body: `{}`})
	h := newHarness(t, nil, false, answer{status: http.StatusTemporaryRedirect,
		header: map[string]string{"Location": other.base + "/elsewhere"}})
	if res, err := h.c.GetAssignment(context.Background(), cfgID, asgID); err == nil {
		t.Fatalf("redirect followed: %s", res.Body)
	}
	if n := len(other.g.requests()); n != 0 {
		t.Fatalf("%d request(s) went where the redirect pointed", n)
	}
}

// TestRequestIDIsPlain: Graph's request id goes into answers and tickets
// only when it looks like one.
func TestRequestIDIsPlain(t *testing.T) {
	for id, want := range map[string]string{
		"5b0c3a3e-1d2f-4a5b-9c8d-7e6f5a4b3c2d":                  "5b0c3a3e-1d2f-4a5b-9c8d-7e6f5a4b3c2d",
		"https://graph-internal.contoso.net/req?token=eyJhbGci": "",
		"id with spaces":         "",
		strings.Repeat("a", 129): "",
	} {
		h := newHarness(t, nil, false, answer{status: 200, body: `{"id":"` + asgID + `"}`, header: map[string]string{"request-id": id}})
		res, err := h.c.GetAssignment(context.Background(), cfgID, asgID)
		if err != nil || res.RequestID != want {
			t.Errorf("request-id %q: kept %q (%v), want %q", id, res.RequestID, err, want)
		}
	}
}

// TestPublicBodyDropsEveryAnnotation: Graph's annotations carry its URLs;
// none reaches an answer, at any depth, however the name is spelled, and
// @odata.type and the data stay.
func TestPublicBodyDropsEveryAnnotation(t *testing.T) {
	for _, in := range []string{
		`{"@odata.context":"https://graph.microsoft.com/beta/$metadata#a","id":"a"}`,
		`{"\u0040odata.context":"https://graph.microsoft.com/beta/$metadata#a","id":"a"}`,
		`{"id":"a","target@odata.navigationLink":"https://graph.microsoft.com/beta/x"}`,
		`{"id":"a","@microsoft.graph.tips":"see https://graph.microsoft.com/beta/y"}`,
		`{"id":"a","target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","@odata.id":"https://graph.microsoft.com/beta/y"}}`,
		`{"id":"a","list":[{"@odata.editLink":"https://graph.microsoft.com/beta/z"}]}`,
	} {
		out := string(graph.PublicBody([]byte(in)))
		if out == "" || strings.Contains(out, "graph.microsoft.com") || !strings.Contains(out, `"id":"a"`) {
			t.Errorf("%s -> %s", in, out)
		}
	}
	kept := `{"@odata.type":"#microsoft.graph.enrollmentConfigurationAssignment","id":"a","target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"g"},"n":12345678901234567890}`
	if out := string(graph.PublicBody([]byte(kept))); out != kept {
		t.Errorf("a body with nothing to drop changed: %s", out)
	}
	withAt := `{"@odata.context":"x","id":"a","requestedBy":"alice@contoso.com","n":12345678901234567890}`
	if out := string(graph.PublicBody([]byte(withAt))); !strings.Contains(out, "alice@contoso.com") || !strings.Contains(out, "12345678901234567890") || strings.Contains(out, "context") {
		t.Errorf("%s -> %s", withAt, out)
	}
}

// TestPublicBodyEscapes: a name with an escaped quote before an '@' is
// read as JSON reads it, not skipped by the fast path.
func TestPublicBodyEscapes(t *testing.T) {
	in := `{"id":"a","x\"@odata.type":"https://graph.microsoft.com/beta/secret"}`
	if out := string(graph.PublicBody([]byte(in))); strings.Contains(out, "graph.microsoft.com") {
		t.Errorf("%s -> %s", in, out)
	}
}
