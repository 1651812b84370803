package servicenow

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/source"
)

// edited returns testdata/approved.json with edit applied to its data
// object (approval, record, intune as maps).
func edited(t *testing.T, edit func(approval, record, intune map[string]any)) []byte {
	t.Helper()
	var p map[string]any
	if err := json.Unmarshal(readTestdata(t, "approved.json"), &p); err != nil {
		t.Fatal(err)
	}
	d := p["data"].(map[string]any)
	edit(d["approval"].(map[string]any), d["record"].(map[string]any), d["intune"].(map[string]any))
	if d["intune"].(map[string]any)["drop"] != nil {
		delete(d, "intune")
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fieldsOf returns the pointers of a 422, or fails.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	ce := coded(t, err)
	if ce.Code != change.CodeInvalid {
		t.Fatalf("Decode = %v, want 422 invalid", err)
	}
	var out []string
	for _, f := range ce.Fields {
		out = append(out, f.Field)
	}
	return out
}

func TestDecodeWindow(t *testing.T) {
	src, _ := New(vecSecret, 0)
	tests := []struct {
		name       string
		start, end any // nil: left out
		want       *change.Window
		field      string // a 422 at this pointer
	}{
		{"none", nil, nil, nil, ""},
		{"both empty", "", "", nil, ""},
		{"GlideDateTime values, UTC", "2026-03-02 20:00:00", "2026-03-02 22:30:00",
			&change.Window{Start: "2026-03-02T20:00:00Z", End: "2026-03-02T22:30:00Z"}, ""},
		{"RFC 3339 with an offset, written in UTC", "2026-03-02T21:00:00+01:00", "2026-03-02T23:30:00.000+01:00",
			&change.Window{Start: "2026-03-02T20:00:00Z", End: "2026-03-02T22:30:00Z"}, ""},
		{"start without end", "2026-03-02 20:00:00", nil, nil, "/data/record/end_date"},
		{"end without start", "", "2026-03-02 22:30:00", nil, "/data/record/start_date"},
		{"display value in a user's format", "02/03/2026 20:00:00", "2026-03-02 22:30:00", nil, "/data/record/start_date"},
		{"a date only", "2026-03-02 20:00:00", "2026-03-02", nil, "/data/record/end_date"},
		{"end before start", "2026-03-02 22:30:00", "2026-03-02 20:00:00", nil, "/data/record/end_date"},
		{"not a string", 1772481600, "2026-03-02 22:30:00", nil, "/data/record/start_date"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := edited(t, func(_, record, _ map[string]any) {
				if tt.start != nil {
					record["start_date"] = tt.start
				}
				if tt.end != nil {
					record["end_date"] = tt.end
				}
			})
			r, err := src.Decode(source.Delivery{Body: body}, nil)
			if tt.field != "" {
				ce := coded(t, err)
				if got := fieldsOf(t, err); !slices.Contains(got, tt.field) {
					t.Fatalf("Decode = %v, fields %v, want one at %s", err, got, tt.field)
				}
				for _, f := range ce.Fields {
					if strings.Contains(f.Reason, "02/03") || strings.Contains(f.Reason, "22:30") {
						t.Errorf("reason %q quotes the input", f.Reason)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode = %v", err)
			}
			if (r.Ticket.Window == nil) != (tt.want == nil) || tt.want != nil && *r.Ticket.Window != *tt.want {
				t.Fatalf("Decode window = %+v, want %+v", r.Ticket.Window, tt.want)
			}
			if r.Reverts() || r.ConfigurationID == "" {
				t.Errorf("Decode = %+v, want the change applied", r)
			}
		})
	}
}

func TestDecodeRevert(t *testing.T) {
	const backOut = "-1"
	src, err := NewWithOptions(vecSecret, &Options{RevertState: backOut})
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := New(vecSecret, 0) // no back-out state configured
	onlyAction := func(_, _ map[string]any, in map[string]any) {
		clear(in)
		in["action"] = "revert"
	}
	tests := []struct {
		name   string
		src    *Source
		edit   func(approval, record, intune map[string]any)
		revert bool
		fields []string // a 422 at these pointers
		code   change.Code
	}{
		{"back-out state, no data.intune", src, func(_, record, in map[string]any) {
			record["state"] = backOut
			in["drop"] = true
		}, true, nil, ""},
		{"back-out state, data.intune empty", src, func(_, record, in map[string]any) {
			record["state"] = backOut
			clear(in)
		}, true, nil, ""},
		{"back-out state with a window", src, func(_, record, in map[string]any) {
			record["state"], record["start_date"], record["end_date"] = backOut, "2026-03-02 20:00:00", "2026-03-02 22:30:00"
			clear(in)
		}, true, nil, ""},
		{"action revert", plain, onlyAction, true, nil, ""},
		{"action revert, another state", src, onlyAction, true, nil, ""},
		{"another state applies", src, func(_, record, _ map[string]any) { record["state"] = "-2" }, false, nil, ""},
		{"back-out state not configured applies", plain, func(_, record, _ map[string]any) { record["state"] = backOut }, false, nil, ""},
		{"action apply applies", src, func(_, _, in map[string]any) { in["action"] = "apply" }, false, nil, ""},
		{"back-out state with the change", src, func(_, record, in map[string]any) {
			record["state"] = backOut
			in["source"] = "direct"
		}, false, []string{"/data/intune/assignmentId", "/data/intune/configurationId", "/data/intune/source", "/data/intune/target"}, change.CodeInvalid},
		{"action revert with a configuration", plain, func(_, _, in map[string]any) {
			in["action"] = "revert"
			delete(in, "assignmentId")
			delete(in, "target")
		}, false, []string{"/data/intune/configurationId"}, change.CodeInvalid},
		{"back-out state, action apply", src, func(_, record, in map[string]any) {
			record["state"] = backOut
			clear(in)
			in["action"] = "apply"
		}, false, []string{"/data/intune/action"}, change.CodeInvalid},
		{"unknown action", src, func(_, _, in map[string]any) { in["action"] = "undo" }, false, []string{"/data/intune/action"}, change.CodeInvalid},
		{"revert not approved", src, func(approval, record, in map[string]any) {
			approval["state"] = "rejected"
			record["state"] = backOut
			clear(in)
		}, false, nil, change.CodeNotApproved},
		{"revert approved by one of several approvers", src, func(_, record, in map[string]any) {
			record["approval"] = "requested"
			onlyAction(nil, nil, in)
		}, false, nil, change.CodeNotApproved},
		{"revert without an approver", src, func(approval, record, in map[string]any) {
			delete(approval, "approver")
			record["state"] = backOut
			clear(in)
		}, false, []string{"/data/approval/approver"}, change.CodeInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := edited(t, tt.edit)
			r, err := tt.src.Decode(source.Delivery{Body: body}, nil)
			switch {
			case tt.code == change.CodeInvalid:
				if got := fieldsOf(t, err); !slices.Equal(got, tt.fields) {
					t.Fatalf("Decode fields = %v, want %v", got, tt.fields)
				}
				return
			case tt.code != "":
				if ce := coded(t, err); ce.Code != tt.code {
					t.Fatalf("Decode = %v, want %s", err, tt.code)
				}
				return
			case err != nil:
				t.Fatalf("Decode = %v", err)
			}
			if r.Reverts() != tt.revert {
				t.Fatalf("Decode action = %q, want revert %v", r.Action, tt.revert)
			}
			if tt.revert && (r.ConfigurationID != "" || r.AssignmentID != "" || r.Assignment != (change.Assignment{})) {
				t.Errorf("Decode = %+v, want a revert that names its ticket only", r)
			}
			if r.Ticket.ID != "CHG0030042" || r.Ticket.ApprovedBy == "" || r.Ticket.Record == "" {
				t.Errorf("Decode ticket = %+v", r.Ticket)
			}
			if err := r.Validate(nil); err != nil {
				t.Errorf("the request Decode returned is not valid: %v", err)
			}
		})
	}
}

// TestRevertSelfApproved: a revert carries the approver and the requester
// as any change does, so the policy's separation of duties refuses a
// requester approving their own back-out.
func TestRevertSelfApproved(t *testing.T) {
	src, _ := NewWithOptions(vecSecret, &Options{RevertState: "-1"})
	body := edited(t, func(approval, record, in map[string]any) {
		record["state"] = "-1"
		approval["approver"] = record["requested_by"]
		clear(in)
	})
	r, err := src.Decode(source.Delivery{Body: body}, nil)
	if err != nil || !r.Reverts() {
		t.Fatalf("Decode = %+v, %v, want a revert", r, err)
	}
	if self, err := r.Ticket.SelfApproved(); !self || err != nil {
		t.Errorf("SelfApproved(%+v) = %v, %v, want true", r.Ticket, self, err)
	}
}

// TestRevertDeliveryID: a back-out sent with the approval that approved
// the change is another delivery, so de-duplication does not answer it
// with the change's outcome.
func TestRevertDeliveryID(t *testing.T) {
	src, _ := NewWithOptions(vecSecret, &Options{RevertState: "-1"})
	now := time.Unix(1764403200, 0)
	apply := readTestdata(t, "approved.json")
	revert := edited(t, func(_, record, in map[string]any) {
		record["state"] = "-1"
		in["drop"] = true
	})
	var ids []string
	for _, body := range [][]byte{apply, revert} {
		h, _ := Sign(vecSecret, "msg_any", now, body)
		id, err := idOf(src.Authenticate(h, body, now))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if want := []string{"6c1f0a2b1b8e4d10a0e1c2d3e4f5a6b7-approved-3", "6c1f0a2b1b8e4d10a0e1c2d3e4f5a6b7-approved-3-revert"}; !slices.Equal(ids, want) {
		t.Errorf("delivery ids = %v, want %v", ids, want)
	}
}

// TestDecodeWindowRFC3339: the window's ends are read as the generic
// envelope reads ticket.window (change.ParseTime): T and Z in lower case
// too, a leap second refused with its own reason, one error per end.
func TestDecodeWindowRFC3339(t *testing.T) {
	src, _ := New(vecSecret, 0)
	for _, tt := range []struct{ start, reason string }{
		{"2026-03-02t20:00:00z", ""},
		{"2016-12-31T23:59:60Z", change.ReasonLeapSecond},
		{"2026-03-02T20:00:00+24:00", reasonDateTime},
		{"2026-03-02T20:00:00,5Z", reasonDateTime},
	} {
		body := edited(t, func(_, record, _ map[string]any) {
			record["start_date"], record["end_date"] = tt.start, "2026-03-02T22:30:00Z"
		})
		r, err := src.Decode(source.Delivery{Body: body}, nil)
		if tt.reason == "" {
			if err != nil || r.Ticket.Window == nil || r.Ticket.Window.Start != "2026-03-02T20:00:00Z" {
				t.Errorf("start %s: Decode = %+v, %v; want the window from 2026-03-02T20:00:00Z", tt.start, r, err)
			}
			continue
		}
		ce := coded(t, err)
		if len(ce.Fields) != 1 || ce.Fields[0] != (change.FieldError{Field: "/data/record/start_date", Reason: tt.reason}) {
			t.Errorf("start %s: %v %+v; want one error at /data/record/start_date: %q", tt.start, err, ce.Fields, tt.reason)
		}
	}
}
