package graph

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// jsonObject is the oracle: one JSON object as encoding/json.Valid sees it.
func jsonObject(p []byte) bool {
	t := bytes.TrimLeft(p, " \t\r\n")
	return len(t) > 0 && t[0] == '{' && json.Valid(t)
}

var scanSeeds = []string{
	`{}`, ` {} `, `{"a":1}`, `{"a":[1,2,{"b":null}],"c":"\u00e9\n"}`, `{"a":-0.5e+3}`, `{"a":01}`, `{"a":1.}`,
	`{"a":-}`, `{"a":tru}`, `{"a":true,}`, `{"a" 1}`, `{a:1}`, `{"a":"\x"}`, `{"a":"\u12"}`, `{"a":"` + "\x01" + `"}`,
	`{"a":"` + "\xff" + `"}`, `[]`, `"x"`, `{}{}`, `{"a":[}`, `{"a":[1,]}`, `{"a":{"b":1}`, `{"a":1}]`, ``, ` `,
	`{"@odata.type":"#microsoft.graph.enrollmentConfigurationAssignment","id":"x","target":{"groupId":"g"},"sourceId":null}`,
	`{"a":[[[[]]]],"b":{"c":{"d":{}}}}`, `{"a":1e5,"b":1E-5,"c":-0,"d":0.0}`, `{"a":"\"\\\/\b\f\n\r\t"}`,
}

func TestValidObjectAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range scanSeeds {
		if got, want := validObject([]byte(s)), jsonObject([]byte(s)); got != want {
			t.Errorf("validObject(%q) = %v, encoding/json says %v", s, got, want)
		}
	}
	// Nesting: encoding/json allows 10000 levels and no more.
	for _, depth := range []int{63, 64, 65, 200, maxNesting, maxNesting + 1} {
		s := "{" + deep(depth) + "}"
		if got, want := validObject([]byte(s)), jsonObject([]byte(s)); got != want {
			t.Errorf("depth %d: validObject = %v, encoding/json says %v", depth, got, want)
		}
	}
}

// deep is the member "a" holding arrays and objects in turn, depth-1 of
// them, inside the object the caller wraps it in.
func deep(depth int) string {
	var open, closing strings.Builder
	open.WriteString(`"a":`)
	for i := 1; i < depth; i++ {
		if i%2 == 1 {
			open.WriteString(`[`)
			closing.WriteString(`]`)
		} else {
			open.WriteString(`{"k":`)
			closing.WriteString(`}`)
		}
	}
	c := []byte(closing.String())
	for i, j := 0, len(c)-1; i < j; i, j = i+1, j-1 {
		c[i], c[j] = c[j], c[i]
	}
	return open.String() + "0" + string(c)
}

func FuzzValidObject(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		if got, want := validObject(p), jsonObject(p); got != want {
			t.Fatalf("validObject(%q) = %v, encoding/json says %v", p, got, want)
		}
	})
}

func BenchmarkValidObject(b *testing.B) {
	p := []byte(`{"@odata.type":"#microsoft.graph.enrollmentConfigurationAssignment","id":"2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_5e6f0000-0000-0000-0000-000000000001",` +
		`"target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"5e6f0000-0000-0000-0000-000000000001",` +
		`"deviceAndAppManagementAssignmentFilterId":"a1b2c3d4-0000-0000-0000-00000000f117","deviceAndAppManagementAssignmentFilterType":"include"},"source":"direct","sourceId":null}`)
	b.Run("scanner", func(b *testing.B) {
		for b.Loop() {
			if !validObject(p) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			if !jsonObject(p) {
				b.Fatal("refused")
			}
		}
	})
}
