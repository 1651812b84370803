package servicenow

import (
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/source"
)

// TestDecodeSeparationOfDutiesIdentities: the approver and the requester
// reach the policy as identities (issue 9): their sys_ids when the payload
// carries them (as {sys_id, ...} or the Table API's {value,
// display_value}), and names that cannot be compared are refused with the
// user's pointer. change.Ticket.SelfApproved is the policy's comparison.
func TestDecodeSeparationOfDutiesIdentities(t *testing.T) {
	src, _ := New(vecSecret, 0)
	base := string(readTestdata(t, "approved.json"))
	const approver = `"approver": {"sys_id": "5137153cc611227c000bbd1bd8cd2005", "user_name": "fred.luddy", "email": "fred.luddy@contoso.com"}`
	const requester = `"requested_by": {"sys_id": "62826bf03710200044e0bfc8bcbe5df1", "user_name": "abel.tuter", "email": "abel.tuter@contoso.com"}`
	with := func(a, r string) []byte {
		return []byte(strings.Replace(strings.Replace(base, approver, `"approver": `+a, 1), requester, `"requested_by": `+r, 1))
	}
	tests := []struct {
		name, approver, requester string
		self                      bool
		field                     string // a 422 at this pointer
	}{
		{"another user", `{"sys_id": "5137153cc611227c000bbd1bd8cd2005", "email": "fred.luddy@contoso.com"}`,
			`{"sys_id": "62826bf03710200044e0bfc8bcbe5df1", "email": "abel.tuter@contoso.com"}`, false, ""},
		{"sys_id equal, names differ", `{"sys_id": "62826bf03710200044e0bfc8bcbe5df1", "user_name": "atuter.admin", "email": "atuter.admin@contoso.com"}`,
			`{"sys_id": "62826bf03710200044e0bfc8bcbe5df1", "user_name": "abel.tuter", "email": "abel.tuter@contoso.com"}`, true, ""},
		{"sys_id equal, other case", `{"sys_id": "62826BF03710200044E0BFC8BCBE5DF1", "name": "Abel T."}`,
			`{"sys_id": "62826bf03710200044e0bfc8bcbe5df1", "name": "Abel Tuter"}`, true, ""},
		{"reference field shape", `{"value": "62826bf03710200044e0bfc8bcbe5df1", "display_value": "Abel T.", "link": "https://contoso.service-now.com/api/now/table/sys_user/62826bf03710200044e0bfc8bcbe5df1"}`,
			`{"sys_id": "62826bf03710200044e0bfc8bcbe5df1", "email": "abel.tuter@contoso.com"}`, true, ""},
		{"bare user name vs e-mail", `"abel.tuter"`, `{"user_name": "abel.tuter", "email": "abel.tuter@contoso.com"}`, true, ""},
		{"fullwidth e-mail", `"ａｂｅｌ.ｔｕｔｅｒ@contoso.com"`, `"abel.tuter@contoso.com"`, true, ""},
		{"zero-width space", `{"email": "abel.tuter@contoso.com\u200b"}`, `{"email": "abel.tuter@contoso.com"}`, false, "/data/approval/approver"},
		{"Cyrillic lookalike", `"fred.luddy@contoso.com"`, `"abel.tut\u0435r@contoso.com"`, false, "/data/record/requested_by"},
		{"not a sys_id", `{"sys_id": "fred", "email": "fred.luddy@contoso.com"}`, `"abel.tuter@contoso.com"`, false, "/data/approval/approver/sys_id"},
		{"reference value not a sys_id", `{"value": "5137153cc611227c000bbd1bd8cd2005\u200b"}`, `"abel.tuter@contoso.com"`, false, "/data/approval/approver/value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := src.Decode(source.Delivery{Body: with(tt.approver, tt.requester)}, nil)
			if tt.field != "" {
				ce := coded(t, err)
				found := false
				for _, fe := range ce.Fields {
					found = found || fe.Field == tt.field
					if strings.Contains(fe.Reason, "tut") || strings.Contains(fe.Reason, "5137") {
						t.Errorf("reason %q quotes the input", fe.Reason)
					}
				}
				if ce.Code != change.CodeInvalid || !found {
					t.Fatalf("Decode = %v %+v, want a field error at %s", err, ce.Fields, tt.field)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode = %v", err)
			}
			if self, err := r.Ticket.SelfApproved(); self != tt.self || err != nil {
				t.Errorf("SelfApproved(%+v) = %v, %v, want %v", r.Ticket, self, err, tt.self)
			}
		})
	}
}
