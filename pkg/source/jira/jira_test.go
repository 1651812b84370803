package jira

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/source"
)

// reference/webhooks.md §8 #6.
const (
	vecSecret = "jira-test-secret-0123456789"
	vecSig    = "sha256=dfa4316bddae49c8030b13047cd1a9e7919ea23748f98e6bb5acc535ee0407cb"
)

// vecNow is the time of vector 6's timestamp.
var vecNow = time.UnixMilli(1714000000000)

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
	id, err := idOf(src.Authenticate(h, body, vecNow))
	if err != nil || id != DeliveryID(body) || !strings.HasPrefix(id, "sha256-") || len(id) != len("sha256-")+32 {
		t.Fatalf("Authenticate(vector 6) = %q, %v; want the body's id %s", id, err, DeliveryID(body))
	}
	tests := []struct {
		name   string
		header string
		body   []byte
		kind   change.Kind
	}{
		{"missing", "", body, "signature-missing"},
		{"wrong secret", Sign("another-secret-entirely", body).Get("X-Hub-Signature"), body, "signature-mismatch"},
		{"body re-encoded after signing: pretty-printed", vecSig, indent(t, body), "body-re-encoded"},
		{"body re-encoded after signing: newline added", vecSig, append(append([]byte{}, body...), '\n'), "body-re-encoded"},
		{"keys reordered: another body as far as anyone can tell", vecSig, []byte(`{"webhookEvent":"jira:issue_updated","timestamp":1714000000000,"issue":{"key":"ITSM-42"}}`), "signature-mismatch"},
		{"GitHub's -256 scheme name only", "sha1=" + strings.Repeat("0", 40), body, "signature-malformed"},
		{"bare hex", strings.TrimPrefix(vecSig, "sha256="), body, "signature-malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.header != "" {
				h.Set("X-Hub-Signature", tt.header)
			}
			_, err := src.Authenticate(h, tt.body, vecNow)
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
	if _, err := src.Authenticate(h, body, vecNow); coded(t, err).Kind != "signature-missing" {
		t.Errorf("X-Hub-Signature-256 accepted: %v", err)
	}
	// The unsigned identifier header names nothing: a captured body sent
	// again under another identifier, or none, is the same delivery.
	for _, ident := range []string{"", "another-identifier", "a b\"c", "3F1E2D4C-5B6A-4798-8A9B-0C1D2E3F4A5B"} {
		h = http.Header{}
		h.Set("X-Hub-Signature", vecSig)
		if ident != "" {
			h.Set("X-Atlassian-Webhook-Identifier", ident)
		}
		if got, err := idOf(src.Authenticate(h, body, vecNow)); err != nil || got != id {
			t.Errorf("Authenticate(identifier %q) = %q, %v; want %q", ident, got, err, id)
		}
	}
	// Another body is another delivery.
	other := Restamp(body, vecNow.Add(time.Second))
	if got, err := idOf(src.Authenticate(Sign(vecSecret, other), other, vecNow)); err != nil || got == id {
		t.Errorf("Authenticate(another timestamp) = %q, %v; want an id other than %q", got, err, id)
	}
}

func indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestAuthenticateTimestampWindow: the signed timestamp bounds replays
// beyond what the de-duplication store remembers.
func TestAuthenticateTimestampWindow(t *testing.T) {
	src, _ := New(vecSecret, nil)
	signed := func(body string) (http.Header, []byte) { return Sign(vecSecret, []byte(body)), []byte(body) }
	h, body := signed(string(readTestdata(t, "vector6.json")))
	for _, tt := range []struct {
		name string
		now  time.Time
		ok   bool
	}{
		{"at once", vecNow, true},
		{"59 minutes later", vecNow.Add(59 * time.Minute), true},
		{"an hour and a second later", vecNow.Add(time.Hour + time.Second), false},
		{"a day later", vecNow.Add(24 * time.Hour), false},
		{"an hour and a second early", vecNow.Add(-time.Hour - time.Second), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := src.Authenticate(h, body, tt.now)
			if tt.ok {
				if err != nil {
					t.Fatalf("Authenticate = %v", err)
				}
				return
			}
			ce := coded(t, err)
			if ce.Code != change.CodeUnauthenticated || ce.Kind != "timestamp-out-of-window" || !strings.Contains(ce.Message, "1h0m0s") {
				t.Fatalf("Authenticate = %v, want timestamp-out-of-window", err)
			}
		})
	}
	// Every delivery carries its signed timestamp: a Jira webhook without
	// one, or an envelope (a Jira Automation rule) without one, could be
	// replayed for ever.
	for _, b := range []string{`{"webhookEvent":"jira:issue_updated","issue":{"key":"ITSM-42"}}`, strings.Replace(string(readTestdata(t, "automation-envelope.json")), `"timestamp":1764403200000,`, "", 1)} {
		h, body := signed(b)
		if _, err := src.Authenticate(h, body, time.Now()); coded(t, err).Kind != "timestamp-out-of-window" {
			t.Errorf("Authenticate(no timestamp) = %v, want timestamp-out-of-window", err)
		}
	}
	// A timestamp that is not epoch milliseconds is refused, not ignored.
	for _, b := range []string{`{"timestamp":"2024-04-24T23:06:40Z","webhookEvent":"jira:issue_updated"}`, `{"timestamp":1714000000000.5}`, `{"timestamp":-1}`} {
		h, body := signed(b)
		if _, err := src.Authenticate(h, body, vecNow); coded(t, err).Kind != "timestamp-out-of-window" {
			t.Errorf("Authenticate(%s) = %v", b, err)
		}
	}
	// Restamp makes a sample current again, for the send command.
	fresh := Restamp(readTestdata(t, "issue-approved.json"), time.Now())
	if _, err := src.Authenticate(Sign(vecSecret, fresh), fresh, time.Now()); err != nil {
		t.Errorf("Authenticate(restamped) = %v", err)
	}
	if mapped, _ := New(vecSecret, testOptions); !strings.Contains(string(fresh), `"timestamp":`) {
		t.Errorf("Restamp dropped the timestamp")
	} else if _, err := mapped.Decode(source.Delivery{Body: fresh}, nil); err != nil {
		t.Errorf("Decode(restamped) = %v", err)
	}
}

// TestAuthenticateEnvelopeWindow: an envelope's signed timestamp (Jira
// Automation's {{now.toMillis}}) must lie within the signature tolerance,
// not Jira's hour.
func TestAuthenticateEnvelopeWindow(t *testing.T) {
	now := time.Now()
	stamped := Restamp(readTestdata(t, "automation-envelope.json"), now)
	for _, tt := range []struct {
		name      string
		tolerance time.Duration
		at        time.Time
		ok        bool
	}{
		{"at once", 0, now, true},
		{"4 minutes later", 0, now.Add(4 * time.Minute), true},
		{"6 minutes later, default tolerance", 0, now.Add(6 * time.Minute), false},
		{"6 minutes early", 0, now.Add(-6 * time.Minute), false},
		{"6 minutes later, tolerance 10m", 10 * time.Minute, now.Add(6 * time.Minute), true},
		{"50 minutes later: Jira's hour is not the envelope's", 0, now.Add(50 * time.Minute), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src, _ := New(vecSecret, &Options{Tolerance: tt.tolerance})
			_, err := src.Authenticate(Sign(vecSecret, stamped), stamped, tt.at)
			if tt.ok != (err == nil) {
				t.Fatalf("Authenticate = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && coded(t, err).Kind != "timestamp-out-of-window" {
				t.Fatalf("Authenticate = %v, want timestamp-out-of-window", err)
			}
		})
	}
	mapped, _ := New(vecSecret, testOptions)
	if _, err := mapped.Decode(source.Delivery{Body: stamped}, nil); err != nil {
		t.Errorf("Decode(envelope with timestamp) = %v", err)
	}
}

func TestNewRefusesShortSecrets(t *testing.T) {
	if _, err := New("short", nil); err == nil || strings.Contains(err.Error(), "short") && !strings.Contains(err.Error(), "8 characters") {
		t.Errorf("New(short) = %v", err)
	}
}

