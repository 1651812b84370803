package changetest_test

import (
	"testing"

	"github.com/enrollhook/enrollhook/pkg/change/changetest"
)

// TestFixedQuotes: an input string that is a piece of the product's own
// texts (of one literal, of a list it joins, of a tag, of a configured
// name) is not taken for a quote of the input; any other input string a
// text contains is, however short the texts around it.
func TestFixedQuotes(t *testing.T) {
	f := changetest.FixedTexts("testdata/fixedpkg", "customfield_10051")
	for _, tt := range []struct {
		text, input string
		quotes      bool
	}{
		{"is required: who asked for the change (email, user_name or sys_id), so that they cannot approve it", "user_nam", false},
		{"unknown property; allowed: configurationId, assignmentId, target", "ationId, assignme", false},
		{"must be at most 128 characters", "at most 128 characters", false},
		{"must hold 12 digits at most", " digits at most", false},
		{"is required with customfield_10051: a change window has a start and an end", "customfield_10051", false},
		{"sys_mod_count is wrong", "sys_mod_count", false},
		{"is required: who asked for the change (email, user_name or sys_id)", "user_name or sys_id) x", false}, // not in the text at all
		// Echoes.
		{"must be a GUID, not zqxj-8812-abcd", "zqxj-8812-abcd", true},
		{"must hold 12 digits at most", "12 digits", true}, // 12 is the input's, not a text's
		{"unknown property; allowed: configurationId, assignmentIdX", "assignmentIdX", true},
		{"is required with customfield_10052: a change window", "customfield_10052", true},
	} {
		v, got := f.Quotes(tt.text, []string{"short", tt.input}, 8)
		if got != tt.quotes || got && v != tt.input {
			t.Errorf("Quotes(%q, %q) = %q, %v; want %v", tt.text, tt.input, v, got, tt.quotes)
		}
	}
}
