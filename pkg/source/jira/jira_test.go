package jira

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
)

// reference/webhooks.md §8 #6.
const (
	vecSecret = "jira-test-secret-0123456789"
	vecSig    = "sha256=dfa4316bddae49c8030b13047cd1a9e7919ea23748f98e6bb5acc535ee0407cb"
)

var testOptions = &Options{
	ApprovedStatuses:   []string{"Approved"},
	ConfigurationField: "customfield_10150",
	AssignmentField:    "customfield_10151",
	GroupField:         "customfield_10152",
	FilterField:        "customfield_10153",
	FilterType:         "customfield_10154",
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func coded(t *testing.T, err error) *change.Error {
	t.Helper()
	var ce *change.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is not a *change.Error", err)
	}
	return ce
}

func TestAuthenticateVector6(t *testing.T) {
	src, err := New(vecSecret, nil)
	if err != nil {
		t.Fatal(err)
	}
	body := readTestdata(t, "vector6.json")
	if got := Sign(vecSecret, body).Get("X-Hub-Signature"); got != vecSig {
		t.Fatalf("Sign(vector 6) = %s, want %s", got, vecSig)
	}
	h := http.Header{}
	h.Set("X-Hub-Signature", vecSig)
	h.Set("X-Atlassian-Webhook-Identifier", "3f1e2d4c-5b6a-4798-8a9b-0c1d2e3f4a5b")
	id, err := src.Authenticate(h, body, time.Time{})
	if err != nil || id != "3f1e2d4c-5b6a-4798-8a9b-0c1d2e3f4a5b" {
		t.Fatalf("Authenticate(vector 6) = %q, %v", id, err)
	}
	tests := []struct {
		name   string
		header string
		body   []byte
		kind   string
	}{
		{"missing", "", body, "signature-missing"},
		{"wrong secret", Sign("another-secret-entirely", body).Get("X-Hub-Signature"), body, "signature-mismatch"},
		{"body re-encoded after signing", vecSig, []byte(strings.ReplaceAll(string(body), ":", ": ")), "signature-mismatch"},
		{"GitHub's -256 scheme name only", "sha1=" + strings.Repeat("0", 40), body, "signature-malformed"},
		{"bare hex", strings.TrimPrefix(vecSig, "sha256="), body, "signature-malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.header != "" {
				h.Set("X-Hub-Signature", tt.header)
			}
			_, err := src.Authenticate(h, tt.body, time.Time{})
			ce := coded(t, err)
			if ce.Code != change.CodeUnauthenticated || ce.Kind != tt.kind {
				t.Fatalf("Authenticate = %v, want kind %s", err, tt.kind)
			}
			if strings.Contains(ce.Message, "dfa4316b") || strings.Contains(ce.Message, vecSecret) {
				t.Errorf("message quotes the signature or the secret: %s", ce.Message)
			}
		})
	}
	// GitHub's header is not Jira's.
	h = http.Header{}
	h.Set("X-Hub-Signature-256", vecSig)
	if _, err := src.Authenticate(h, body, time.Time{}); coded(t, err).Kind != "signature-missing" {
		t.Errorf("X-Hub-Signature-256 accepted: %v", err)
	}
	// An identifier unfit for a log or a key is dropped, not echoed.
	h = http.Header{}
	h.Set("X-Hub-Signature", vecSig)
	h.Set("X-Atlassian-Webhook-Identifier", "a b\"c")
	if id, err := src.Authenticate(h, body, time.Time{}); err != nil || id != "" {
		t.Errorf("Authenticate(odd identifier) = %q, %v", id, err)
	}
}

func TestNewRefusesShortSecrets(t *testing.T) {
	if _, err := New("short", nil); err == nil || strings.Contains(err.Error(), "short") && !strings.Contains(err.Error(), "8 characters") {
		t.Errorf("New(short) = %v", err)
	}
}

