package webhook

// ServiceNow and Jira through the handler: success and every refusal, with
// the payload shapes and vectors of reference/webhooks.md, each exchange
// checked against openapi.yaml.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/signature"
	"github.com/enrollhook/enrollhook/pkg/source/generic"
	"github.com/enrollhook/enrollhook/pkg/source/jira"
	"github.com/enrollhook/enrollhook/pkg/source/servicenow"
)

const (
	snSecret    = "whsec_c2VydmljZW5vdy10ZXN0LXNlY3JldC0wMTIzNDU2Nzg5"
	snBasic     = "basic:svc.enrollhook:s3cret:pass-phrase"
	jiraSecret  = "jira-test-secret-0123456789" // §8 vector 6
	jiraDelivID = "3f1e2d4c-5b6a-4798-8a9b-0c1d2e3f4a5b"
)

var jiraTestOptions = &jira.Options{
	ApprovedStatuses: []string{"Approved"}, ConfigurationField: "customfield_10150", AssignmentField: "customfield_10151",
	GroupField: "customfield_10152", FilterField: "customfield_10153", FilterType: "customfield_10154",
}

// newITSMHarness serves generic, servicenow (Standard Webhooks, or Basic
// when basic is set) and jira; slack and teams are disabled.
func newITSMHarness(t *testing.T, basic bool) *harness {
	t.Helper()
	gen, err := generic.New(testSecret, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	secret := snSecret
	if basic {
		secret = snBasic
	}
	sn, err := servicenow.New(secret, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	jr, err := jira.New(jiraSecret, jiraTestOptions)
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	g := &fakeGraph{}
	h := newTestHandler(g, []Source{gen, sn, jr}, &testOptions{Now: func() time.Time { return testNow },
		Logger: testLogger(logs), Disabled: []string{"slack", "teams"}})
	return &harness{h: h, g: g, logs: logs}
}

func itsmSample(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func snRequest(t *testing.T, body string, ts time.Time) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/hooks/servicenow", strings.NewReader(body))
	h, err := servicenow.Sign(snSecret, "msg_sn_1", ts, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		r.Header[k] = v
	}
	r.Header.Set("Content-Type", "application/json")
	return r
}

func snBasicRequest(t *testing.T, body, user, password string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/hooks/servicenow", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if user != "" {
		r.Header.Set("Authorization", signature.BasicHeader(signature.BasicCredentials{User: user, Password: password}))
	}
	return r
}

func jiraRequest(t *testing.T, body string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/hooks/jira", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(jira.HeaderIdentifier, jiraDelivID)
	r.Header.Set(signature.HeaderHubSignature, signature.SignHub(jiraSecret, []byte(body)))
	return r
}

func lastLogLine(t *testing.T, logs *bytes.Buffer) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	var m map[string]any
	for i := len(lines) - 1; i >= 0; i-- {
		m = nil
		if err := json.Unmarshal([]byte(lines[i]), &m); err != nil {
			t.Fatalf("log line: %v\n%s", err, logs)
		}
		if m["msg"] != apply.AuditMessage && m["msg"] != apply.MetricsMessage { // audit_test.go checks those
			break
		}
	}
	return m
}

