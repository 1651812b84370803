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
		if !sameWire(src, fast.w, slow.w) {
			t.Fatalf("readOnePass(%q) = %+v\nread = %+v", body, fast.w, slow.w)
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

// sameWire: the one pass's reading of a webhook (the fields Decode reads
// read in the pass) is read's (every field's bytes): the same values, and
// each field src's Decode reads reads the same each way Decode reads it.
func sameWire(src *Source, fast, slow wire) bool {
	if (fast.Issue == nil) != (slow.Issue == nil) {
		return false
	}
	if fast.Issue != nil {
		for _, name := range src.read {
			t1, ok1 := fast.Issue.text(name)
			t2, ok2 := slow.Issue.text(name)
			a1, aok1 := fast.Issue.approval(name)
			a2, aok2 := slow.Issue.approval(name)
			u1, uok1 := fast.Issue.user(name)
			u2, uok2 := slow.Issue.user(name)
			if t1 != t2 || ok1 != ok2 || a1 != a2 || aok1 != aok2 || uok1 != uok2 || uok1 && u1 != u2 {
				return false
			}
		}
		f, w := *fast.Issue, *slow.Issue
		f.read, f.Fields, w.Fields = nil, nil, nil
		fast.Issue, slow.Issue = &f, &w
	}
	return reflect.DeepEqual(fast, slow)
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
	// No configuration field: Decode looks up the field named "".
	noConfiguration, _ := New(vecSecret, &Options{ApprovedStatuses: []string{"Approved"}, AssignmentField: "customfield_10151",
		GroupField: "customfield_10152"})
	return []*Source{byStatus, byField, byRevert, byType, noConfiguration}
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

// fieldValues are issue field values of every shape Decode's readings
// meet: text, numbers, select options, users, JSM approval lists, and
// values of the wrong type inside them.
var fieldValues = []string{
	`null`, `"Approved"`, `" approved "`, `"a\u0041\n"`, `42`, `-1.5e3`, `true`, `false`, `[]`, `[null]`, `{}`,
	`{"value": "Approved", "id": "10020"}`, `{"value": null, "name": "Approved"}`, `{"name": "x"}`, `{"value": 5}`,
	`{"name": 5, "value": "approved"}`, `{"self": "https://x", "value": "approved", "child": {"value": 1}}`,
	`{"accountId": "5b10", "displayName": "Alice", "emailAddress": "alice@contoso.com", "active": true}`,
	`{"accountId": null, "displayName": "Alice"}`, `{"accountId": 5}`, `{"emailAddress": ["a"]}`,
	`[{"id": "1", "name": "Step", "finalDecision": "approved", "approvers": [{"approver": {"accountId": "5b10"}, "approverDecision": "approved"}]}]`,
	`[{"finalDecision": "approved"}, {"finalDecision": "declined"}]`, `[{"finalDecision": null, "value": "Approved"}]`,
	`[{"finalDecision": 1}]`, `[{"name": "approved"}]`, `["approved", "Approved"]`, `["approved", 1]`, `[["approved"]]`,
	`[{"value": "approved"}, "approved", null]`, `[{"value": "approved", "name": 3}]`,
	`{"Value": "x"}`, `{"vAlue": "x"}`, `{"ACCOUNTID": "x"}`, `{"\u00e9": 1, "value": "x"}`,
}

// sameField: a field value read in the pass (readField) reads as its bytes
// read each way Decode reads a field; reports whether the pass read it
// (it leaves names in other letter cases to encoding/json).
func sameField(t *testing.T, raw []byte) bool {
	t.Helper()
	body := append(append([]byte(`{"f": `), raw...), '}')
	s := change.NewScanner(body)
	var f fieldReading
	read := s.Members(func([]byte) bool { return readField(s, &f) }) && s.End() && !s.Repeated()
	if !json.Valid(body) {
		if read {
			t.Fatalf("readField read %q, which is not JSON", raw)
		}
		return false
	}
	if !read || !json.Valid(raw) { // not one value, but members of the object around it
		return false
	}
	text, textOK := fieldString(raw)
	approval, approvalOK := approvalValue(raw)
	var u User
	userOK := json.Unmarshal(raw, &u) == nil
	if f.text != text || f.textOK != textOK || f.approval != approval || f.approvalOK != approvalOK || f.userOK != userOK || userOK && f.user != u {
		t.Fatalf("readField(%s) = %+v; the bytes read: text %q %v, approval %q %v, user %+v %v", raw, f, text, textOK, approval, approvalOK, u, userOK)
	}
	return true
}

func TestFieldReadingIsTheBytesReading(t *testing.T) {
	n := 0
	for _, v := range fieldValues {
		if sameField(t, []byte(v)) {
			n++
		}
	}
	if n < len(fieldValues)-5 {
		t.Errorf("readField read %d of %d values; only the names in other letter cases and the non-ASCII one go to encoding/json", n, len(fieldValues))
	}
}

func FuzzFieldReading(f *testing.F) {
	for _, v := range fieldValues {
		f.Add([]byte(v))
	}
	f.Fuzz(func(t *testing.T, raw []byte) { sameField(t, raw) })
}

// TestOnePassReadsFieldsAsOptionsSpellThem: a field option that is not a
// canonical custom field id (another letter case, a trailing space, a
// system field) is looked up as it is spelt, by the one pass as by read.
func TestOnePassReadsFieldsAsOptionsSpellThem(t *testing.T) {
	for _, id := range []string{"CustomField_10150", "customfield_10150 ", "summary", ""} {
		o := *testOptions
		o.ConfigurationField = id
		src, _ := New(vecSecret, &o)
		body := bytes.Replace(readTestdata(t, "issue-approved.json"), []byte(`"customfield_10150": "2b5b`), []byte(`"`+id+`": "2b5b`), 1)
		body = bytes.Replace(body, []byte(`"summary": "Enrollment status page: corporate devices, exclude filter",`), nil, 1)
		fast := readOnePass(body, src.reads)
		if fast == nil {
			t.Fatalf("%q: readOnePass did not read the body", id)
		}
		r1, err1 := src.Decode(source.Delivery{Body: body, Payload: fast}, nil)
		r2, err2 := src.Decode(source.Delivery{Body: body, Payload: read(body)}, nil)
		if err1 != nil || !reflect.DeepEqual(r1, r2) || !reflect.DeepEqual(err1, err2) {
			t.Errorf("%q: one pass %+v, %v; read %+v, %v", id, r1, err1, r2, err2)
		}
	}
}
