package policy_test

import (
	"testing"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/policy"
)

// TestSeparationOfDutiesIdentities: separation of duties compares
// identities, not strings (issue 9): each spelling of the requester below
// was let through when the policy compared the text ignoring case.
func TestSeparationOfDutiesIdentities(t *testing.T) {
	ids := func(requested, approved string) func(*change.Request) {
		return func(r *change.Request) { r.Ticket.RequestedByID, r.Ticket.ApprovedByID = requested, approved }
	}
	tests := []struct {
		name string
		r    *change.Request
		kind change.Kind
	}{
		{"zero-width space", req(people("alice@contoso.com", "alice@contoso.com\u200b")), change.KindPolicySeparationOfDuties},
		{"zero-width joiner inside", req(people("alice@contoso.com", "al\u200dice@contoso.com")), change.KindPolicySeparationOfDuties},
		{"Cyrillic lookalike", req(people("alice@contoso.com", "ali\u0441e@contoso.com")), change.KindPolicySeparationOfDuties},
		{"bare user name", req(people("alice@contoso.com", "alice")), change.KindPolicySeparationOfDuties},
		{"bare user name, other case", req(people("Alice", "alice@contoso.com")), change.KindPolicySeparationOfDuties},
		{"fullwidth letters", req(people("alice@contoso.com", "ａｌｉｃｅ@contoso.com")), change.KindPolicySeparationOfDuties},
		{"fullwidth at sign", req(people("alice@contoso.com", "alice＠contoso.com")), change.KindPolicySeparationOfDuties},
		{"absolute domain", req(people("alice@contoso.com", "alice@contoso.com.")), change.KindPolicySeparationOfDuties},
		{"same stable id, other names", req(people("abel.tuter@contoso.com", "Abel Tuter"),
			ids("62826bf03710200044e0bfc8bcbe5df1", "62826bf03710200044e0bfc8bcbe5df1")), change.KindPolicySeparationOfDuties},
		{"same account id, display names differ", req(people("Abel Tuter", "Abel T."),
			ids("5b10ac8d82e05b22cc7d4ef5", "5b10ac8d82e05b22cc7d4ef5")), change.KindPolicySeparationOfDuties},
		{"other stable ids, other names", req(people("alice@contoso.com", "bob@contoso.com"),
			ids("62826bf03710200044e0bfc8bcbe5df1", "5137153cc611227c000bbd1bd8cd2005")), ""},
		{"other stable ids, one name", req(people("alice@contoso.com", "alice@contoso.com"),
			ids("62826bf03710200044e0bfc8bcbe5df1", "5137153cc611227c000bbd1bd8cd2005")), change.KindPolicySeparationOfDuties},
		{"one id only", req(ids("", "5137153cc611227c000bbd1bd8cd2005")), ""},
		{"same local part, other domains", req(people("alice@contoso.com", "alice@fabrikam.com")), ""},
		{"a bare name is not every address", req(people("alice", "bob@contoso.com")), ""},
		{"chat command", req(people("slack:T0001/U0456EFGH", "slack:T0001/U0456EFGH")), ""},
	}
	p := policy.Default()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sender, chat := "generic", false
			if tt.name == "chat command" {
				sender, chat = "slack", true
			}
			wantKind(t, "Check", p.Check(sender, chat, tt.r), tt.kind, "")
		})
	}
	strict, err := policy.Parse([]byte(`{"version": 1, "requireRequester": true}`), "strict", false)
	if err != nil {
		t.Fatal(err)
	}
	wantKind(t, "requireRequester, id only", strict.Check("generic", false, req(people("", "bob@contoso.com"), ids("62826bf03710200044e0bfc8bcbe5df1", ""))), "", "")
	off, err := policy.Parse([]byte(`{"version": 1, "separationOfDuties": false}`), "off", false)
	if err != nil {
		t.Fatal(err)
	}
	wantKind(t, "separation off", off.Check("generic", false, req(people("alice@contoso.com", "alice"))), "", "")
}
