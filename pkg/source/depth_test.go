package source_test

import (
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/source"
)

// TestStaleTooDeep: an authentic body that nests deeper than the limit is
// told so, not that it is not a JSON object.
func TestStaleTooDeep(t *testing.T) {
	deep := []byte(`{"a":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`)
	if ce, ok := source.Stale(deep, "stale").(*change.Error); !ok || ce.Code != change.CodeMalformed || ce.Message != change.MessageTooDeep {
		t.Errorf("Stale(too deep) = %v, want malformed-json %q", ce, change.MessageTooDeep)
	}
	if ce, ok := source.Stale([]byte(`{"a":`), "stale").(*change.Error); !ok || ce.Code != change.CodeMalformed || ce.Message == change.MessageTooDeep {
		t.Errorf("Stale(truncated) = %v, want malformed-json, not too deep", ce)
	}
}