func TestDecodeIssueEvent(t *testing.T) {
	src, _ := New(vecSecret, testOptions)
	r, err := src.Decode(readTestdata(t, "issue-approved.json"), nil)
	if err != nil {
		t.Fatalf("Decode(issue-approved.json) = %v", err)
	}
	want := change.Ticket{ID: "ITSM-42", System: "jira", State: "approved", RequestedBy: "abel.tuter@contoso.com",
		ApprovedBy: "mia.approver@contoso.com", URL: "https://contoso.atlassian.net/browse/ITSM-42"}
	if r.Ticket != want {
		t.Errorf("Ticket = %+v, want %+v", r.Ticket, want)
	}
	tg := r.Assignment.Target
	if r.ConfigurationID != "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_Windows10EnrollmentCompletionPageConfiguration" ||
		r.AssignmentID != "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_5e6f0000-0000-0000-0000-000000000001" ||
		tg.ODataType != change.TypeGroup || tg.GroupID != "5e6f0000-0000-0000-0000-000000000001" ||
		tg.FilterID != "a1b2c3d4-0000-0000-0000-00000000f117" || tg.FilterType != "exclude" {
		t.Errorf("Decode = %+v, target %+v", r, tg)
	}
	if r.Assignment.ODataType != change.TypeAssignment {
		t.Errorf("not normalized")
	}

	// The approval field instead of a status.
	byField, _ := New(vecSecret, &Options{ApprovalField: "customfield_10160", ConfigurationField: "customfield_10150",
		AssignmentField: "customfield_10151", GroupField: "customfield_10152", TargetType: "exclusion"})
	body := `{"webhookEvent":"jira:issue_updated","user":{"accountId":"557058:f58131cb"},"issue":{"key":"ITSM-7","fields":{` +
		`"customfield_10160":{"value":"Approved"},"customfield_10150":"cfg_1","customfield_10151":"asg_1","customfield_10152":"7a8b0000-0000-0000-0000-000000000002"}},` +
		`"changelog":{"items":[{"field":"Decision","fieldId":"customfield_10160","toString":"Approved"}]}}`
	r, err = byField.Decode([]byte(body), nil)
	if err != nil || r.Assignment.Target.ODataType != change.TypeExclusion || r.Ticket.ApprovedBy != "557058:f58131cb" {
		t.Fatalf("Decode(approval field) = %+v, %v", r, err)
	}
}

func TestDecodeOnlyTheApprovingEventApproves(t *testing.T) {
	src, _ := New(vecSecret, testOptions)
	for _, tt := range []struct{ name, body string }{
		{"a later edit of an approved issue", string(readTestdata(t, "issue-commented.json"))},
		{"declined", string(readTestdata(t, "issue-declined.json"))},
		{"created", `{"webhookEvent":"jira:issue_created","issue":{"key":"ITSM-9","fields":{"status":{"name":"Approved"}}}}`},
		{"moved to another status", strings.Replace(string(readTestdata(t, "issue-approved.json")), `"toString": "Approved"`, `"toString": "In Progress"`, 1)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := src.Decode([]byte(tt.body), nil)
			ce := coded(t, err)
			if ce.Code != change.CodeNotApproved || strings.Contains(ce.Message, "ITSM") {
				t.Fatalf("Decode = %v, want not-approved without quoting the issue", err)
			}
		})
	}
}

func TestDecodeNamesInvalidJiraFields(t *testing.T) {
	src, _ := New(vecSecret, testOptions)
	_, err := src.Decode(readTestdata(t, "issue-invalid.json"), nil)
	ce := coded(t, err)
	if ce.Code != change.CodeInvalid {
		t.Fatalf("Decode(issue-invalid.json) = %v", err)
	}
	got := map[string]string{}
	for _, f := range ce.Fields {
		got[f.Field] = f.Reason
		if strings.Contains(f.Reason, "Pilot-Devices") || strings.Contains(f.Reason, "cfg/../x") {
			t.Errorf("reason quotes the input: %s", f.Reason)
		}
	}
	for field, reason := range map[string]string{
		"/issue/key":                      "issue key",
		"/issue/fields/customfield_10150": "opaque Graph key",
		"/issue/fields/customfield_10151": "must be text",
		"/issue/fields/customfield_10152": "must be a GUID",
		"/issue/fields/customfield_10153": "required when the filter type is include",
		"/issue/fields/reporter":          "",
	} {
		if reason == "" {
			if _, has := got[field]; has {
				t.Errorf("%s reported: %s", field, got[field])
			}
			continue
		}
		if !strings.Contains(got[field], reason) {
			t.Errorf("%s = %q, want it to mention %q (all: %v)", field, got[field], reason, ce.Fields)
		}
	}
}

