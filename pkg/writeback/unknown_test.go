package writeback

import (
	"strings"
	"testing"
)

func TestUnknownOutcomeNeverSaysNotApplied(t *testing.T) {
	n := &Note{System: "jira", Ticket: "ITSM-1", Outcome: Unknown, Problem: "out-of-time"}
	text := n.Text()
	if strings.Contains(text, "NOT applied") || !strings.Contains(text, "could not be confirmed") {
		t.Fatalf("Text() = %q", text)
	}
}
