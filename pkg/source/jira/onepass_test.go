package jira

import (
	"bytes"
	"encoding/json"
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
// reads, but of the issue's fields only those the source's Decode reads;
// the body has no repeated name; and Decode answers the same from either
// reading, so the fields left out are fields Decode does not read.
func onePassAgrees(t *testing.T, srcs []*Source, body []byte) bool {
	t.Helper()
	read1 := false
	for _, src := range srcs {
		fast := readOnePass(body, src.reads)
		if fast == nil {
			continue
		}
		read1 = true
		slow := read(body)
		if slow.err != nil {
			t.Fatalf("readOnePass(%q) read a body read refuses: %v", body, slow.err)
		}
		kept := slow.w
		if is := slow.w.Issue; is != nil && is.Fields != nil {
			only := *is
			only.Fields = map[string]json.RawMessage{}
			for k, v := range is.Fields {
				if src.reads([]byte(k)) {
					only.Fields[k] = v
				}
			}
			kept.Issue = &only
		}
		if !reflect.DeepEqual(fast.w, kept) {
			t.Fatalf("readOnePass(%q) = %+v\nread, the fields Decode reads = %+v", body, fast.w, kept)
		}
		if dups := change.DuplicateFields(body); len(dups) > 0 {
			t.Fatalf("readOnePass(%q) read a body with repeated names %v", body, dups)
		}
		r1, err1 := src.Decode(source.Delivery{Body: body, Payload: fast}, nil)
		r2, err2 := src.Decode(source.Delivery{Body: body, Payload: slow}, nil)
		if !reflect.DeepEqual(r1, r2) || !reflect.DeepEqual(err1, err2) {
			t.Fatalf("Decode(%q): one pass %+v, %v; before %+v, %v", body, r1, err1, r2, err2)
		}
	}
	return read1
}

// onePassSources are the mappings the testdata events need.
func onePassSources() []*Source {
	byStatus, _ := New(vecSecret, testOptions)
	byField, _ := New(vecSecret, &Options{ApprovalField: "customfield_10027", ConfigurationField: "customfield_10150",
		AssignmentField: "customfield_10151", GroupField: "customfield_10152", FilterField: "customfield_10153", FilterType: "customfield_10154"})
	withRevert := *testOptions
	withRevert.RevertStatuses, withRevert.WindowStartField, withRevert.WindowEndField = []string{"Backed out"}, "customfield_10050", "customfield_10051"
	byRevert, _ := New(vecSecret, &withRevert)
	// A target type from a field, and a fixed filter type.
	byType, _ := New(vecSecret, &Options{ApprovedStatuses: []string{"Approved"}, ConfigurationField: "customfield_10150",
		AssignmentField: "customfield_10151", TargetType: "customfield_10155", GroupField: "customfield_10152",
		FilterField: "customfield_10153", FilterType: "include"})
	return []*Source{byStatus, byField, byRevert, byType}
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
		if readOnePass(readTestdata(t, name), srcs[0].reads) == nil {
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
