package jira

import (
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/source"
)

// TestDecodeSeparationOfDutiesIdentities: the approver (the event's user)
// is compared with the reporter as an identity (issue 9): the same
// accountId whatever the names say, e-mail addresses and names normalised,
// and identities that cannot be compared refused with the field's pointer.
func TestDecodeSeparationOfDutiesIdentities(t *testing.T) {
	src, _ := New(vecSecret, testOptions)
	base := string(readTestdata(t, "issue-approved.json"))
	const approver = `"user": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Mia Approver", "emailAddress": "mia.approver@contoso.com"}`
	const reporter = `"reporter": {"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "Abel Tuter", "emailAddress": "abel.tuter@contoso.com"}`
	with := func(user, rep string) []byte {
		return []byte(strings.Replace(strings.Replace(base, approver, `"user": `+user, 1), reporter, `"reporter": `+rep, 1))
	}
	tests := []struct {
		name, user, reporter string
		code                 change.Code
		field                string // for CodeInvalid
	}{
		{"another user", `{"accountId": "5b10a2844c20165700ede21g", "displayName": "Mia Approver"}`,
			`{"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "Abel Tuter"}`, "", ""},
		{"same accountId, display names differ", `{"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "A. Tuter (admin)"}`,
			`{"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "Abel Tuter"}`, change.CodeForbidden, ""},
		{"same accountId, other case", `{"accountId": "5B10AC8D82E05B22CC7D4EF5", "displayName": "Mia"}`,
			`{"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "Abel Tuter"}`, change.CodeForbidden, ""},
		{"same address in fullwidth letters", `{"displayName": "Mia", "emailAddress": "ａｂｅｌ.tuter@contoso.com"}`,
			`{"displayName": "Abel Tuter", "emailAddress": "abel.tuter@contoso.com"}`, change.CodeForbidden, ""},
		{"same display name, spacing and case", `{"displayName": "abel  TUTER"}`,
			`{"displayName": "Abel Tuter"}`, change.CodeForbidden, ""},
		{"address with a zero-width space", `{"displayName": "Mia", "emailAddress": "abel.tuter@contoso.com\u200b"}`,
			`{"displayName": "Abel Tuter", "emailAddress": "abel.tuter@contoso.com"}`, change.CodeInvalid, "/user"},
		{"address with a Cyrillic lookalike", `{"displayName": "Mia", "emailAddress": "abel.tut\u0435r@contoso.com"}`,
			`{"displayName": "Abel Tuter", "emailAddress": "abel.tuter@contoso.com"}`, change.CodeInvalid, "/user"},
		{"accountId with a zero-width joiner", `{"accountId": "5b10ac8d82e05b22cc7d4ef5\u200d", "emailAddress": "mia.approver@contoso.com"}`,
			`{"accountId": "5b10ac8d82e05b22cc7d4ef5", "emailAddress": "abel.tuter@contoso.com"}`, change.CodeInvalid, "/user/accountId"},
		{"reporter with a Cyrillic lookalike", `{"accountId": "5b10a2844c20165700ede21g", "emailAddress": "mia.approver@contoso.com"}`,
			`{"accountId": "5b10ac8d82e05b22cc7d4ef5", "emailAddress": "\u0430bel.tuter@contoso.com"}`, change.CodeInvalid, "/issue/fields/reporter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := with(tt.user, tt.reporter)
			r, err := src.Decode(source.Delivery{Body: body}, nil)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("Decode = %v, want accepted", err)
				}
				if r.Ticket.ApprovedByID == "" || r.Ticket.RequestedByID == "" {
					t.Errorf("Ticket = %+v, want the account ids", r.Ticket)
				}
				return
			}
			ce := coded(t, err)
			if ce.Code != tt.code {
				t.Fatalf("Decode = %v, want %s", err, tt.code)
			}
			if tt.code == change.CodeForbidden && ce.Kind != change.KindSeparationOfDuties {
				t.Errorf("Decode = %v (kind %q), want separation-of-duties", err, ce.Kind)
			}
			if tt.code == change.CodeInvalid && (len(ce.Fields) != 1 || ce.Fields[0].Field != tt.field) {
				t.Errorf("Decode fields = %+v, want one at %s", ce.Fields, tt.field)
			}
			for _, fe := range ce.Fields {
				if strings.Contains(fe.Reason, "tuter") || strings.Contains(fe.Reason, "5b10") {
					t.Errorf("reason %q quotes the input", fe.Reason)
				}
			}
		})
	}
}