func TestDecodeIssueEvent(t *testing.T) {
	src, _ := New(vecSecret, testOptions)
	r, err := src.Decode(source.Delivery{Body: readTestdata(t, "issue-approved.json")}, nil)
	if err != nil {
		t.Fatalf("Decode(issue-approved.json) = %v", err)
	}
	want := change.Ticket{ID: "ITSM-42", System: "jira", State: "approved", RequestedBy: "abel.tuter@contoso.com",
		ApprovedBy: "mia.approver@contoso.com", RequestedByID: "5b10ac8d82e05b22cc7d4ef5", ApprovedByID: "5b10a2844c20165700ede21g", URL: "https://contoso.atlassian.net/browse/ITSM-42"}
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
	body := `{"webhookEvent":"jira:issue_updated","user":{"accountId":"557058:f58131cb"},"issue":{"key":"ITSM-7","fields":{"reporter":{"accountId":"5b10ac8d82e05b22cc7d4ef5"},` +
		`"customfield_10160":{"value":"Approved"},"customfield_10150":"cfg_1","customfield_10151":"asg_1","customfield_10152":"7a8b0000-0000-0000-0000-000000000002"}},` +
		`"changelog":{"items":[{"field":"Decision","fieldId":"customfield_10160","toString":"Approved"}]}}`
	r, err = byField.Decode(source.Delivery{Body: []byte(body)}, nil)
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
			_, err := src.Decode(source.Delivery{Body: []byte(tt.body)}, nil)
			ce := coded(t, err)
			if ce.Code != change.CodeNotApproved || strings.Contains(ce.Message, "ITSM") {
				t.Fatalf("Decode = %v, want not-approved without quoting the issue", err)
			}
		})
	}
}

func TestDecodeNamesInvalidJiraFields(t *testing.T) {
	src, _ := New(vecSecret, testOptions)
	_, err := src.Decode(source.Delivery{Body: readTestdata(t, "issue-invalid.json")}, nil)
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
		r, err := src.Decode(source.Delivery{Body: readTestdata(t, "automation-envelope.json")}, nil)
		if err != nil {
			t.Fatalf("Decode(automation-envelope.json) = %v", err)
		}
		if r.Ticket.System != "jira" || r.Ticket.ID != "ITSM-44" || r.Assignment.Target.ODataType != change.TypeExclusion {
			t.Errorf("Decode = %+v", r)
		}
	}
	// Unmapped receivers refuse Jira's own webhook with a pointer and a way out.
	src, _ := New(vecSecret, nil)
	_, err := src.Decode(source.Delivery{Body: readTestdata(t, "issue-approved.json")}, nil)
	if ce := coded(t, err); ce.Code != change.CodeInvalid || ce.Fields[0].Field != "/issue" || !strings.Contains(ce.Fields[0].Reason, "generic envelope") {
		t.Errorf("Decode(unmapped) = %v %v", err, ce.Fields)
	}
	for _, body := range []string{`[]`, `{"hello":1}`, `"x"`} {
		if _, err := src.Decode(source.Delivery{Body: []byte(body)}, nil); coded(t, err).Code != change.CodeInvalid {
			t.Errorf("Decode(%s) = %v, want invalid-fields", body, err)
		}
	}
	if _, err := src.Decode(source.Delivery{Body: []byte(`{"issue":`)}, nil); coded(t, err).Code != change.CodeMalformed {
		t.Errorf("Decode(truncated) = %v, want malformed-json", err)
	}
}

func TestDecodeRefusesDuplicateProperties(t *testing.T) {
	src, _ := New(vecSecret, testOptions)
	body := strings.Replace(string(readTestdata(t, "issue-approved.json")), `"customfield_10152": "5e6f0000`, `"customfield_10152": "7a8b0000-0000-0000-0000-000000000002", "customfield_10152": "5e6f0000`, 1)
	_, err := src.Decode(source.Delivery{Body: []byte(body)}, nil)
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
	r, err := src.Decode(source.Delivery{Body: withType(`{"value":"allDevices"}`)}, nil)
	if err != nil || r.Assignment.Target.ODataType != change.TypeAllDevices || r.Assignment.Target.GroupID != "" {
		t.Fatalf("Decode(allDevices) = %+v, %v", r, err)
	}
	r, err = src.Decode(source.Delivery{Body: withType(`"Exclusion"`)}, nil)
	if err != nil || r.Assignment.Target.ODataType != change.TypeExclusion {
		t.Fatalf("Decode(Exclusion) = %+v, %v", r, err)
	}
	_, err = src.Decode(source.Delivery{Body: withType(`"collection"`)}, nil)
	if ce := coded(t, err); ce.Code != change.CodeInvalid || ce.Fields[0].Field != "/issue/fields/customfield_10155" {
		t.Fatalf("Decode(collection) = %v %v", err, ce.Fields)
	}
}

