package servicenow

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/source"
)

// TestDecodeModCountReasons: a sys_mod_count that is sent but is not a
// whole number is one error saying what it must be, not that it is
// missing; one left out (or null, or empty) is missing.
func TestDecodeModCountReasons(t *testing.T) {
	src, _ := New(vecSecret, 0)
	const (
		mustBe   = "must be a whole number from 0 to 9999999999 (or a string of its digits): the approval record's sys_mod_count"
		required = "is required: the approval record's sys_mod_count, a whole number (or a string of digits)"
	)
	for _, tt := range []struct {
		value  string // raw JSON; "" leaves it out
		reason string // "" when accepted
	}{
		{`-1`, mustBe},
		{`3.5`, mustBe},
		{`1e2`, mustBe},
		{`1` + strings.Repeat("0", 30), mustBe},
		{`"` + strings.Repeat("1", 40) + `"`, mustBe},
		{`"-1"`, mustBe},
		{`"+5"`, mustBe},
		{`"five"`, mustBe},
		{`true`, mustBe},
		{`{}`, mustBe},
		{`12345678901`, mustBe},
		{``, required},
		{`null`, required},
		{`""`, required},
		{`0`, ""},
		{`"7"`, ""},
		{`9999999999`, ""},
	} {
		body := edited(t, func(approval, _, _ map[string]any) {
			delete(approval, "sys_mod_count")
			if tt.value != "" {
				approval["sys_mod_count"] = json.RawMessage(tt.value)
			}
		})
		_, err := src.Decode(source.Delivery{Body: body}, nil)
		if tt.reason == "" {
			if err != nil {
				t.Errorf("sys_mod_count %.20s: %v", tt.value, err)
			}
			continue
		}
		ce := coded(t, err)
		if ce.Code != change.CodeInvalid || len(ce.Fields) != 1 || ce.Fields[0] != (change.FieldError{Field: "/data/approval/sys_mod_count", Reason: tt.reason}) {
			t.Errorf("sys_mod_count %.20s: %v %+v; want the one error %q", tt.value, err, ce.Fields, tt.reason)
		}
	}
}
