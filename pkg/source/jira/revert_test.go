package jira

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/source"
)

// revertOptions map testdata/issue-reverted.json: testOptions with a
// back-out status and the change window's fields.
func revertOptions() *Options {
	o := *testOptions
	o.RevertStatuses = []string{"Backed out", "Rolled back"}
	o.WindowStartField, o.WindowEndField = "customfield_10050", "customfield_10051"
	return &o
}

// editIssue returns a sample with edit applied to the whole event and to
// its issue's fields.
func editIssue(t *testing.T, name string, edit func(event, fields map[string]any)) []byte {
	t.Helper()
	var event map[string]any
	if err := json.Unmarshal(readTestdata(t, name), &event); err != nil {
		t.Fatal(err)
	}
	edit(event, event["issue"].(map[string]any)["fields"].(map[string]any))
	b, err := json.Marshal(event)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// moveTo sets the event's changelog to one status change.
func moveTo(event map[string]any, status string) {
	event["changelog"] = map[string]any{"items": []any{map[string]any{"field": "status", "fieldId": "status", "toString": status}}}
}

func TestDecodeWindow(t *testing.T) {
	src, _ := New(vecSecret, revertOptions())
	unmapped, _ := New(vecSecret, testOptions)
	tests := []struct {
		name       string
		src        *Source
		start, end any // nil: left out
		want       *change.Window
		field      string // a 422 at this pointer
	}{
		{"Jira's form, written in UTC", src, "2026-03-02T21:00:00.000+0100", "2026-03-02T22:30:00.000+0000",
			&change.Window{Start: "2026-03-02T20:00:00Z", End: "2026-03-02T22:30:00Z"}, ""},
		{"RFC 3339", src, "2026-03-02T20:00:00Z", "2026-03-02T18:30:00-04:00",
			&change.Window{Start: "2026-03-02T20:00:00Z", End: "2026-03-02T22:30:00Z"}, ""},
		{"neither", src, nil, nil, nil, ""},
		{"both null", src, json.RawMessage("null"), json.RawMessage("null"), nil, ""},
		{"fields not configured", unmapped, "2026-03-02T20:00:00.000+0000", "garbage", nil, ""},
		{"start without end", src, "2026-03-02T20:00:00.000+0000", nil, nil, "/issue/fields/customfield_10051"},
		{"end without start", src, json.RawMessage("null"), "2026-03-02T22:30:00.000+0000", nil, "/issue/fields/customfield_10050"},
		{"a date picker's date", src, "2026-03-02", "2026-03-02T22:30:00.000+0000", nil, "/issue/fields/customfield_10050"},
		{"a time zone name", src, "2026-03-02T20:00:00.000+0000", "2026-03-02T22:30:00 Europe/Paris", nil, "/issue/fields/customfield_10051"},
		{"a number", src, 1772481600000, "2026-03-02T22:30:00.000+0000", nil, "/issue/fields/customfield_10050"},
		{"a list", src, "2026-03-02T20:00:00.000+0000", []any{"2026-03-02T22:30:00.000+0000"}, nil, "/issue/fields/customfield_10051"},
		{"end before start", src, "2026-03-02T22:30:00.000+0000", "2026-03-02T20:00:00.000+0000", nil, "/issue/fields/customfield_10051"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := editIssue(t, "issue-approved.json", func(_, fields map[string]any) {
				if tt.start != nil {
					fields["customfield_10050"] = tt.start
				}
				if tt.end != nil {
					fields["customfield_10051"] = tt.end
				}
			})
			r, err := tt.src.Decode(source.Delivery{Body: body}, nil)
			if tt.field != "" {
				ce := coded(t, err)
				var got []string
				for _, f := range ce.Fields {
					got = append(got, f.Field)
					if strings.Contains(f.Reason, "Paris") || strings.Contains(f.Reason, "22:30") {
						t.Errorf("reason %q quotes the input", f.Reason)
					}
				}
				if ce.Code != change.CodeInvalid || !slices.Contains(got, tt.field) {
					t.Fatalf("Decode = %v, fields %v, want a 422 at %s", err, got, tt.field)
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
	src, _ := New(vecSecret, revertOptions())
	tests := []struct {
		name   string
		edit   func(event, fields map[string]any)
		revert bool
		code   change.Code
		kind   change.Kind
	}{
		{"into a revert status", func(map[string]any, map[string]any) {}, true, "", ""},
		{"another letter case", func(event, _ map[string]any) { moveTo(event, "ROLLED BACK") }, true, "", ""},
		{"the issue's change fields are not read", func(_, fields map[string]any) {
			// They still name what the issue applied; a revert puts back
			// what the change record has, whatever they say now.
			fields["customfield_10150"], fields["customfield_10152"] = "not a key", []any{1}
		}, true, "", ""},
		{"into an approved status applies", func(event, _ map[string]any) { moveTo(event, "Approved") }, false, "", ""},
		{"into another status", func(event, _ map[string]any) { moveTo(event, "Implementing") }, false, change.CodeNotApproved, ""},
		{"no status change", func(event, _ map[string]any) { delete(event, "changelog") }, false, change.CodeNotApproved, ""},
		{"a comment event", func(event, _ map[string]any) { event["webhookEvent"] = "comment_created" }, false, change.CodeNotApproved, ""},
		{"reverted by its reporter", func(event, fields map[string]any) { event["user"] = fields["reporter"] }, false, change.CodeForbidden, change.KindSeparationOfDuties},
		{"reverted by its reporter under another name", func(event, fields map[string]any) {
			event["user"] = map[string]any{"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "Abel (admin)"}
		}, false, change.CodeForbidden, change.KindSeparationOfDuties},
		{"no user", func(event, _ map[string]any) { delete(event, "user") }, false, change.CodeInvalid, ""},
		{"a bad window", func(_, fields map[string]any) { fields["customfield_10051"] = "soon" }, false, change.CodeInvalid, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := editIssue(t, "issue-reverted.json", tt.edit)
			r, err := src.Decode(source.Delivery{Body: body}, nil)
			if tt.code != "" {
				if ce := coded(t, err); ce.Code != tt.code || ce.Kind != tt.kind {
					t.Fatalf("Decode = %v (%s %s), want %s %s", err, ce.Code, ce.Kind, tt.code, tt.kind)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode = %v", err)
			}
			if r.Reverts() != tt.revert {
				t.Fatalf("Decode action = %q, want revert %v", r.Action, tt.revert)
			}
			if tt.revert {
				if r.ConfigurationID != "" || r.AssignmentID != "" || r.Assignment != (change.Assignment{}) {
					t.Errorf("Decode = %+v, want a revert that names its ticket only", r)
				}
				want := change.Window{Start: "2025-11-29T08:00:00Z", End: "2025-11-29T12:00:00Z"}
				if r.Ticket.Window == nil || *r.Ticket.Window != want {
					t.Errorf("Decode window = %+v, want %+v", r.Ticket.Window, want)
				}
			}
			if r.Ticket.ID != "ITSM-42" || r.Ticket.ApprovedBy != "mia.approver@contoso.com" || r.Ticket.RequestedBy != "abel.tuter@contoso.com" {
				t.Errorf("Decode ticket = %+v", r.Ticket)
			}
			if err := r.Validate(nil); err != nil {
				t.Errorf("the request Decode returned is not valid: %v", err)
			}
		})
	}
}

// TestDecodeRevertUnmapped: without revert statuses, moving an issue into
// a back-out status approves nothing.
func TestDecodeRevertUnmapped(t *testing.T) {
	src, _ := New(vecSecret, testOptions)
	_, err := src.Decode(source.Delivery{Body: readTestdata(t, "issue-reverted.json")}, nil)
	if ce := coded(t, err); ce.Code != change.CodeNotApproved {
		t.Fatalf("Decode = %v, want not approved", err)
	}
}

// TestDecodeWindowRFC3339: the window's fields are read as the generic
// envelope reads ticket.window (change.ParseTime) besides Jira's own form:
// T and Z in lower case too, a leap second refused with its own reason,
// one error per field.
func TestDecodeWindowRFC3339(t *testing.T) {
	src, _ := New(vecSecret, revertOptions())
	for _, tt := range []struct{ start, reason string }{
		{"2026-03-02t20:00:00z", ""},
		{"2016-12-31T23:59:60Z", change.ReasonLeapSecond},
		{"2026-03-02T20:00:00+24:00", reasonDateTime},
	} {
		body := editIssue(t, "issue-approved.json", func(_, fields map[string]any) {
			fields["customfield_10050"], fields["customfield_10051"] = tt.start, "2026-03-02T22:30:00.000+0000"
		})
		r, err := src.Decode(source.Delivery{Body: body}, nil)
		if tt.reason == "" {
			if err != nil || r.Ticket.Window == nil || r.Ticket.Window.Start != "2026-03-02T20:00:00Z" {
				t.Errorf("start %s: Decode = %+v, %v; want the window from 2026-03-02T20:00:00Z", tt.start, r, err)
			}
			continue
		}
		ce := coded(t, err)
		if len(ce.Fields) != 1 || ce.Fields[0] != (change.FieldError{Field: "/issue/fields/customfield_10050", Reason: tt.reason}) {
			t.Errorf("start %s: %v %+v; want one error at /issue/fields/customfield_10050: %q", tt.start, err, ce.Fields, tt.reason)
		}
	}
}