// TestDecodeSeparationOfDuties: the requester (the issue's reporter) cannot
// approve their own change, through a status or through the approval field.
func TestDecodeSeparationOfDuties(t *testing.T) {
	byStatus, _ := New(vecSecret, testOptions)
	approved := string(readTestdata(t, "issue-approved.json"))
	mia := `{"accountId": "5b10a2844c20165700ede21g", "displayName": "Mia Approver", "emailAddress": "mia.approver@contoso.com"}`
	abel := `{"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "Abel Tuter", "emailAddress": "abel.tuter@contoso.com"}`
	if !strings.Contains(approved, `"user": `+mia) || !strings.Contains(approved, `"reporter": `+abel) {
		t.Fatal("issue-approved.json changed; update this test")
	}
	selfApproved := func(body, user string) []byte {
		return []byte(strings.Replace(body, `"user": `+mia, `"user": `+user, 1))
	}
	byField, _ := New(vecSecret, &Options{ApprovalField: "customfield_10027", ConfigurationField: "customfield_10150",
		AssignmentField: "customfield_10151", GroupField: "customfield_10152"})
	jsm := string(readTestdata(t, "issue-approved-jsm-approvals.json"))
	for _, tt := range []struct {
		name string
		src  *Source
		body []byte
	}{
		{"status: the reporter moved it to Approved", byStatus, selfApproved(approved, abel)},
		{"status: same account, e-mail withheld", byStatus, selfApproved(approved, `{"accountId": "5b10ac8d82e05b22cc7d4ef5"}`)},
		{"status: same e-mail, other letter case", byStatus, selfApproved(approved, `{"emailAddress": "Abel.Tuter@contoso.com"}`)},
		{"approval field: the reporter approved", byField, []byte(strings.Replace(jsm, `"user": `+mia, `"user": `+abel, 1))},
		// An agent raised it on behalf of the reporter (or changed the
		// reporter since), then approved it.
		{"status: its creator approved", byStatus, []byte(strings.Replace(approved, `"reporter": `+abel, `"reporter": `+abel+`, "creator": `+mia, 1))},
		{"approval field: its creator approved", byField, []byte(strings.Replace(jsm, `"reporter": `+abel, `"reporter": `+abel+`, "creator": `+mia, 1))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.src.Decode(source.Delivery{Body: tt.body}, nil)
			ce := coded(t, err)
			if ce.Code != change.CodeForbidden || ce.Kind != change.KindSeparationOfDuties || !strings.Contains(ce.Message, "separation of duties") {
				t.Fatalf("Decode = %v (kind %q), want forbidden separation-of-duties", err, ce.Kind)
			}
			for _, id := range []string{"5b10ac8d82e05b22cc7d4ef5", "abel.tuter", "Abel", "ITSM"} {
				if strings.Contains(strings.ToLower(ce.Message), strings.ToLower(id)) {
					t.Errorf("message quotes %q: %s", id, ce.Message)
				}
			}
		})
	}
	// Another person approving is fine, on both paths, whoever created
	// the issue.
	if r, err := byStatus.Decode(source.Delivery{Body: []byte(approved)}, nil); err != nil || r.Ticket.RequestedBy == r.Ticket.ApprovedBy {
		t.Errorf("Decode(approved by another) = %+v, %v", r, err)
	}
	agent := `{"accountId": "5b10ac8d82e05b22cc7d4e00", "displayName": "Ada Agent", "emailAddress": "ada.agent@contoso.com"}`
	if _, err := byStatus.Decode(source.Delivery{Body: []byte(strings.Replace(approved, `"reporter": `+abel, `"reporter": `+abel+`, "creator": `+agent, 1))}, nil); err != nil {
		t.Errorf("Decode(created by an agent, approved by another) = %v", err)
	}
	if _, err := byField.Decode(source.Delivery{Body: []byte(jsm)}, nil); err != nil {
		t.Errorf("Decode(JSM approval by another) = %v", err)
	}
}