func TestITSMApprovedChangesAreApplied(t *testing.T) {
	snBody := itsmSample(t, "../source/servicenow/testdata/approved.json")
	jiraBody := itsmSample(t, "../source/jira/testdata/issue-approved.json")
	automation := itsmSample(t, "../source/jira/testdata/automation-envelope.json")
	tests := []struct {
		name     string
		basic    bool
		req      func(t *testing.T) *http.Request
		cfg, asg string
		graph    string // the target Graph receives
		log      map[string]any
	}{
		{"servicenow, Standard Webhooks", false, func(t *testing.T) *http.Request { return snRequest(t, snBody, testNow) },
			"4d7d8b60-3333-4e80-9c5d-3b4f5e6d7c8b_PlatformRestrictions", "4d7d8b60-3333-4e80-9c5d-3b4f5e6d7c8b_9c0d0000-0000-0000-0000-000000000003",
			`{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"9c0d0000-0000-0000-0000-000000000003","deviceAndAppManagementAssignmentFilterId":"a1b2c3d4-0000-0000-0000-00000000f117","deviceAndAppManagementAssignmentFilterType":"exclude"}`,
			map[string]any{"source": "servicenow", "deliveryId": "6c1f0a2b1b8e4d10a0e1c2d3e4f5a6b7-approved-3", "ticket": "CHG0030042",
				"approvedBy": "fred.luddy@contoso.com", "requestedBy": "abel.tuter@contoso.com"}},
		{"servicenow, Basic", true, func(t *testing.T) *http.Request {
			return snBasicRequest(t, snBody, "svc.enrollhook", "s3cret:pass-phrase")
		},
			"4d7d8b60-3333-4e80-9c5d-3b4f5e6d7c8b_PlatformRestrictions", "4d7d8b60-3333-4e80-9c5d-3b4f5e6d7c8b_9c0d0000-0000-0000-0000-000000000003",
			`{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"9c0d0000-0000-0000-0000-000000000003","deviceAndAppManagementAssignmentFilterId":"a1b2c3d4-0000-0000-0000-00000000f117","deviceAndAppManagementAssignmentFilterType":"exclude"}`,
			map[string]any{"source": "servicenow", "deliveryId": "6c1f0a2b1b8e4d10a0e1c2d3e4f5a6b7-approved-3"}},
		{"jira webhook", false, func(t *testing.T) *http.Request { return jiraRequest(t, jiraBody) },
			"2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_Windows10EnrollmentCompletionPageConfiguration", "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_5e6f0000-0000-0000-0000-000000000001",
			`{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"5e6f0000-0000-0000-0000-000000000001","deviceAndAppManagementAssignmentFilterId":"a1b2c3d4-0000-0000-0000-00000000f117","deviceAndAppManagementAssignmentFilterType":"exclude"}`,
			map[string]any{"source": "jira", "deliveryId": jira.DeliveryID([]byte(jiraBody)), "ticket": "ITSM-42", "approvedBy": "mia.approver@contoso.com", "requestedBy": "abel.tuter@contoso.com"}},
		{"jira automation, generic envelope", false, func(t *testing.T) *http.Request { return jiraRequest(t, automation) },
			"2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_Windows10EnrollmentCompletionPageConfiguration", "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_7a8b0000-0000-0000-0000-000000000002",
			`{"@odata.type":"#microsoft.graph.exclusionGroupAssignmentTarget","groupId":"7a8b0000-0000-0000-0000-000000000002"}`,
			map[string]any{"source": "jira", "ticket": "ITSM-44", "approvedBy": "5b10a2844c20165700ede21g"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newITSMHarness(t, tt.basic)
			w := hs.do(t, tt.req(t))
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d, body %s", w.Code, w.Body)
			}
			if hs.g.count() != 1 {
				t.Fatalf("Graph calls = %d", hs.g.count())
			}
			call := hs.g.calls[0]
			if call.configurationID != tt.cfg || call.assignmentID != tt.asg {
				t.Errorf("Graph called for %s/%s", call.configurationID, call.assignmentID)
			}
			var sent map[string]json.RawMessage
			_ = json.Unmarshal(call.body, &sent)
			if string(sent["target"]) != tt.graph {
				t.Errorf("Graph target = %s, want %s", sent["target"], tt.graph)
			}
			line := lastLogLine(t, hs.logs)
			for k, v := range tt.log {
				if line[k] != v {
					t.Errorf("log %s = %v, want %v", k, line[k], v)
				}
			}
		})
	}
}

