package change_test

import (
	"strings"
	"testing"
	"time"

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

// TestDecodeWindowReasons: a window end that is not an RFC 3339 time is
// one error at its pointer, with a reason that says what it must be (never
// the validator's rule name); what RFC 3339 allows is accepted, the
// letters T and Z in lower case too.
func TestDecodeWindowReasons(t *testing.T) {
	const good = `{"start":"2026-03-02T20:00:00Z","end":"2026-03-02T23:00:00.5+01:00"}`
	body := `{` + windowTicket + `,"window":` + good + `},` +
		`"configurationId":"c1","assignmentId":"a1","assignment":{"target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"5e6f0000-0000-0000-0000-000000000001"}}}`
	for _, tt := range []struct{ start, reason string }{
		{"2026-03-02T20:00:00+25:00", change.ReasonTime},       // offset hour out of range
		{"2026-03-02T20:00:00+24:00", change.ReasonTime},       // time.Parse accepts it; RFC 3339 does not
		{"2026-03-02T20:00:00,5Z", change.ReasonTime},          // a comma before the fraction
		{"2026-03-02T20:00:00", change.ReasonTime},             // no offset
		{"2026-03-02 20:00:00Z", change.ReasonTime},            // a space for the T
		{"2026-02-29T20:00:00Z", change.ReasonTime},            // not a leap year
		{"2026-03-02T24:00:00Z", change.ReasonTime},            // hour out of range
		{"2026-03-02T20:00:00.Z", change.ReasonTime},           // a fraction without digits
		{"2026-03-02T20:00:00+0100", change.ReasonTime},        // an offset without its colon
		{"2016-12-31T23:59:60Z", change.ReasonLeapSecond},      // a real leap second
		{"2016-12-31t15:59:60-08:00", change.ReasonLeapSecond}, // the same, local
	} {
		b := strings.Replace(body, good, `{"start":"`+tt.start+`","end":"2026-03-02T23:00:00Z"}`, 1)
		_, err := change.Decode([]byte(b), nil)
		// An EventBridge event's detail is read by Read, to the same answer.
		_, err2 := change.Read([]byte(b), &change.ReadOptions{Stamp: "dryRun"}).Decode(nil)
		for _, err := range []error{err, err2} {
			ce, ok := err.(*change.Error)
			if !ok || len(ce.Fields) != 1 || ce.Fields[0].Field != "/ticket/window/start" || ce.Fields[0].Reason != tt.reason {
				t.Errorf("start %s: %v %+v; want one error at /ticket/window/start: %q", tt.start, err, fieldsOf(err), tt.reason)
			}
		}
	}
	for _, tt := range []struct{ start, want string }{
		{"2026-03-02t20:00:00z", "2026-03-02T20:00:00Z"},
		{"2026-03-02T21:00:00+01:00", "2026-03-02T20:00:00Z"},
		{"2026-03-02T20:00:00-00:00", "2026-03-02T20:00:00Z"},
		{"2026-03-02T20:00:00.123456789123Z", "2026-03-02T20:00:00.123456789Z"},
		{"2028-02-29T20:00:00Z", "2028-02-29T20:00:00Z"},
	} {
		b := strings.Replace(body, good, `{"start":"`+tt.start+`","end":"2028-03-02T23:00:00Z"}`, 1)
		r, err := change.Decode([]byte(b), nil)
		if err != nil {
			t.Errorf("start %s: %v", tt.start, err)
			continue
		}
		start, _, ok := r.Ticket.Window.Bounds()
		if !ok || start.UTC().Format(time.RFC3339Nano) != tt.want {
			t.Errorf("start %s: Bounds() = %v, %v; want %s", tt.start, start, ok, tt.want)
		}
	}
}

func fieldsOf(err error) []change.FieldError {
	if ce, ok := err.(*change.Error); ok {
		return ce.Fields
	}
	return nil
}