// TestDecodeApprovalFieldChangeMustReadApproved: the changelog item itself
// must read approved; an issue whose field already reads approved does not
// make any other change of that field an approval.
func TestDecodeApprovalFieldChangeMustReadApproved(t *testing.T) {
	src, _ := New(vecSecret, &Options{ApprovalField: "customfield_10160", ConfigurationField: "customfield_10150",
		AssignmentField: "customfield_10151", GroupField: "customfield_10152"})
	body := func(current, to string) []byte {
		return []byte(`{"webhookEvent":"jira:issue_updated","user":{"accountId":"557058:f58131cb"},"issue":{"key":"ITSM-7","fields":{"reporter":{"accountId":"5b10ac8d82e05b22cc7d4ef5"},` +
			`"customfield_10160":` + current + `,"customfield_10150":"cfg_1","customfield_10151":"asg_1","customfield_10152":"7a8b0000-0000-0000-0000-000000000002"}},` +
			`"changelog":{"items":[{"field":"Decision","fieldId":"customfield_10160","fromString":"Pending","toString":` + to + `}]}}`)
	}
	if _, err := src.Decode(source.Delivery{Body: body(`{"value":"Approved"}`, `"Approved"`)}, nil); err != nil {
		t.Fatalf("Decode(changed to Approved) = %v", err)
	}
	for _, tt := range []struct{ name, current, to string }{
		{"changelog reads pending", `{"value":"Approved"}`, `"Pending"`},
		{"changelog without toString", `{"value":"Approved"}`, `null`},
		{"changelog approved, field not", `{"value":"Declined"}`, `"Approved"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := src.Decode(source.Delivery{Body: body(tt.current, tt.to)}, nil)
			if ce := coded(t, err); ce.Code != change.CodeNotApproved {
				t.Fatalf("Decode = %v, want not-approved", err)
			}
		})
	}
}

// TestDecodeOnlyIssueUpdatedEvents: webhookEvent must be jira:issue_updated;
// any other event approves nothing, whatever its changelog says.
func TestDecodeOnlyIssueUpdatedEvents(t *testing.T) {
	src, _ := New(vecSecret, testOptions)
	approved := string(readTestdata(t, "issue-approved.json"))
	for _, ev := range []string{`"jira:issue_created"`, `"jira:issue_deleted"`, `"comment_created"`, `"JIRA:ISSUE_UPDATED"`, `""`, `null`} {
		t.Run(ev, func(t *testing.T) {
			body := strings.Replace(approved, `"webhookEvent": "jira:issue_updated"`, `"webhookEvent": `+ev, 1)
			_, err := src.Decode(source.Delivery{Body: []byte(body)}, nil)
			ce := coded(t, err)
			if ce.Code != change.CodeNotApproved || !strings.Contains(ce.Message, "not an issue update") {
				t.Fatalf("Decode = %v, want not-approved", err)
			}
		})
	}
	noEvent := strings.Replace(approved, `"webhookEvent": "jira:issue_updated",`, ``, 1)
	if _, err := src.Decode(source.Delivery{Body: []byte(noEvent)}, nil); coded(t, err).Code != change.CodeNotApproved {
		t.Errorf("Decode(no webhookEvent) = %v", err)
	}
}

// TestDecodeJSMApprovalsList: the approvals field in JSM's shape (id, name,
// finalDecision, approvers, dates; reference/webhooks.md §2.1) decides by
// finalDecision, every entry.
func TestDecodeJSMApprovalsList(t *testing.T) {
	src, _ := New(vecSecret, &Options{ApprovalField: "customfield_10027", ConfigurationField: "customfield_10150",
		AssignmentField: "customfield_10151", GroupField: "customfield_10152"})
	jsm := string(readTestdata(t, "issue-approved-jsm-approvals.json"))
	r, err := src.Decode(source.Delivery{Body: []byte(jsm)}, nil)
	if err != nil {
		t.Fatalf("Decode(JSM approvals) = %v", err)
	}
	if r.Ticket.ID != "ITSM-44" || r.Ticket.ApprovedBy != "mia.approver@contoso.com" || r.Ticket.RequestedBy != "abel.tuter@contoso.com" {
		t.Errorf("Ticket = %+v", r.Ticket)
	}
	second := `{"id": "13", "name": "Security approval", "finalDecision": "pending", "canAnswerApproval": true, "approvers": []}`
	for name, body := range map[string]string{
		"declined":                    strings.Replace(jsm, `"finalDecision": "approved"`, `"finalDecision": "declined"`, 1),
		"pending":                     strings.Replace(jsm, `"finalDecision": "approved"`, `"finalDecision": "pending"`, 1),
		"one of two pending":          strings.Replace(jsm, `"customfield_10027": [`, `"customfield_10027": [`+second+`,`, 1),
		"named approved, no decision": strings.Replace(strings.Replace(jsm, `"finalDecision": "approved",`, ``, 1), `"Change manager approval"`, `"approved"`, 1),
		"empty list":                  strings.Replace(jsm, `"customfield_10027": [`, `"customfield_10027": [], "x": [`, 1),
	} {
		t.Run(name, func(t *testing.T) {
			if !json.Valid([]byte(body)) || body == jsm {
				t.Fatal("test body not built")
			}
			_, err := src.Decode(source.Delivery{Body: []byte(body)}, nil)
			if ce := coded(t, err); ce.Code != change.CodeNotApproved {
				t.Fatalf("Decode = %v, want not-approved", err)
			}
		})
	}
}

// TestDecodeEnvelopeNotApproved: the Automation envelope is refused when its
// ticket is not approved, as the issue path is, naming known states only.
func TestDecodeEnvelopeNotApproved(t *testing.T) {
	src, _ := New(vecSecret, testOptions)
	env := string(readTestdata(t, "automation-envelope.json"))
	for state, want := range map[string]string{
		"0":               "the ticket state is not approved",
		"rejected":        "the ticket state is rejected",
		"secret-ish-word": "the ticket state is not approved",
	} {
		body := strings.Replace(env, `"state":"approved"`, `"state":"`+state+`"`, 1)
		_, err := src.Decode(source.Delivery{Body: []byte(body)}, nil)
		ce := coded(t, err)
		if ce.Code != change.CodeNotApproved || !strings.Contains(ce.Message, want) || strings.Contains(ce.Message, "secret-ish") {
			t.Errorf("Decode(state %q) = %v, want not-approved %q", state, err, want)
		}
	}
}

// idOf is the delivery id of Authenticate's answer.
func idOf(d source.Delivery, err error) (string, error) { return d.ID, err }

// TestDecodeRequiresTheReporter: an issue event that names neither a
// reporter nor a creator has nobody to keep from approving their own
// change: 422 naming the reporter.
func TestDecodeRequiresTheReporter(t *testing.T) {
	src, _ := New(vecSecret, testOptions)
	body := string(readTestdata(t, "issue-approved.json"))
	was := `"reporter": {"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "Abel Tuter", "emailAddress": "abel.tuter@contoso.com"}`
	if !strings.Contains(body, was) || strings.Contains(body, `"creator"`) {
		t.Fatal("the sample's reporter moved, or it has a creator")
	}
	for _, now := range []string{`"reporter": null`, `"reporter": {}`, `"assignee": {}`} {
		_, err := src.Decode(source.Delivery{Body: []byte(strings.Replace(body, was, now, 1))}, nil)
		ce := coded(t, err)
		found := false
		for _, f := range ce.Fields {
			found = found || f.Field == "/issue/fields/reporter" && strings.Contains(f.Reason, "is required")
		}
		if ce.Code != change.CodeInvalid || !found {
			t.Errorf("%s: %v %+v, want the reporter required", now, err, ce.Fields)
		}
	}
}

// TestAuthenticNotJSONIsMalformed: a signed body that is not a JSON
// object is refused 400 malformed, not as a replay: its signature held.
func TestAuthenticNotJSONIsMalformed(t *testing.T) {
	src, _ := New(vecSecret, testOptions)
	for _, body := range []string{"", "null", "[]", "\ufeff{}", `{"timestamp":1}x`, strings.Repeat("[", 20000)} {
		if _, err := src.Authenticate(Sign(vecSecret, []byte(body)), []byte(body), vecNow); change.ErrorCode(err) != change.CodeMalformed {
			t.Errorf("%.20q: %v, want malformed", body, err)
		}
	}
	if _, err := src.Authenticate(Sign(vecSecret, []byte(`{}`)), []byte(`{}`), vecNow); coded(t, err).Kind != change.KindTimestampOutside {
		t.Errorf("an object without a timestamp: %v, want timestamp-out-of-window", err)
	}
}

// TestDecodeEnvelopeRequiresTheRequester: the Automation envelope names
// its requester too.
func TestDecodeEnvelopeRequiresTheRequester(t *testing.T) {
	src, _ := New(vecSecret, testOptions)
	body := strings.Replace(string(readTestdata(t, "automation-envelope.json")), `"requestedBy":"5b10ac8d82e05b22cc7d4ef5",`, "", 1)
	_, err := src.Decode(source.Delivery{Body: []byte(body)}, nil)
	if ce := coded(t, err); ce.Code != change.CodeInvalid || len(ce.Fields) != 1 || ce.Fields[0].Field != "/ticket/requestedBy" {
		t.Fatalf("an envelope without requestedBy: %v %+v", err, ce.Fields)
	}
}
