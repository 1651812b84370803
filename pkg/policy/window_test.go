package policy_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/policy"
)

const windowPolicy = `{"version": 1,
 "default": {"maxWindow": "72h"},
 "senders": {"servicenow": {"requireWindow": true, "maxWindow": "8h"}},
 "chat": {"slack": {"commands": {"assign": ["*"], "show": ["*"]},
   "hours": {"zone": "Europe/Berlin", "days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:00", "to": "18:00"}}}}`

func mustParse(t *testing.T, doc string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse([]byte(doc), "test", false)
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	return p
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestCheckWindowTicket(t *testing.T) {
	p := mustParse(t, windowPolicy)
	w := &change.Window{Start: "2026-03-02T20:00:00Z", End: "2026-03-02T23:00:00+00:00"}
	tests := []struct {
		name    string
		from    string
		w       *change.Window
		now     string
		kind    change.Kind
		opensIn time.Duration
		names   []string
	}{
		{"inside", "servicenow", w, "2026-03-02T21:30:00Z", "", 0, nil},
		{"at the start", "servicenow", w, "2026-03-02T20:00:00Z", "", 0, nil},
		{"in 10 minutes", "servicenow", w, "2026-03-02T19:50:00Z", change.KindOutsideWindow, 10 * time.Minute,
			[]string{"2026-03-02T20:00:00Z to 2026-03-02T23:00:00Z", "has not opened yet", "it is now 2026-03-02T19:50:00Z"}},
		{"in 3 days", "generic", w, "2026-02-27T20:00:00Z", change.KindOutsideWindow, 72 * time.Hour, []string{"has not opened yet"}},
		{"at the end", "servicenow", w, "2026-03-02T23:00:00Z", change.KindOutsideWindow, 0, []string{"has closed", "it is now 2026-03-02T23:00:00Z"}},
		{"after", "jira", w, "2026-03-03T08:00:00+01:00", change.KindOutsideWindow, 0, []string{"has closed", "it is now 2026-03-03T07:00:00Z"}},
		{"offsets are read", "generic", &change.Window{Start: "2026-03-02T21:00:00+01:00", End: "2026-03-02T22:00:00+01:00"}, "2026-03-02T20:30:00Z", "", 0, nil},
		{"none, not required", "generic", nil, "2026-03-02T21:30:00Z", "", 0, nil},
		{"none, required", "servicenow", nil, "2026-03-02T21:30:00Z", change.KindPolicyWindowRequired, 0, []string{"servicenow", "ticket.window"}},
		{"longer than the sender's cap", "servicenow", &change.Window{Start: "2026-03-02T08:00:00Z", End: "2026-03-02T17:00:00Z"}, "2026-03-02T09:00:00Z",
			change.KindPolicyWindowTooLong, 0, []string{"9h0m0s", "8h0m0s"}},
		{"longer than the default cap", "jira", &change.Window{Start: "2026-03-01T00:00:00Z", End: "2026-03-05T00:00:00Z"}, "2026-03-02T09:00:00Z",
			change.KindPolicyWindowTooLong, 0, []string{"96h0m0s", "72h0m0s"}},
		{"end before start (forged past validation)", "generic", &change.Window{Start: "2026-03-02T23:00:00Z", End: "2026-03-02T20:00:00Z"}, "2026-03-02T21:30:00Z",
			change.KindOutsideWindow, 0, []string{"end after the start"}},
		{"a chat flag from an ITSM sender is not chat", "servicenow", nil, "2026-03-02T21:30:00Z", change.KindPolicyWindowRequired, 0, nil},
	}
	for _, tt := range tests {
		opensIn, err := p.CheckWindow(tt.from, tt.name == "a chat flag from an ITSM sender is not chat", tt.w, at(tt.now))
		wantKind(t, tt.name, err, tt.kind, "")
		if opensIn != tt.opensIn {
			t.Errorf("%s: opensIn = %v, want %v", tt.name, opensIn, tt.opensIn)
		}
		for _, s := range tt.names {
			if err == nil || !strings.Contains(err.Error(), s) {
				t.Errorf("%s: %v does not say %q", tt.name, err, s)
			}
		}
	}
}

func TestCheckWindowChatHours(t *testing.T) {
	p := mustParse(t, windowPolicy)
	tests := []struct {
		now  string
		open bool
	}{
		{"2026-01-05T07:30:00Z", true},  // Monday 08:30 in Berlin (CET)
		{"2026-01-05T06:30:00Z", false}, // Monday 07:30 in Berlin
		{"2026-07-06T06:30:00Z", true},  // Monday 08:30 in Berlin (CEST)
		{"2026-07-06T16:00:00Z", false}, // Monday 18:00 in Berlin: the end is not inside
		{"2026-07-06T15:59:00Z", true},
		{"2026-01-10T10:00:00Z", false}, // Saturday
		{"2026-01-09T22:59:00Z", false}, // Friday 23:59 in Berlin
	}
	for _, tt := range tests {
		_, err := p.CheckWindow("slack", true, nil, at(tt.now))
		if tt.open {
			wantKind(t, tt.now, err, "", "")
			continue
		}
		wantKind(t, tt.now, err, change.KindOutsideWindow, "Mon,Tue,Wed,Thu,Fri 08:00-18:00 Europe/Berlin")
	}
	// A ticket window does not apply to chat, and teams has no hours.
	if _, err := p.CheckWindow("teams", true, nil, at("2026-01-10T03:00:00Z")); err != nil {
		t.Errorf("teams without hours = %v", err)
	}
	// Without a policy section, any time.
	if _, err := policy.Default().CheckWindow("slack", true, nil, at("2026-01-10T03:00:00Z")); err != nil {
		t.Errorf("default policy = %v", err)
	}
}

func TestParseWindowProblems(t *testing.T) {
	doc := `{"version": 1,
 "default": {"maxWindow": "forever"},
 "senders": {"jira": {"maxWindow": "2161h", "requireWindow": "yes"}},
 "chat": {"slack": {"commands": {"show": ["*"]}, "hours": {"zone": "Mars/Olympus", "days": ["mon", "someday"], "from": "8:00", "to": "18:00"}},
          "teams": {"commands": {"show": ["*"]}, "hours": {"zone": "UTC", "days": [], "from": "18:00", "to": "08:00"}}}}`
	_, err := policy.Parse([]byte(doc), "test", false)
	var pe *policy.Error
	if !errors.As(err, &pe) {
		t.Fatalf("Parse = %v, want *policy.Error", err)
	}
	// requireWindow "yes" is a type error, reported alone by the decoder.
	if !strings.Contains(err.Error(), "requireWindow: must be true or false") {
		t.Errorf("Parse = %v", err)
	}
	doc = strings.Replace(doc, `"requireWindow": "yes"`, `"requireWindow": true`, 1)
	_, err = policy.Parse([]byte(doc), "test", false)
	for _, want := range []string{
		"/default/maxWindow: must be a duration",
		"/senders/jira/maxWindow: must be a duration",
		"/chat/slack/hours/zone: must be an IANA time zone",
		"/chat/slack/hours/days/1: must be one of",
		"/chat/slack/hours/from: must be a time of day",
		"/chat/teams/hours/days: must name at least one day",
		"/chat/teams/hours/to: must be after from",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse = %v\nwant a problem %q", err, want)
		}
	}
}

func TestScheduleAhead(t *testing.T) {
	p := mustParse(t, `{"version": 1, "default": {"maxScheduleAhead": "72h"}, "senders": {"jira": {"maxScheduleAhead": "720h"}}}`)
	for from, want := range map[string]time.Duration{"generic": 72 * time.Hour, "jira": 720 * time.Hour} {
		if got := p.ScheduleAhead(from); got != want {
			t.Errorf("ScheduleAhead(%s) = %v, want %v", from, got, want)
		}
	}
	if got := policy.Default().ScheduleAhead("servicenow"); got != 14*24*time.Hour {
		t.Errorf("the built-in policy schedules %v ahead, want 14 days", got)
	}
	if _, err := policy.Parse([]byte(`{"version": 1, "default": {"maxScheduleAhead": "9999h"}}`), "t", false); err == nil ||
		!strings.Contains(err.Error(), "/default/maxScheduleAhead") {
		t.Errorf("a cap over 90 days = %v", err)
	}
}
