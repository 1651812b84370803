package change_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/text/secure/precis"

	"github.com/enrollhook/enrollhook/pkg/change"
)

func TestNormalizeIdentity(t *testing.T) {
	tests := []struct {
		in, want string
		err      error
	}{
		{"", "", nil},
		{"   ", "", nil},
		{"alice@contoso.com", "alice@contoso.com", nil},
		{"  Alice@Contoso.COM ", "alice@contoso.com", nil},
		{"alice@contoso.com.", "alice@contoso.com", nil},
		{"ａｌｉｃｅ＠ｃｏｎｔｏｓｏ．ｃｏｍ", "alice@contoso.com", nil}, // fullwidth
		{"ALİCE", "ali̇ce", nil},                        // dotted capital I lower-cases to i + U+0307
		{"Fred  Luddy", "fred luddy", nil},
		{"Fred\u00a0Luddy", "fred luddy", nil}, // no-break space is a space
		{"José.Müller@contoso.com", "josé.müller@contoso.com", nil},
		{"Jose\u0301", "josé", nil}, // NFC
		{"иван@contoso.com", "иван@contoso.com", nil},
		{"田中たろう", "田中たろう", nil}, // Han + Hiragana
		{"김철수金", "김철수金", nil},   // Hangul + Han
		{"slack:T0001/U0456EFGH", "slack:t0001/u0456efgh", nil},
		{"teams:5e6f0000-0000-0000-0000-000000000001/29:1AbC", "teams:5e6f0000-0000-0000-0000-000000000001/29:1abc", nil},
		{"557058:f58131cb-b67d-43c7-b30d-6b58d40bd077", "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077", nil},
		{"alice_1-x", "alice_1-x", nil},
		{"1Müller@contoso.de", "1müller@contoso.de", nil}, // left to right: no Bidi Rule
		{"שלום", "שלום", nil},                             // Hebrew
		{"שc", "", change.ErrIdentityForm},                // Bidi Rule: Hebrew then Latin

		{"alice@contoso.com\u200b", "", change.ErrIdentityInvisible}, // zero-width space
		{"al\u200dice", "", change.ErrIdentityInvisible},             // zero-width joiner
		{"alice\u00ad", "", change.ErrIdentityInvisible},             // soft hyphen
		{"\u202ealice", "", change.ErrIdentityInvisible},             // right-to-left override
		{"alice\ufe0f", "", change.ErrIdentityInvisible},             // variation selector
		{"alice\u3164", "", change.ErrIdentityInvisible},             // Hangul filler
		{"alice\U000E0041", "", change.ErrIdentityInvisible},         // tag character
		{"alice\ue000", "", change.ErrIdentityInvisible},             // private use
		{"alice\u2028", "", change.ErrIdentityInvisible},             // line separator
		{"ali\tce", "", change.ErrIdentityInvisible},                 // control

		{"ali\u0441e@contoso.com", "", change.ErrIdentityMixedScript}, // Cyrillic с
		{"alice@\u0441ontoso.com", "", change.ErrIdentityMixedScript}, // in the domain
		{"alice.\u0455mith", "", change.ErrIdentityMixedScript},       // Cyrillic ѕ in a later label
		{"alice_\u0455mith", "", change.ErrIdentityMixedScript},       // '_' does not separate labels
		{"Fred Lu\u0501dy", "", change.ErrIdentityMixedScript},        // in one word of a name
		{"alice\u03bf", "", change.ErrIdentityMixedScript},            // Greek omicron
		{"ＡＬＩ\u0421Ｅ", "", change.ErrIdentityMixedScript},             // fullwidth Latin with Cyrillic С
		{"aliceたろう", "", change.ErrIdentityMixedScript},               // Latin + Hiragana

		{"alice@", "", change.ErrIdentityForm},
		{"@contoso.com", "", change.ErrIdentityForm},
		{"alice@contoso..com", "", change.ErrIdentityForm},
		{"alice@contoso com", "", change.ErrIdentityForm},
		{"alice™", "", change.ErrIdentityForm},       // symbol
		{"alice😀", "", change.ErrIdentityForm},       // emoji
		{"O\u2019Brien", "", change.ErrIdentityForm}, // non-ASCII punctuation
		{"\ufb01sh", "", change.ErrIdentityForm},     // ligature fi
		{"𝐚𝐥𝐢𝐜𝐞", "", change.ErrIdentityForm},        // mathematical bold
		{"ⓐlice", "", change.ErrIdentityForm},        // circled letter
		{"alice\xff", "", change.ErrIdentityForm},    // invalid UTF-8
	}
	for _, tt := range tests {
		got, err := change.NormalizeIdentity(tt.in)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("NormalizeIdentity(%q) = %q, %v, want %q, %v", tt.in, got, err, tt.want, tt.err)
		}
		if err != nil && strings.Contains(err.Error(), strings.TrimSpace(tt.in)) && strings.TrimSpace(tt.in) != "" {
			t.Errorf("NormalizeIdentity(%q) error %q quotes the input", tt.in, err)
		}
	}
}

