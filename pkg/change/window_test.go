package change_test

import (
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/change"
)

const windowTicket = `"ticket":{"id":"CHG0001","state":"approved","requestedBy":"ana@example.com","approvedBy":"ben@example.com"`

func TestDecodeWindow(t *testing.T) {
	body := `{` + windowTicket + `,"window":{"start":"2026-03-02T20:00:00Z","end":"2026-03-02T23:00:00.5+01:00"}},` +
		`"configurationId":"c1","assignmentId":"a1","assignment":{"target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"5e6f0000-0000-0000-0000-000000000001"}}}`
	r, err := change.Decode([]byte(body), nil)
	if err != nil {
		t.Fatal(err)
	}
	start, end, ok := r.Ticket.Window.Bounds()
	if !ok || start.Hour() != 20 || end.Sub(start).Hours() > 2.1 {
		t.Errorf("Bounds() = %v, %v, %v", start, end, ok)
	}
	for _, tt := range []struct{ window, field, reason string }{
		{`{"start":"2026-03-02T20:00:00Z"}`, "/ticket/window/end", "required"},
		{`{"start":"2026-03-02 20:00","end":"2026-03-02T23:00:00Z"}`, "/ticket/window/start", ""},
		{`{"start":"2026-03-02T20:00:00Z","end":"2026-03-02T20:00:00Z"}`, "/ticket/window/end", "after start"},
		{`{"start":"2026-03-02T20:00:00Z","end":"2026-03-02T19:00:00-02:00"}`, "/ticket/window/end", ""}, // 21:00Z: fine
		{`{"start":1,"end":"x"}`, "/ticket/window/start", "string"},
	} {
		b := strings.Replace(body, `{"start":"2026-03-02T20:00:00Z","end":"2026-03-02T23:00:00.5+01:00"}`, tt.window, 1)
		_, err := change.Decode([]byte(b), nil)
		if tt.window == `{"start":"2026-03-02T20:00:00Z","end":"2026-03-02T19:00:00-02:00"}` {
			if err != nil {
				t.Errorf("%s: %v", tt.window, err)
			}
			continue
		}
		if !hasField(err, tt.field, tt.reason) {
			t.Errorf("%s: %v, want %s %q", tt.window, err, tt.field, tt.reason)
		}
	}
}

func TestDecodeRevert(t *testing.T) {
	r, err := change.Decode([]byte(`{"action":"revert",`+windowTicket+`}}`), nil)
	if err != nil {
		t.Fatalf("%v %+v", err, err.(*change.Error).Fields)
	}
	if !r.Reverts() || r.Ticket.ID != "CHG0001" {
		t.Errorf("Decode = %+v", r)
	}
	_, err = change.Decode([]byte(`{"action":"revert",`+windowTicket+`},"configurationId":"c1","assignment":{"target":{"@odata.type":"group"}}}`), nil)
	if !hasField(err, "/configurationId", "left out") || !hasField(err, "/assignment", "left out") {
		t.Errorf("a revert naming a change: %v", err)
	}
	_, err = change.Decode([]byte(`{"action":"undo",`+windowTicket+`},"configurationId":"c1","assignmentId":"a1","assignment":{"target":{"@odata.type":"group","groupId":"5e6f0000-0000-0000-0000-000000000001"}}}`), nil)
	if !hasField(err, "/action", "") {
		t.Errorf("action undo: %v", err)
	}
	// A revert still needs its approval fields.
	_, err = change.Decode([]byte(`{"action":"revert","ticket":{"id":"CHG0001"}}`), nil)
	if !hasField(err, "/ticket/state", "") {
		t.Errorf("a revert without a state: %v", err)
	}
}

func hasField(err error, field, reason string) bool {
	ce, ok := err.(*change.Error)
	if !ok {
		return false
	}
	for _, f := range ce.Fields {
		if f.Field == field && strings.Contains(f.Reason, reason) {
			return true
		}
	}
	return false
}
