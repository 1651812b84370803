package jira

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/source"
)

// onePassSeeds are Jira webhooks readOnePass must read (the testdata
// events, Jira's nulls included) or must leave to read (each unusual in
// one way).
func onePassSeeds(t testing.TB) [][]byte {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	var out [][]byte
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	approved := readTestdata(t, "issue-approved.json")
	for _, edit := range [][2]string{
		{`"key"`, `"Key"`},                                             // another letter case
		{`"key"`, `"k\u0065y"`},                                        // an escaped name
		{`"fields": {`, `"fields": {"summary": "x", `},                 // a repeat
		{`"issue": {`, `"issue": {"x": {"a": 1, "a": 2}, `},            // a repeat inside a skipped value
		{`"fields": {`, `"fields": {"` + "\xff" + `": 1, `},            // a field name that is not UTF-8
		{`"user": {`, `"user": null, "u": {`},                          // a null user
		{`"fromString": "Waiting for approval"`, `"fromString": null`}, // Jira's nulls
		{`"items": [`, `"items": [null, `},
		{`"self"`, `"self": 5, "x"`}, // a wrong type
		{`"fields": {`, `"fields": {"customfield_1": null, "customfield_2": [1, {"b": null}], `},
		{`"timestamp": 1764403200123`, `"timestamp": "1764403200123"`},
		{`"webhookEvent"`, `"ticket": null, "webhookEvent"`},
	} {
		out = append(out, bytes.Replace(approved, []byte(edit[0]), []byte(edit[1]), 1))
	}
	return append(out, []byte(`{}`), []byte(`{"issue":{}}`), []byte(`{"issue":{"fields":{}},"changelog":{"items":[]}}`),
		[]byte(`{"issue":null,"user":null,"changelog":{"items":null}}`), []byte(`[]`), []byte(`{"issue":{}} x`))
}

// onePassAgrees: wherever readOnePass reads a body, it reads what read
// reads, the body has no repeated name, and Decode answers the same from
// either reading.
func onePassAgrees(t *testing.T, srcs []*Source, body []byte) bool {
	t.Helper()
	fast := readOnePass(body)
	if fast == nil {
		return false
	}
	slow := read(body)
	if slow.err != nil || !reflect.DeepEqual(fast.w, slow.w) {
		t.Fatalf("readOnePass(%q) = %+v\nread = %+v, %v", body, fast.w, slow.w, slow.err)
	}
	if dups := change.DuplicateFields(body); len(dups) > 0 {
		t.Fatalf("readOnePass(%q) read a body with repeated names %v", body, dups)
	}
	for _, src := range srcs {
		r1, err1 := src.Decode(source.Delivery{Body: body, Payload: fast}, nil)
		r2, err2 := src.Decode(source.Delivery{Body: body, Payload: slow}, nil)
		if !reflect.DeepEqual(r1, r2) || !reflect.DeepEqual(err1, err2) {
			t.Fatalf("Decode(%q): one pass %+v, %v; before %+v, %v", body, r1, err1, r2, err2)
		}
	}
	return true
}

// onePassSources are the mappings the testdata events need.
func onePassSources() []*Source {
	byStatus, _ := New(vecSecret, testOptions)
	byField, _ := New(vecSecret, &Options{ApprovalField: "customfield_10027", ConfigurationField: "customfield_10150",
		AssignmentField: "customfield_10151", GroupField: "customfield_10152", FilterField: "customfield_10153", FilterType: "customfield_10154"})
	withRevert := *testOptions
	withRevert.RevertStatuses, withRevert.WindowStartField, withRevert.WindowEndField = []string{"Backed out"}, "customfield_10050", "customfield_10051"
	byRevert, _ := New(vecSecret, &withRevert)
	return []*Source{byStatus, byField, byRevert}
}

func TestReadOnePass(t *testing.T) {
	srcs := onePassSources()
	n := 0
	for _, b := range onePassSeeds(t) {
		if onePassAgrees(t, srcs, b) {
			n++
		}
	}
	if n < 10 {
		t.Errorf("readOnePass read %d seeds, want the testdata events and the clean edits", n)
	}
	for _, name := range []string{"issue-approved.json", "issue-approved-jsm-approvals.json", "issue-reverted.json", "issue-declined.json", "issue-commented.json"} {
		if readOnePass(readTestdata(t, name)) == nil {
			t.Errorf("readOnePass did not read testdata/%s, which Jira sends", name)
		}
	}
}

// FuzzReadOnePass holds readOnePass to read and to Decode's answers.
func FuzzReadOnePass(f *testing.F) {
	for _, b := range onePassSeeds(f) {
		f.Add(b)
	}
	srcs := onePassSources()
	f.Fuzz(func(t *testing.T, body []byte) { onePassAgrees(t, srcs, body) })
}
