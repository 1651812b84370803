package source_test

import (
	"testing"

	"github.com/enrollhook/enrollhook/pkg/source"
)

// TestUnquote: a plain string is read as it is, an escaped one as
// encoding/json reads it, and anything else is refused.
func TestUnquote(t *testing.T) {
	for raw, want := range map[string]string{
		`"cfg_esp"`:       "cfg_esp",
		`"a\"b\\c"`:       `a"b\c`,
		`"\u00e9t\u00e9"`: "été",
		`"été"`:           "été",
		"\"bad\xffbyte\"": "bad\ufffdbyte",
		`""`:              "",
	} {
		got, err := source.Unquote([]byte(raw))
		if err != nil || got != want {
			t.Errorf("Unquote(%s) = %q, %v; want %q", raw, got, err, want)
		}
	}
	for _, raw := range []string{`42`, `{"a":1}`, `"unterminated`, "\"tab\there\""} {
		if got, err := source.Unquote([]byte(raw)); err == nil {
			t.Errorf("Unquote(%s) = %q, want an error", raw, got)
		}
	}
}
