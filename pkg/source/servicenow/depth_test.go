package servicenow

import (
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/source"
)

// TestDecodeTooDeep: a body that nests deeper than the limit is told so,
// not that it is not well-formed JSON.
func TestDecodeTooDeep(t *testing.T) {
	src, _ := New(vecSecret, 0)
	nest := strings.Repeat("[", 10001) + strings.Repeat("]", 10001)
	for _, body := range []string{nest, `{"data":{"approval":` + nest + `}}`} {
		_, err := src.Decode(source.Delivery{Body: []byte(body)}, nil)
		if ce := coded(t, err); ce.Code != change.CodeMalformed || ce.Message != change.MessageTooDeep || len(ce.Fields) != 0 {
			t.Errorf("%.12s…: %v, want malformed-json %q", body, err, change.MessageTooDeep)
		}
	}
	_, err := src.Decode(source.Delivery{Body: []byte(`{"data":`)}, nil)
	if ce := coded(t, err); ce.Message != change.MessageNotJSON {
		t.Errorf("truncated: %v, want %q", err, change.MessageNotJSON)
	}
}
