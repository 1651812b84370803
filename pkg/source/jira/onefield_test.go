package jira

import (
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/source"
)

// TestDecodeOneErrorPerField: a field sent but unreadable, or an issue key
// missing or malformed, is one error saying what is wrong with it; it is
// not called missing as well (nor refused again by the rule its empty
// reading breaks).
func TestDecodeOneErrorPerField(t *testing.T) {
	byStatus, _ := New(vecSecret, testOptions)
	withType := *testOptions
	withType.TargetType = "customfield_10155"
	byType, _ := New(vecSecret, &withType)
	const notText = "must be text, a number or a select option"
	for _, tt := range []struct {
		name     string
		src      *Source
		from, to string
		field    string
		reason   string
	}{
		{"a configuration field holding a list", byStatus, `"customfield_10150": "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_Windows10EnrollmentCompletionPageConfiguration"`,
			`"customfield_10150": ["a"]`, "/issue/fields/customfield_10150", notText},
		{"a group field holding an object", byStatus, `"customfield_10152": "5e6f0000-0000-0000-0000-000000000001"`,
			`"customfield_10152": {"x": 1}`, "/issue/fields/customfield_10152", notText},
		{"a filter field holding a list", byStatus, `"customfield_10153": "a1b2c3d4-0000-0000-0000-00000000f117"`,
			`"customfield_10153": [1]`, "/issue/fields/customfield_10153", notText},
		{"a filter type of true", byStatus, `"customfield_10154": {"self": "https://contoso.atlassian.net/rest/api/2/customFieldOption/10300", "value": "exclude", "id": "10300"}`,
			`"customfield_10154": true`, "/issue/fields/customfield_10154", notText},
		{"a target type field holding a list", byType, `"customfield_10154": {`,
			`"customfield_10155": ["group"], "customfield_10154": {`, "/issue/fields/customfield_10155", notText},
		{"no issue key", byStatus, `"key": "ITSM-42",`, ``, "/issue/key", "is required: the issue's key, such as ITSM-42"},
		{"an empty issue key", byStatus, `"key": "ITSM-42",`, `"key": "",`, "/issue/key", "is required: the issue's key, such as ITSM-42"},
		{"an issue key that is not one", byStatus, `"key": "ITSM-42",`, `"key": "itsm 42",`, "/issue/key", "must be an issue key such as ITSM-42"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := string(readTestdata(t, "issue-approved.json"))
			if !strings.Contains(body, tt.from) {
				t.Fatalf("the sample has no %s", tt.from)
			}
			_, err := tt.src.Decode(source.Delivery{Body: []byte(strings.Replace(body, tt.from, tt.to, 1))}, nil)
			ce := coded(t, err)
			if ce.Code != change.CodeInvalid || len(ce.Fields) != 1 || ce.Fields[0] != (change.FieldError{Field: tt.field, Reason: tt.reason}) {
				t.Errorf("Decode = %v %+v; want the one error %s: %q", err, ce.Fields, tt.field, tt.reason)
			}
		})
	}
}
