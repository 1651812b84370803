package change

import (
	"strings"
	"testing"
)

func TestNotApproved(t *testing.T) {
	tests := map[string]string{
		"rejected":          "the ticket state is rejected; only approved changes are applied, nothing was changed",
		" Not Requested ":   "the ticket state is not requested; only approved changes are applied, nothing was changed",
		"secret-ish-word":   "the ticket state is not approved; only approved changes are applied, nothing was changed",
		"":                  "the ticket state is not approved; only approved changes are applied, nothing was changed",
		"rejected\u200b":    "the ticket state is not approved; only approved changes are applied, nothing was changed",
		"not_yet_requested": "the ticket state is not_yet_requested; only approved changes are applied, nothing was changed",
	}
	for state, want := range tests {
		e := NotApproved(state)
		if e.Code != CodeNotApproved || e.Kind != "" || e.Message != want {
			t.Errorf("NotApproved(%q) = %s %q, want %s %q", state, e.Code, e.Message, CodeNotApproved, want)
		}
	}
	if e := NotApprovedAs("the approval state", "DUPLICATE", []string{"duplicate"}); !strings.HasPrefix(e.Message, "the approval state is duplicate;") {
		t.Errorf("NotApprovedAs = %q", e.Message)
	}
	s := TicketStates()
	s[0] = "approved"
	if TicketStates()[0] != "requested" || NotApproved("approved").Message == "the ticket state is approved; only approved changes are applied, nothing was changed" {
		t.Error("TicketStates hands out its backing array")
	}
}