func TestITSMRefusals(t *testing.T) {
	snBody := itsmSample(t, "../source/servicenow/testdata/approved.json")
	jiraBody := itsmSample(t, "../source/jira/testdata/issue-approved.json")
	vector6 := itsmSample(t, "../source/jira/testdata/vector6.json")
	reencode := func(body string) string {
		var v any
		_ = json.Unmarshal([]byte(body), &v)
		b, _ := json.Marshal(v)
		return string(b)
	}
	withBody := func(r *http.Request, body string) *http.Request {
		r.Body = http.NoBody
		nr := httptest.NewRequest(r.Method, r.URL.String(), strings.NewReader(body))
		nr.Header = r.Header
		return nr
	}
	tests := []struct {
		name    string
		basic   bool
		req     func(t *testing.T) *http.Request
		status  int
		problem string
		detail  string
	}{
		// ServiceNow, Standard Webhooks.
		{"servicenow: no signature", false, func(t *testing.T) *http.Request {
			r := snRequest(t, snBody, testNow)
			r.Header.Del("webhook-signature")
			return r
		}, 401, "signature-missing", "webhook-signature"},
		{"servicenow: wrong signature", false, func(t *testing.T) *http.Request {
			r := snRequest(t, snBody, testNow)
			r.Header.Set("webhook-signature", "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=")
			return r
		}, 401, "signature-mismatch", "secret"},
		{"servicenow: body re-encoded after signing (CRLF)", false, func(t *testing.T) *http.Request {
			return withBody(snRequest(t, snBody, testNow), strings.ReplaceAll(snBody, "\n", "\r\n"))
		}, 401, "body-re-encoded", "pass the raw bytes through"},
		{"servicenow: body re-serialized, keys reordered", false, func(t *testing.T) *http.Request {
			return withBody(snRequest(t, snBody, testNow), reencode(snBody))
		}, 401, "signature-mismatch", "exactly as signed"},
		{"servicenow: stale timestamp", false, func(t *testing.T) *http.Request { return snRequest(t, snBody, testNow.Add(-6*time.Minute)) },
			401, "timestamp-out-of-window", "5m0s"},
		{"servicenow: signed with the generic secret", false, func(t *testing.T) *http.Request {
			r := signed(t, snBody, testNow)
			r.URL.Path = "/hooks/servicenow"
			return r
		}, 401, "signature-mismatch", "secret"},
		{"servicenow: rejected", false, func(t *testing.T) *http.Request {
			return snRequest(t, itsmSample(t, "../source/servicenow/testdata/rejected.json"), testNow)
		}, 403, "not-approved", "rejected"},
		{"servicenow: cancelled", false, func(t *testing.T) *http.Request {
			return snRequest(t, strings.Replace(snBody, `"state": "approved"`, `"state": "cancelled"`, 1), testNow)
		}, 403, "not-approved", "cancelled"},
		{"servicenow: not_required", false, func(t *testing.T) *http.Request {
			return snRequest(t, strings.Replace(snBody, `"state": "approved"`, `"state": "not_required"`, 1), testNow)
		}, 403, "not-approved", "not_required"},
		{"servicenow: requested", false, func(t *testing.T) *http.Request {
			return snRequest(t, strings.Replace(snBody, `"state": "approved"`, `"state": "requested"`, 1), testNow)
		}, 403, "not-approved", "requested"},
		{"servicenow: skipped", false, func(t *testing.T) *http.Request {
			return snRequest(t, strings.Replace(snBody, `"state": "approved"`, `"state": "skipped"`, 1), testNow)
		}, 403, "not-approved", "skipped"},
		{"servicenow: invalid fields", false, func(t *testing.T) *http.Request {
			return snRequest(t, itsmSample(t, "../source/servicenow/testdata/invalid.json"), testNow)
		}, 422, "invalid-fields", "invalid fields"},
		{"servicenow: not JSON", false, func(t *testing.T) *http.Request {
			r := snRequest(t, snBody, testNow)
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, 415, "unsupported-media-type", "application/json"},
		// ServiceNow, Basic.
		{"servicenow basic: no credentials", true, func(t *testing.T) *http.Request { return snBasicRequest(t, snBody, "", "") },
			401, "credentials-missing", "Authorization: Basic"},
		{"servicenow basic: wrong password", true, func(t *testing.T) *http.Request { return snBasicRequest(t, snBody, "svc.enrollhook", "s3cret") },
			401, "credentials-mismatch", "do not match"},
		{"servicenow basic: Standard Webhooks sent instead", true, func(t *testing.T) *http.Request { return snRequest(t, snBody, testNow) },
			401, "credentials-missing", "Authorization: Basic"},
		// Jira.
		{"jira: no signature", false, func(t *testing.T) *http.Request {
			r := jiraRequest(t, jiraBody)
			r.Header.Del(signature.HeaderHubSignature)
			return r
		}, 401, "signature-missing", "X-Hub-Signature"},
		{"jira: GitHub's header", false, func(t *testing.T) *http.Request {
			r := jiraRequest(t, jiraBody)
			r.Header.Set("X-Hub-Signature-256", r.Header.Get(signature.HeaderHubSignature))
			r.Header.Del(signature.HeaderHubSignature)
			return r
		}, 401, "signature-missing", "X-Hub-Signature"},
		{"jira: wrong secret", false, func(t *testing.T) *http.Request {
			r := jiraRequest(t, jiraBody)
			r.Header.Set(signature.HeaderHubSignature, signature.SignHub("not-the-secret-at-all", []byte(jiraBody)))
			return r
		}, 401, "signature-mismatch", "secret"},
		{"jira: body re-encoded after signing (CRLF)", false, func(t *testing.T) *http.Request {
			return withBody(jiraRequest(t, jiraBody), strings.ReplaceAll(jiraBody, "\n", "\r\n"))
		}, 401, "body-re-encoded", "pass the raw bytes through"},
		{"jira: body re-serialized, keys reordered", false, func(t *testing.T) *http.Request {
			return withBody(jiraRequest(t, jiraBody), reencode(jiraBody))
		}, 401, "signature-mismatch", "exactly as signed"},
		{"jira: delivery more than an hour old", false, func(t *testing.T) *http.Request {
			return jiraRequest(t, string(jira.Restamp([]byte(jiraBody), testNow.Add(-61*time.Minute))))
		}, 401, "timestamp-out-of-window", "1h0m0s"},
		{"jira: the reporter approved their own change", false, func(t *testing.T) *http.Request {
			return jiraRequest(t, strings.Replace(jiraBody, `"user": {"accountId": "5b10a2844c20165700ede21g"`, `"user": {"accountId": "5b10ac8d82e05b22cc7d4ef5"`, 1))
		}, 403, "separation-of-duties", "separation of duties"},
		{"jira: not an issue update", false, func(t *testing.T) *http.Request {
			return jiraRequest(t, strings.Replace(jiraBody, `"jira:issue_updated"`, `"jira:issue_created"`, 1))
		}, 403, "not-approved", "not an issue update"},
		{"jira: malformed signature", false, func(t *testing.T) *http.Request {
			r := jiraRequest(t, jiraBody)
			r.Header.Set(signature.HeaderHubSignature, "sha1=0123456789abcdef0123456789abcdef01234567")
			return r
		}, 401, "signature-malformed", "sha256="},
		{"jira: vector 6 is signed right, but long before now", false, func(t *testing.T) *http.Request {
			r := jiraRequest(t, vector6)
			if got := r.Header.Get(signature.HeaderHubSignature); got != "sha256=dfa4316bddae49c8030b13047cd1a9e7919ea23748f98e6bb5acc535ee0407cb" {
				t.Fatalf("vector 6 signature = %s", got)
			}
			return r
		}, 401, "timestamp-out-of-window", "1h0m0s"},
		{"jira: vector 6 made current authenticates, but the event approves nothing", false, func(t *testing.T) *http.Request {
			return jiraRequest(t, string(jira.Restamp([]byte(vector6), testNow)))
		}, 403, "not-approved", "does not approve"},
		{"jira: a later edit of an approved issue", false, func(t *testing.T) *http.Request {
			return jiraRequest(t, itsmSample(t, "../source/jira/testdata/issue-commented.json"))
		}, 403, "not-approved", "does not approve"},
		{"jira: declined", false, func(t *testing.T) *http.Request {
			return jiraRequest(t, itsmSample(t, "../source/jira/testdata/issue-declined.json"))
		}, 403, "not-approved", "does not approve"},
		{"jira: invalid fields", false, func(t *testing.T) *http.Request {
			return jiraRequest(t, itsmSample(t, "../source/jira/testdata/issue-invalid.json"))
		}, 422, "invalid-fields", "invalid fields"},
		// Routes.
		{"unknown route", false, func(t *testing.T) *http.Request {
			return httptest.NewRequest(http.MethodPost, "/hooks/servicenow/extra", strings.NewReader(snBody))
		}, 404, "unknown-route", "POST /hooks/{source}"},
		{"unknown sender", false, func(t *testing.T) *http.Request {
			return httptest.NewRequest(http.MethodPost, "/hooks/pagerduty", strings.NewReader(snBody))
		}, 404, "unknown-source", "generic, jira, servicenow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newITSMHarness(t, tt.basic)
			r := tt.req(t)
			sentSig := r.Header.Get(signature.HeaderHubSignature) + r.Header.Get("webhook-signature")
			w := hs.do(t, r)
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tt.status, w.Body)
			}
			p := decodeProblem(t, w)
			if p.Type != apply.ProblemTypePrefix+tt.problem {
				t.Errorf("type = %q, want %q", p.Type, apply.ProblemTypePrefix+tt.problem)
			}
			if !strings.Contains(p.Detail, tt.detail) {
				t.Errorf("detail = %q, want it to mention %q", p.Detail, tt.detail)
			}
			if hs.g.count() != 0 {
				t.Errorf("Graph was called for a refused request")
			}
			body := w.Body.String()
			for _, secretish := range []string{snSecret, strings.TrimPrefix(snSecret, "whsec_"), "s3cret", jiraSecret, "dfa4316bddae", "Ceo5qEr07ixe"} {
				if strings.Contains(body, secretish) {
					t.Errorf("answer quotes %q: %s", secretish, body)
				}
			}
			if len(sentSig) > 10 && strings.Contains(body, sentSig[7:]) {
				t.Errorf("answer quotes the signature: %s", body)
			}
			if strings.Contains(hs.logs.String(), "s3cret") || strings.Contains(hs.logs.String(), jiraSecret) {
				t.Errorf("log quotes a secret")
			}
		})
	}
}

func TestITSMSenderWithoutSecretFailsClosed(t *testing.T) {
	logs := &bytes.Buffer{}
	g := &fakeGraph{}
	h := newTestHandler(g, nil, &testOptions{Now: func() time.Time { return testNow }, Logger: testLogger(logs),
		Disabled: []string{"servicenow", "jira"}})
	hs := &harness{h: h, g: g, logs: logs}
	for _, r := range []*http.Request{
		snRequest(t, itsmSample(t, "../source/servicenow/testdata/approved.json"), testNow),
		jiraRequest(t, itsmSample(t, "../source/jira/testdata/issue-approved.json")),
	} {
		w := hs.do(t, r)
		p := decodeProblem(t, w)
		if w.Code != 401 || p.Type != apply.ProblemTypePrefix+"source-not-configured" {
			t.Errorf("%s: %d %s", r.URL.Path, w.Code, p.Type)
		}
	}
}
