package chat

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
)

const (
	cfgID   = "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_Windows10EnrollmentCompletionPageConfiguration"
	asgID   = "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_5e6f0000-0000-0000-0000-000000000001"
	groupID = "5e6f0000-0000-0000-0000-000000000001"
	fltID   = "a1b2c3d4-0000-0000-0000-00000000f117"
)

func TestParse(t *testing.T) {
	ids := cfgID + " " + asgID
	tests := []struct {
		text string
		want Command
	}{
		{"help", Command{Verb: VerbHelp}},
		{"  HELP  ", Command{Verb: VerbHelp}},
		{"show " + ids, Command{Verb: VerbShow, ConfigurationID: cfgID, AssignmentID: asgID}},
		{"assign " + ids + " group " + groupID, Command{Verb: VerbAssign, ConfigurationID: cfgID, AssignmentID: asgID,
			Target: &change.Target{ODataType: change.TypeGroup, GroupID: groupID}}},
		{"Assign " + ids + " GROUP " + groupID + " filter " + fltID + " Include", Command{Verb: VerbAssign, ConfigurationID: cfgID, AssignmentID: asgID,
			Target: &change.Target{ODataType: change.TypeGroup, GroupID: groupID, FilterID: fltID, FilterType: "include"}}},
		{"assign " + ids + " exclude " + groupID, Command{Verb: VerbAssign, ConfigurationID: cfgID, AssignmentID: asgID,
			Target: &change.Target{ODataType: change.TypeExclusion, GroupID: groupID}}},
		{"assign " + ids + " alldevices filter " + fltID + " exclude", Command{Verb: VerbAssign, ConfigurationID: cfgID, AssignmentID: asgID,
			Target: &change.Target{ODataType: change.TypeAllDevices, FilterID: fltID, FilterType: "exclude"}}},
		{"assign " + ids + " allusers filter none", Command{Verb: VerbAssign, ConfigurationID: cfgID, AssignmentID: asgID,
			Target: &change.Target{ODataType: change.TypeAllLicensed, FilterType: "none"}}},
		{"Plan " + ids + " group " + groupID + " filter none", Command{Verb: VerbPlan, ConfigurationID: cfgID, AssignmentID: asgID,
			Target: &change.Target{ODataType: change.TypeGroup, GroupID: groupID, FilterType: "none"}}},
		{"history " + ids, Command{Verb: VerbHistory, ConfigurationID: cfgID, AssignmentID: asgID}},
		{"revert CHG0030042", Command{Verb: VerbRevert, Ref: "CHG0030042"}},
		{"Undo generic:msg_2Nq8x", Command{Verb: VerbRevert, Ref: "generic:msg_2Nq8x"}},
		{"assign\u00a0" + ids + "\ncollection SMS00001", Command{Verb: VerbAssign, ConfigurationID: cfgID, AssignmentID: asgID,
			Target: &change.Target{ODataType: change.TypeCMCollection, CollectionID: "SMS00001"}}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.text)
		if err != nil {
			t.Errorf("Parse(%q) = %v", tt.text, err)
			continue
		}
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(tt.want)
		if string(gb) != string(wb) {
			t.Errorf("Parse(%q) = %s, want %s", tt.text, gb, wb)
		}
	}
}

func TestParseRefusesWithoutQuoting(t *testing.T) {
	ids := cfgID + " " + asgID
	for _, text := range []string{
		"", "   ", "frobnicate-everything", "show", "show onlyone", "show " + ids + " extra-words",
		"show cfg/../x " + asgID, "show " + cfgID + " asg?x=1", "assign " + ids, "assign " + ids + " everyone-please",
		"assign " + ids + " group", "assign " + ids + " group filter", "assign " + ids + " group " + groupID + " filter " + fltID,
		"assign " + ids + " group " + groupID + " filter " + fltID + " sometimes", "assign " + ids + " group " + groupID + " trailing-junk",
		strings.Repeat("assign ", 20),
		"revert", "revert a b", "revert CHG00?1", "revert " + strings.Repeat("x", 257), "history " + cfgID,
	} {
		c, err := Parse(text)
		if err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", text, c)
			continue
		}
		if !IsParseError(err) {
			t.Errorf("Parse(%q) = %T, want *ParseError", text, err)
		}
		for _, w := range strings.Fields(text) {
			if len(w) > 8 && strings.Contains(err.Error(), w) {
				t.Errorf("Parse(%q) error %q quotes the input", text, err)
			}
		}
	}
}

