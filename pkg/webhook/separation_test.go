package webhook

import (
	"net/http"
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/policy"
)

// TestSeparationOfDutiesIdentities: through the handler, the approver is
// compared with the requester as an identity, not as text (issue 9). Each
// refused spelling below was applied when the policy compared strings
// ignoring case; identities that cannot be compared are 422 naming the
// field, without quoting it.
func TestSeparationOfDutiesIdentities(t *testing.T) {
	approver := func(v string) func(string) string {
		return func(b string) string {
			return strings.Replace(b, `"approvedBy":"bob@contoso.com"`, `"approvedBy":"`+v+`"`, 1)
		}
	}
	ids := func(requested, approved string) func(string) string {
		return func(b string) string {
			return strings.Replace(b, `"approvedBy":"bob@contoso.com"`,
				`"approvedBy":"bob@contoso.com","requestedById":"`+requested+`","approvedById":"`+approved+`"`, 1)
		}
	}
	tests := []struct {
		name   string
		edit   func(string) string
		status int
		kind   string // problem type after the prefix
		field  string // for 422
	}{
		{"another approver", approver("bob@contoso.com"), http.StatusOK, "", ""},
		{"zero-width space", approver(`alice@contoso.com\u200b`), http.StatusUnprocessableEntity, "invalid-fields", "/ticket/approvedBy"},
		{"zero-width space, raw UTF-8", approver("alice@contoso.com\u200b"), http.StatusUnprocessableEntity, "invalid-fields", "/ticket/approvedBy"},
		{"Cyrillic lookalike", approver(`ali\u0441e@contoso.com`), http.StatusUnprocessableEntity, "invalid-fields", "/ticket/approvedBy"},
		{"right-to-left override", approver(`\u202emoc.osotnoc@ecila`), http.StatusUnprocessableEntity, "invalid-fields", "/ticket/approvedBy"},
		{"bare user name", approver("alice"), http.StatusForbidden, string(change.KindPolicySeparationOfDuties), ""},
		{"fullwidth letters", approver("ａｌｉｃｅ@contoso.com"), http.StatusForbidden, string(change.KindPolicySeparationOfDuties), ""},
		{"case", approver("ALICE@Contoso.COM"), http.StatusForbidden, string(change.KindPolicySeparationOfDuties), ""},
		{"same stable id, names differ", ids("62826bf03710200044e0bfc8bcbe5df1", "62826BF03710200044E0BFC8BCBE5DF1"), http.StatusForbidden, string(change.KindPolicySeparationOfDuties), ""},
		{"other stable ids", ids("62826bf03710200044e0bfc8bcbe5df1", "5137153cc611227c000bbd1bd8cd2005"), http.StatusOK, "", ""},
		{"stable id with a zero-width joiner", ids("62826bf03710200044e0bfc8bcbe5df1", `62826bf03710200044e0bfc8bcbe5df1\u200d`), http.StatusUnprocessableEntity, "invalid-fields", "/ticket/approvedById"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, nil)
			hs.h.set(func(o *testOptions) { o.Policy = policy.Default() })
			body := tt.edit(validBody)
			w := hs.do(t, signed(t, body, testNow))
			if w.Code != tt.status {
				t.Fatalf("status = %d %s, want %d", w.Code, w.Body, tt.status)
			}
			if tt.status == http.StatusOK {
				if hs.g.count() != 1 {
					t.Errorf("Graph calls = %d, want 1", hs.g.count())
				}
				return
			}
			if hs.g.count() != 0 {
				t.Errorf("Graph calls = %d, want 0", hs.g.count())
			}
			p := decodeProblem(t, w)
			if p.Type != apply.ProblemTypePrefix+tt.kind {
				t.Fatalf("problem = %+v, want %s", p, tt.kind)
			}
			if tt.field == "" {
				return
			}
			if len(p.Errors) != 1 || p.Errors[0].Field != tt.field {
				t.Errorf("errors = %+v, want one at %s", p.Errors, tt.field)
			}
			for _, v := range []string{"alice", "ecila", "62826"} {
				if strings.Contains(strings.ToLower(w.Body.String()), v) {
					t.Errorf("answer quotes the identity (%q): %s", v, w.Body)
				}
			}
		})
	}
}

