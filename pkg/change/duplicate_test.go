package change

import (
	"errors"
	"strings"
	"testing"
)

// TestDuplicatePropertiesSpelledWithEscapesAreRefused: JSON lets a name be
// written with \u escapes ("group\u0049d" is "groupId"), and encoding/json
// unescapes before it matches, keeping the last. A reviewer reading the
// first spelling would approve another target than the one Graph gets, so
// an escaped spelling of a property already present is refused like a
// plain repeat, and the refusal names the property as it decodes.
func TestDuplicatePropertiesSpelledWithEscapesAreRefused(t *testing.T) {
	const typeGroup = `"@odata.type":"#microsoft.graph.groupAssignmentTarget"`
	tests := []struct {
		name, body, field string
	}{
		{"groupId then group\\u0049d",
			envelope(target(`{` + typeGroup + `,"groupId":"` + guid + `","group\u0049d":"` + fguid + `"}`)),
			"/assignment/target/groupId"},
		{"every letter escaped",
			envelope(target(`{` + typeGroup + `,"groupId":"` + guid + `","\u0067\u0072\u006f\u0075\u0070\u0049\u0064":"` + fguid + `"}`)),
			"/assignment/target/groupId"},
		{"both spellings escaped, differently",
			envelope(target(`{` + typeGroup + `,"\u0067roupId":"` + guid + `","groupI\u0064":"` + fguid + `"}`)),
			"/assignment/target/groupId"},
		{"escaped and in another case",
			envelope(target(`{` + typeGroup + `,"groupId":"` + guid + `","GROUP\u0069D":"` + fguid + `"}`)),
			"/assignment/target/GROUPiD"},
		{"the target's type",
			envelope(target(`{` + typeGroup + `,"groupId":"` + guid + `","@odata\u002etype":"#microsoft.graph.allDevicesAssignmentTarget"}`)),
			"/assignment/target/@odata.type"},
		{"a top-level name",
			strings.Replace(envelope(target(`{`+typeGroup+`,"groupId":"`+guid+`"}`)), `"configurationId"`,
				`"tick\u0065t":null,"configurationId"`, 1),
			"/ticket"},
		{"the whole assignment",
			strings.TrimSuffix(envelope(target(`{`+typeGroup+`,"groupId":"`+guid+`"}`)), `}`) +
				`,"assignm\u0065nt":{"target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}}`,
			"/assignment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.body
			r, err := Decode([]byte(body), nil)
			var ce *Error
			if !errors.As(err, &ce) || ce.Code != CodeInvalid || !hasField(ce, tt.field) {
				t.Fatalf("Decode(%s) = %+v, %v; want CodeInvalid with a duplicate at %s", body, r, err, tt.field)
			}
			if fields := DuplicateFields([]byte(body)); len(fields) != 1 || fields[0].Field != tt.field {
				t.Errorf("DuplicateFields(%s) = %+v, want one at %s", body, fields, tt.field)
			}
		})
	}
}

// TestEscapedNamesThatDifferAreNotDuplicates: an escape that spells another
// name is not a repeat, so a body using escapes for other reasons passes.
func TestEscapedNamesThatDifferAreNotDuplicates(t *testing.T) {
	body := envelope(target(`{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"` + guid + `"}`))
	body = strings.Replace(body, `"configurationId"`, `"x\u0041":1,"xB":2,"caf\u00e9":3,"cafe":4,"configurationId"`, 1)
	if _, err := Decode([]byte(body), nil); err != nil {
		t.Fatalf("Decode(%s) = %v, want success", body, err)
	}
	if fields := DuplicateFields([]byte(body)); len(fields) != 0 {
		t.Errorf("DuplicateFields(%s) = %+v, want none", body, fields)
	}
}