func TestDecodeAutomationEnvelope(t *testing.T) {
	for _, opts := range []*Options{nil, testOptions} {
		src, _ := New(vecSecret, opts)
		r, err := src.Decode(readTestdata(t, "automation-envelope.json"), nil)
		if err != nil {
			t.Fatalf("Decode(automation-envelope.json) = %v", err)
		}
		if r.Ticket.System != "jira" || r.Ticket.ID != "ITSM-44" || r.Assignment.Target.ODataType != change.TypeExclusion {
			t.Errorf("Decode = %+v", r)
		}
	}
	// Unmapped receivers refuse Jira's own webhook with a pointer and a way out.
	src, _ := New(vecSecret, nil)
	_, err := src.Decode(readTestdata(t, "issue-approved.json"), nil)
	if ce := coded(t, err); ce.Code != change.CodeInvalid || ce.Fields[0].Field != "/issue" || !strings.Contains(ce.Fields[0].Reason, "generic envelope") {
		t.Errorf("Decode(unmapped) = %v %v", err, ce.Fields)
	}
	for _, body := range []string{`[]`, `{"hello":1}`, `"x"`} {
		if _, err := src.Decode([]byte(body), nil); coded(t, err).Code != change.CodeInvalid {
			t.Errorf("Decode(%s) = %v, want invalid-fields", body, err)
		}
	}
	if _, err := src.Decode([]byte(`{"issue":`), nil); coded(t, err).Code != change.CodeMalformed {
		t.Errorf("Decode(truncated) = %v, want malformed-json", err)
	}
}

func TestDecodeRefusesDuplicateProperties(t *testing.T) {
	src, _ := New(vecSecret, testOptions)
	body := strings.Replace(string(readTestdata(t, "issue-approved.json")), `"customfield_10152": "5e6f0000`, `"customfield_10152": "7a8b0000-0000-0000-0000-000000000002", "customfield_10152": "5e6f0000`, 1)
	_, err := src.Decode([]byte(body), nil)
	ce := coded(t, err)
	if ce.Code != change.CodeInvalid || len(ce.Fields) != 1 || ce.Fields[0].Field != "/issue/fields/customfield_10152" {
		t.Errorf("Decode(duplicate field) = %v %v", err, ce.Fields)
	}
}

func TestDecodeTargetTypeFromAField(t *testing.T) {
	opts := *testOptions
	opts.TargetType = "customfield_10155"
	src, _ := New(vecSecret, &opts)
	base := string(readTestdata(t, "issue-approved.json"))
	withType := func(v string) []byte {
		return []byte(strings.Replace(base, `"customfield_10150"`, `"customfield_10155": `+v+`, "customfield_10150"`, 1))
	}
	r, err := src.Decode(withType(`{"value":"allDevices"}`), nil)
	if err != nil || r.Assignment.Target.ODataType != change.TypeAllDevices || r.Assignment.Target.GroupID != "" {
		t.Fatalf("Decode(allDevices) = %+v, %v", r, err)
	}
	r, err = src.Decode(withType(`"Exclusion"`), nil)
	if err != nil || r.Assignment.Target.ODataType != change.TypeExclusion {
		t.Fatalf("Decode(Exclusion) = %+v, %v", r, err)
	}
	_, err = src.Decode(withType(`"collection"`), nil)
	if ce := coded(t, err); ce.Code != change.CodeInvalid || ce.Fields[0].Field != "/issue/fields/customfield_10155" {
		t.Fatalf("Decode(collection) = %v %v", err, ce.Fields)
	}
}