// TestSeparationOfDutiesStableIDs: the ITSM senders' stable ids reach the
// policy. ServiceNow: the approver's and the requester's sys_id; Jira: the
// accountId of the event's user and of the reporter.
func TestSeparationOfDutiesStableIDs(t *testing.T) {
	snBody := itsmSample(t, "../source/servicenow/testdata/approved.json")
	jiraBody := itsmSample(t, "../source/jira/testdata/issue-approved.json")
	tests := []struct {
		name   string
		req    func(t *testing.T) *http.Request
		status int
		kind   string
	}{
		{"servicenow: sys_id equal, names differ", func(t *testing.T) *http.Request {
			return snRequest(t, strings.Replace(snBody, `"sys_id": "5137153cc611227c000bbd1bd8cd2005"`, `"sys_id": "62826bf03710200044e0bfc8bcbe5df1"`, 1), testNow)
		}, http.StatusForbidden, string(change.KindPolicySeparationOfDuties)},
		{"servicenow: reference field {value, display_value} with the requester's sys_id", func(t *testing.T) *http.Request {
			return snRequest(t, strings.Replace(snBody, `"approver": {"sys_id": "5137153cc611227c000bbd1bd8cd2005", "user_name": "fred.luddy", "email": "fred.luddy@contoso.com"}`,
				`"approver": {"value": "62826bf03710200044e0bfc8bcbe5df1", "display_value": "Abel T."}`, 1), testNow)
		}, http.StatusForbidden, string(change.KindPolicySeparationOfDuties)},
		{"servicenow: bare user name for the requester's address", func(t *testing.T) *http.Request {
			return snRequest(t, strings.Replace(snBody, `"approver": {"sys_id": "5137153cc611227c000bbd1bd8cd2005", "user_name": "fred.luddy", "email": "fred.luddy@contoso.com"}`,
				`"approver": "Abel.Tuter"`, 1), testNow)
		}, http.StatusForbidden, string(change.KindPolicySeparationOfDuties)},
		{"servicenow: another approver", func(t *testing.T) *http.Request { return snRequest(t, snBody, testNow) }, http.StatusOK, ""},
		{"jira: accountId equal, display names differ", func(t *testing.T) *http.Request {
			return jiraRequest(t, strings.Replace(jiraBody,
				`"user": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Mia Approver", "emailAddress": "mia.approver@contoso.com"}`,
				`"user": {"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "A. Tuter (admin)"}`, 1))
		}, http.StatusForbidden, "separation-of-duties"},
		{"jira: the reporter's address in fullwidth letters", func(t *testing.T) *http.Request {
			return jiraRequest(t, strings.Replace(jiraBody,
				`"user": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Mia Approver", "emailAddress": "mia.approver@contoso.com"}`,
				`"user": {"displayName": "Mia Approver", "emailAddress": "ａｂｅｌ.ｔｕｔｅｒ@contoso.com"}`, 1))
		}, http.StatusForbidden, "separation-of-duties"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newITSMHarness(t, false)
			hs.h.set(func(o *testOptions) { o.Policy = policy.Default() })
			w := hs.do(t, tt.req(t))
			if w.Code != tt.status {
				t.Fatalf("status = %d %s, want %d", w.Code, w.Body, tt.status)
			}
			if tt.kind == "" {
				if hs.g.count() != 1 {
					t.Errorf("Graph calls = %d, want 1", hs.g.count())
				}
				return
			}
			if p := decodeProblem(t, w); p.Type != apply.ProblemTypePrefix+tt.kind {
				t.Errorf("problem = %+v, want %s", p, tt.kind)
			}
			if hs.g.count() != 0 {
				t.Errorf("Graph calls = %d, want 0", hs.g.count())
			}
		})
	}
}
