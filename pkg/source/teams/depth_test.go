package teams

import (
	"net/http"
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/source"
)

// TestTooDeep: an activity that nests deeper than the limit is told so,
// not that it is not a Teams activity.
func TestTooDeep(t *testing.T) {
	s, _ := New(vecToken, nil)
	body := `{"type":"message","value":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`
	_, err := s.Invocation(http.Header{"Content-Type": {"application/json"}}, source.Delivery{Body: []byte(body)})
	if ce, ok := err.(*change.Error); !ok || ce.Code != change.CodeMalformed || ce.Message != change.MessageTooDeep {
		t.Errorf("Invocation(too deep) = %v, want malformed-json %q", err, change.MessageTooDeep)
	}
	_, err = s.Authenticate(signed(body), []byte(body), now)
	if ce, ok := err.(*change.Error); !ok || ce.Code != change.CodeMalformed || ce.Message != change.MessageTooDeep {
		t.Errorf("Authenticate(too deep) = %v, want malformed-json %q", err, change.MessageTooDeep)
	}
}