// TestSameIdentity: the holes of issue 9 (a zero-width space, a Cyrillic
// lookalike, a bare user name for an e-mail address, case and width) make
// one identity, or an identity that is refused before it is compared.
func TestSameIdentity(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{"equal", "alice@contoso.com", "alice@contoso.com", true},
		{"case", "Alice@CONTOSO.com", "alice@contoso.com", true},
		{"surrounding spaces", " alice@contoso.com ", "alice@contoso.com", true},
		{"fullwidth letters", "ａｌｉｃｅ@contoso.com", "alice@contoso.com", true},
		{"fullwidth at sign and dot", "alice＠contoso．com", "alice@contoso.com", true},
		{"absolute domain", "alice@contoso.com.", "alice@contoso.com", true},
		{"bare user name vs e-mail", "alice", "alice@contoso.com", true},
		{"e-mail vs bare user name", "ALICE@contoso.com", "Alice", true},
		{"bare user name vs another address", "alice", "bob@contoso.com", false},
		{"two domains", "alice@contoso.com", "alice@fabrikam.com", false},
		{"other user", "alice@contoso.com", "bob@contoso.com", false},
		{"empty is nobody", "", "", false},
		{"empty requester", "", "alice@contoso.com", false},
		{"display name with extra spaces", "Fred  Luddy", "fred luddy", true},
		// Not normalisable: validation refuses these; unvalidated they
		// compare as before (ignoring case and spaces).
		{"zero-width space, unvalidated", "alice@contoso.com\u200b", "alice@contoso.com", false},
		{"invisible on both sides", "Alice\u200b", "alice\u200b", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := change.SameIdentity(tt.a, tt.b); got != tt.want {
				t.Errorf("SameIdentity(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
			if got := change.SameIdentity(tt.b, tt.a); got != tt.want {
				t.Errorf("SameIdentity(%q, %q) = %v, want %v", tt.b, tt.a, got, tt.want)
			}
		})
	}
}

func TestSelfApproved(t *testing.T) {
	tests := []struct {
		name string
		t    change.Ticket
		want bool
		err  error
	}{
		{"different people", change.Ticket{RequestedBy: "alice@contoso.com", ApprovedBy: "bob@contoso.com"}, false, nil},
		{"same name", change.Ticket{RequestedBy: "alice@contoso.com", ApprovedBy: "ALICE@contoso.com"}, true, nil},
		{"same id, other names", change.Ticket{RequestedBy: "Abel Tuter", ApprovedBy: "abel.t@contoso.com",
			RequestedByID: "62826bf03710200044e0bfc8bcbe5df1", ApprovedByID: "62826BF03710200044E0BFC8BCBE5DF1"}, true, nil},
		{"other ids, same name", change.Ticket{RequestedBy: "alice@contoso.com", ApprovedBy: "alice@contoso.com",
			RequestedByID: "5b10ac8d82e05b22cc7d4ef5", ApprovedByID: "5b10a2844c20165700ede21g"}, true, nil},
		{"other ids, other names", change.Ticket{RequestedBy: "alice@contoso.com", ApprovedBy: "bob@contoso.com",
			RequestedByID: "5b10ac8d82e05b22cc7d4ef5", ApprovedByID: "5b10a2844c20165700ede21g"}, false, nil},
		{"one id only", change.Ticket{RequestedBy: "alice@contoso.com", ApprovedBy: "bob@contoso.com",
			ApprovedByID: "5b10a2844c20165700ede21g"}, false, nil},
		{"ids are not local parts", change.Ticket{RequestedBy: "a", ApprovedBy: "b",
			RequestedByID: "u1", ApprovedByID: "u1@contoso.com"}, false, nil},
		{"zero-width space", change.Ticket{RequestedBy: "alice@contoso.com", ApprovedBy: "alice@contoso.com\u200b"}, true, change.ErrIdentityInvisible},
		{"Cyrillic lookalike", change.Ticket{RequestedBy: "alice@contoso.com", ApprovedBy: "ali\u0441e@contoso.com"}, true, change.ErrIdentityMixedScript},
		{"id with a zero-width space", change.Ticket{RequestedBy: "alice@contoso.com", ApprovedBy: "bob@contoso.com",
			RequestedByID: "u1", ApprovedByID: "u1\u200b"}, true, change.ErrIdentityInvisible},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := tt.t.SelfApproved(); got != tt.want || !errors.Is(err, tt.err) {
				t.Errorf("SelfApproved(%+v) = %v, %v, want %v, %v", tt.t, got, err, tt.want, tt.err)
			}
		})
	}
}