func TestRequestIsApprovedByTheChatUser(t *testing.T) {
	cmd, err := Parse("assign " + cfgID + " " + asgID + " group " + groupID + " filter " + fltID + " include")
	if err != nil {
		t.Fatal(err)
	}
	inv := &Invocation{Sender: "slack", DeliveryID: "123.456.abcdef", Tenant: "T0001", User: "U0456EFGH", Command: cmd}
	r, err := inv.Request(nil)
	if err != nil {
		t.Fatalf("Request = %v", err)
	}
	if !r.Approved() || r.Ticket.ApprovedBy != "slack:T0001/U0456EFGH" || r.Ticket.RequestedBy != r.Ticket.ApprovedBy ||
		r.Ticket.ID != "123.456.abcdef" || r.Ticket.System != "slack" {
		t.Errorf("ticket = %+v", r.Ticket)
	}
	if r.Assignment.ODataType != change.TypeAssignment || r.Assignment.Target.FilterType != "include" {
		t.Errorf("assignment = %+v", r.Assignment)
	}
	// Values the parser cannot judge are refused by change's rules, and the
	// reply names them in the command's words.
	bad, _ := Parse("assign " + cfgID + " " + asgID + " group sales-team filter " + fltID + " include")
	inv.Command = bad
	_, err = inv.Request(nil)
	if change.ErrorCode(err) != change.CodeInvalid {
		t.Fatalf("Request(group sales-team) = %v, want CodeInvalid", err)
	}
	rep := Invalid(err)
	if rep.Status != StatusInvalid || !strings.Contains(rep.Text("\n"), "the group id must be a GUID") || strings.Contains(rep.Text("\n"), "sales-team") {
		t.Errorf("Invalid reply = %q", rep.Text("\n"))
	}
	// On Graph v1.0 a filter is refused before Graph sees it.
	inv.Command, _ = Parse("assign " + cfgID + " " + asgID + " alldevices filter " + fltID + " include")
	if _, err := inv.Request(&change.Options{GraphVersion: "v1.0"}); change.ErrorCode(err) != change.CodeInvalid {
		t.Errorf("Request(v1.0, filter) = %v, want CodeInvalid", err)
	}
	inv.Command = &Command{Verb: VerbShow}
	if _, err := inv.Request(nil); change.ErrorCode(err) != change.CodeInvalid {
		t.Errorf("Request(show) = %v, want CodeInvalid", err)
	}
}

func TestAllowlistFailsClosed(t *testing.T) {
	names := Allowlist{TenantSetting: "ENROLLHOOK_SLACK_TEAM_ID", UsersSetting: "ENROLLHOOK_SLACK_ALLOWED_USERS"}
	a := names
	a.Tenant, a.Users = "T0001", []string{"U0456EFGH", "U0999"}
	tests := []struct {
		name   string
		list   Allowlist
		tenant string
		ids    []string
		ok     bool
		says   string
	}{
		{"allowed", a, "T0001", []string{"U0456EFGH"}, true, ""},
		{"allowed by a second id", a, "t0001", []string{"29:1abc", "U0999"}, true, ""},
		{"unconfigured refuses everyone", names, "T0001", []string{"U0456EFGH"}, false, "ENROLLHOOK_SLACK_TEAM_ID and ENROLLHOOK_SLACK_ALLOWED_USERS"},
		{"other workspace", a, "T9999", []string{"U0456EFGH"}, false, "workspace"},
		{"other user", a, "T0001", []string{"U0457"}, false, "ENROLLHOOK_SLACK_ALLOWED_USERS"},
		{"no user", a, "T0001", []string{""}, false, "not allowed"},
		{"prefix is not a match", a, "T0001", []string{"U0456"}, false, "not allowed"},
	}
	for _, tt := range tests {
		err := tt.list.Check(tt.tenant, tt.ids...)
		if (err == nil) != tt.ok || err != nil && (!IsRefusal(err) || !strings.Contains(err.Error(), tt.says)) {
			t.Errorf("%s: Check = %v, want ok=%v saying %q", tt.name, err, tt.ok, tt.says)
		}
	}
}

func TestReplies(t *testing.T) {
	cmd, _ := Parse("assign " + cfgID + " " + asgID + " group " + groupID + " filter " + fltID + " include")
	inv := &Invocation{Sender: "teams", DeliveryID: "1714000000000", Tenant: "t", User: "0a1b2c3d-0000-0000-0000-000000000042", Command: cmd}
	req, _ := inv.Request(nil)
	body := json.RawMessage(`{"id":"` + asgID + `","target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"` + groupID +
		`","deviceAndAppManagementAssignmentFilterId":"` + fltID + `","deviceAndAppManagementAssignmentFilterType":"include"}}`)
	got := Applied(inv, req, body, "g-1").Text("\n")
	for _, want := range []string{"Done", asgID, cfgID, "group `" + groupID + "`", "filter `" + fltID + "` (include)", "approved by `" + inv.User + "`", "`g-1`"} {
		if !strings.Contains(got, want) {
			t.Errorf("Applied = %q, lacks %q", got, want)
		}
	}
	if got := Shown(cmd, json.RawMessage(`{"target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget","groupId":"<script>"}}`)).Text("\n"); !strings.Contains(got, "all devices, no filter") {
		t.Errorf("Shown = %q", got)
	}
	if got := Shown(cmd, json.RawMessage(`{"target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"<script>"}}`)).Text("\n"); strings.Contains(got, "<script>") {
		t.Errorf("Shown quotes an unsafe id: %q", got)
	}
	fail := Failed(cmd, &change.Error{Code: change.CodeUnavailable, Message: "Graph is throttling requests", RetryAfter: 7 * time.Second}, "req-1").Text("\n")
	// Graph's unavailability without a mark that nothing was sent may
	// follow a write that landed (change.MayHaveApplied).
	if !strings.Contains(fail, "may or may not be applied: Graph is throttling requests") || !strings.Contains(fail, "in 7 s") || !strings.Contains(fail, "`req-1`") {
		t.Errorf("Failed = %q", fail)
	}
	unknown := Failed(cmd, &change.Error{Code: change.CodeTimeout, Message: "the invoke deadline arrived before Graph answered"}, "req-3").Text("\n")
	if !strings.Contains(unknown, "may or may not be applied") || !strings.Contains(unknown, "show") {
		t.Errorf("Failed(timeout) = %q", unknown)
	}
	internal := Failed(cmd, errors.New("secret detail https://graph.microsoft.com/beta"), "req-2").Text("\n")
	if strings.Contains(internal, "secret detail") || strings.Contains(internal, "graph.microsoft.com") {
		t.Errorf("Failed(uncoded) = %q quotes the cause", internal)
	}
	if got := Usage("/intune", &ParseError{Reason: "unknown command"}).Text("\n"); !strings.Contains(got, "unknown command") || !strings.Contains(got, "/intune assign") {
		t.Errorf("Usage = %q", got)
	}
	inv.Denied = &Refusal{Message: "you are not allowed"}
	if got := Refused(inv); got.Public || !strings.Contains(got.Text("\n"), inv.User) {
		t.Errorf("Refused = %+v", got)
	}
	if Pending(cmd, true).Status != StatusPending || !strings.Contains(Pending(cmd, false).Text(""), "show") {
		t.Errorf("Pending = %+v", Pending(cmd, false))
	}
}