// TestDecodeRefusesIdentities: identities that cannot be compared are 422
// with the field's pointer, and the reason does not quote them.
func TestDecodeRefusesIdentities(t *testing.T) {
	body := func(requestedBy, approvedBy, ids string) string {
		return `{"ticket":{"id":"CHG1","state":"approved","requestedBy":` + requestedBy + `,"approvedBy":` + approvedBy + ids + `},` +
			`"configurationId":"c1","assignmentId":"a1","assignment":{"target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}}`
	}
	tests := []struct {
		name, requestedBy, approvedBy, ids, field string
		reason                                    error
	}{
		{"zero-width space", `"alice@contoso.com"`, `"alice@contoso.com\u200b"`, ``, "/ticket/approvedBy", change.ErrIdentityInvisible},
		{"Cyrillic lookalike", `"ali\u0441e@contoso.com"`, `"bob@contoso.com"`, ``, "/ticket/requestedBy", change.ErrIdentityMixedScript},
		{"symbol", `"alice@contoso.com"`, `"bob™@contoso.com"`, ``, "/ticket/approvedBy", change.ErrIdentityForm},
		{"id with a zero-width joiner", `"alice@contoso.com"`, `"bob@contoso.com"`, `,"approvedById":"5b10\u200d"`, "/ticket/approvedById", change.ErrIdentityInvisible},
		{"id mixing scripts", `"alice@contoso.com"`, `"bob@contoso.com"`, `,"requestedById":"5b10a\u0430"`, "/ticket/requestedById", change.ErrIdentityMixedScript},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := body(tt.requestedBy, tt.approvedBy, tt.ids)
			_, err := change.Decode([]byte(b), nil)
			var ce *change.Error
			if !errors.As(err, &ce) || ce.Code != change.CodeInvalid {
				t.Fatalf("Decode(%s) = %v, want invalid-fields", b, err)
			}
			if len(ce.Fields) != 1 || ce.Fields[0].Field != tt.field || ce.Fields[0].Reason != tt.reason.Error() {
				t.Fatalf("Decode(%s) fields = %+v, want %s: %v", b, ce.Fields, tt.field, tt.reason)
			}
		})
	}
	ok := body(`"Alice@Contoso.com"`, `"Bob"`, `,"requestedById":"u1","approvedById":"u2"`)
	r, err := change.Decode([]byte(ok), nil)
	if err != nil {
		t.Fatalf("Decode(%s) = %v", ok, err)
	}
	if r.Ticket.RequestedBy != "Alice@Contoso.com" || r.Ticket.RequestedByID != "u1" || r.Ticket.ApprovedByID != "u2" {
		t.Errorf("Decode kept %+v, want the names as sent and the ids", r.Ticket)
	}
}

// FuzzNormalizeIdentity: no panic; a result normalises to itself; an error
// never quotes the input; a result never holds an invisible character.
func FuzzNormalizeIdentity(f *testing.F) {
	for _, s := range []string{"alice@contoso.com", "ａｌｉｃｅ＠ｃｏｎｔｏｓｏ．ｃｏｍ", "ali\u0441e", "alice\u200b", "Fred  Luddy",
		"alice@contoso.com.", "田中たろう", "ALİCE", "Jose\u0301", "a@b@c", "x\u3000y", "ǅ", "ﬁ", "ß@ẞ.de", "\u0301a", "a. b@c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := change.NormalizeIdentity(s)
		if err != nil {
			if n != "" {
				t.Fatalf("NormalizeIdentity(%q) = %q with error %v", s, n, err)
			}
			if v := strings.TrimSpace(s); len(v) >= 4 && strings.Contains(err.Error(), v) {
				t.Fatalf("NormalizeIdentity(%q) error quotes the input", s)
			}
			return
		}
		again, err := change.NormalizeIdentity(n)
		if err != nil || again != n {
			t.Fatalf("NormalizeIdentity(%q) = %q; again = %q, %v: not idempotent", s, n, again, err)
		}
		if n != "" && !change.SameIdentity(s, n) {
			t.Fatalf("SameIdentity(%q, %q) = false", s, n)
		}
		// One word: the same as x/text's UsernameCaseMapped where that
		// accepts it (it differs only by its stricter Bidi Rule).
		if strings.ContainsAny(s, "@.\uff20\uff0e\u3002\uff61") || strings.IndexFunc(s, unicode.IsSpace) >= 0 {
			return
		}
		if w, err := precis.UsernameCaseMapped.String(s); err == nil && w != n {
			t.Fatalf("NormalizeIdentity(%q) = %q, UsernameCaseMapped = %q", s, n, w)
		}
	})
}

func BenchmarkNormalizeIdentity(b *testing.B) {
	for _, in := range []string{"alice.smith@contoso.com", "José Müller", "田中たろう@例え.jp"} {
		b.Run(in, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := change.NormalizeIdentity(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