// FuzzParse: no panic; an accepted show or assign has valid keys, and an
// assign either validates as a change or is refused field by field; no
// error quotes the text.
func FuzzParse(f *testing.F) {
	f.Add("assign " + cfgID + " " + asgID + " group " + groupID + " filter " + fltID + " include")
	f.Add("show " + cfgID + " " + asgID)
	f.Add("help")
	f.Add("assign a b alldevices filter none")
	f.Add("assign a b collection SMS00001 filter x exclude")
	f.Fuzz(func(t *testing.T, text string) {
		cmd, err := Parse(text)
		if err != nil {
			if !IsParseError(err) {
				t.Fatalf("Parse error %T is not a *ParseError", err)
			}
			for _, w := range strings.Fields(text) {
				if idLike(w) && strings.Contains(err.Error(), w) {
					t.Fatalf("Parse error %q quotes the input", err)
				}
			}
			return
		}
		if cmd.Verb == VerbHelp {
			return
		}
		if !change.ValidKey(cmd.ConfigurationID) || !change.ValidKey(cmd.AssignmentID) {
			t.Fatalf("accepted keys that are not Graph keys")
		}
		if cmd.Verb != VerbAssign {
			return
		}
		inv := &Invocation{Sender: "slack", DeliveryID: "1.2.3", Tenant: "T1", User: "U1", Command: cmd}
		req, err := inv.Request(nil)
		if err != nil {
			if change.ErrorCode(err) != change.CodeInvalid {
				t.Fatalf("Request = %v, want CodeInvalid", err)
			}
			return
		}
		if err := req.Validate(nil); err != nil {
			t.Fatalf("accepted a change that does not validate: %v", err)
		}
	})
}

// idLike reports whether w looks like an id a user typed (a word with a
// digit), other than the examples the messages themselves contain.
func idLike(w string) bool {
	return len(w) > 3 && strings.ContainsAny(w, "0123456789") && !strings.Contains("SMS00001 256", w)
}

func TestHistoryShowsScheduledAndReverted(t *testing.T) {
	cmd := &Command{Verb: VerbHistory, ConfigurationID: cfgID, AssignmentID: asgID}
	r := History(cmd, []HistoryEntry{
		{ID: "generic:m2.scheduled", Action: change.ActionApply, Ticket: "CHG2", RequestedBy: "alice@contoso.com", ApprovedBy: "bob@contoso.com",
			Time: "2026-03-01T10:00:00Z", Scheduled: "2026-03-02T20:00:00Z", Before: nil, After: nil},
		{ID: "slack:1.2.3", Action: change.ActionRevert, Reverts: "generic:m1", Ticket: "CHG1", RequestedBy: "slack:T1/U1", ApprovedBy: "slack:T1/U1",
			Time: "2026-03-01T09:00:00Z", Before: []byte(`{"target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}`),
			After: []byte(`{"target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"` + groupID + `"}}`)},
	})
	text := r.Text("\n")
	for _, want := range []string{"scheduled for `2026-03-02T20:00:00Z`", "reverted `generic:m1`", "`slack:T1/U1`", "all devices, no filter → group"} {
		if !strings.Contains(text, want) {
			t.Errorf("history lacks %q:\n%s", want, text)
		}
	}
	if r.Status != StatusHistory {
		t.Errorf("status %s", r.Status)
	}
	if e := History(cmd, nil); !strings.Contains(e.Text(" "), "no recorded change") {
		t.Errorf("empty history: %q", e.Text(" "))
	}
}
