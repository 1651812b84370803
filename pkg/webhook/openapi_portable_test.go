package webhook

// openapi.yaml is read by more than kin-openapi: code generators, API
// gateways, ITSM REST importers and the linters `make lint` runs (Redocly,
// Spectral) compile its patterns as ECMA-262 regular expressions, some with
// the `u` flag and some without. These tests hold the document to what all
// of them read alike; the linters check the rest.

import (
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// oapiPatterns returns every `pattern` of the document with where it is.
func oapiPatterns(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(oapiPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: %v", oapiPath, err)
	}
	out := map[string]string{}
	var walk func(at string, v any)
	walk = func(at string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				if s, ok := c.(string); ok && k == "pattern" {
					out[at] = s
					continue
				}
				walk(at+"/"+k, c)
			}
		case []any:
			for i, c := range v {
				walk(fmt.Sprintf("%s/%d", at, i), c)
			}
		}
	}
	walk("", doc)
	return out
}

// portableEscapes are the escapes that mean the same in ECMA-262 (with and
// without the `u` flag) and in Go's RE2; \x takes two hex digits.
const portableEscapes = `dDwWsSbB.-/\[](){}^$|?*+tnrx`

// portablePattern says why pattern is not read alike by every engine, or "".
func portablePattern(pattern string) string {
	if strings.Contains(pattern, "(?") {
		return "has a (?...) group (inline flags, lookaround or a named group)"
	}
	if strings.Contains(pattern, "[:") {
		return "has a POSIX class"
	}
	for i := 0; i < len(pattern); i++ {
		if pattern[i] != '\\' {
			continue
		}
		if i+1 == len(pattern) {
			return "ends in a backslash"
		}
		c := pattern[i+1]
		if !strings.ContainsRune(portableEscapes, rune(c)) {
			return fmt.Sprintf(`has the escape \%c (Unicode properties, \u and \x{...} are not read alike)`, c)
		}
		if c == 'x' {
			if i+3 >= len(pattern) || !isHex(pattern[i+2]) || !isHex(pattern[i+3]) {
				return `has \x without two hex digits`
			}
		}
		i++
	}
	if _, err := regexp.Compile(pattern); err != nil {
		return fmt.Sprintf("does not compile in Go: %v", err)
	}
	return ""
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func TestOpenAPIPatternsArePortable(t *testing.T) {
	patterns := oapiPatterns(t)
	if len(patterns) < 20 {
		t.Fatalf("found %d patterns, want the document's (20 or more)", len(patterns))
	}
	for at, p := range patterns {
		if why := portablePattern(p); why != "" {
			t.Errorf("%s: pattern %q %s", at, p, why)
		}
	}
	// The checker itself.
	for _, bad := range []string{`^[^\p{Cc}]*$`, `^(?i:group)$`, `^[\u0000-\u001F]$`, `^[\x{200B}]$`, `^\x7$`, `^[[:alpha:]]+$`} {
		if portablePattern(bad) == "" {
			t.Errorf("portablePattern(%q) = \"\", want a reason", bad)
		}
	}
}

// TestOpenAPIIdentityPatterns: the literal-character classes that stand in
// for Unicode properties refuse what change refuses in the Basic
// Multilingual Plane, and keep what it accepts.
func TestOpenAPIIdentityPatterns(t *testing.T) {
	doc := oapiLoad(t)
	ticket := doc.Components.Schemas["Ticket"].Value
	for _, name := range []string{"requestedBy", "approvedBy", "requestedById", "approvedById"} {
		re := regexp.MustCompile(ticket.Properties[name].Value.Pattern)
		for _, ok := range []string{"bob@contoso.com", "Zoë Ñúñez", "山田太郎", "5137153cc611227c000bbd1bd8cd2005", "alice smith"} {
			if !re.MatchString(ok) {
				t.Errorf("Ticket.%s pattern refuses %q", name, ok)
			}
		}
		for _, bad := range []string{"bob\u200b", "\u202eu1", "bob\u00ad", "a\u2028b", "a\ue000", "bob\ufeff", "a\u0085b", "a\x7fb", "a\u2066b"} {
			if re.MatchString(bad) {
				t.Errorf("Ticket.%s pattern accepts %q", name, bad)
			}
		}
	}
	id := regexp.MustCompile(doc.Components.Parameters["WebhookId"].Value.Schema.Value.Pattern)
	for _, ok := range []string{"msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", "evt.CHG0030042.approved.3", "a b", "änderung-42"} {
		if !id.MatchString(ok) {
			t.Errorf("webhook-id pattern refuses %q", ok)
		}
	}
	for _, bad := range []string{"a\tb", "a\u00a0b", "a\u200bb", "a\u3000b", "a\u0085b"} {
		if id.MatchString(bad) {
			t.Errorf("webhook-id pattern accepts %q", bad)
		}
	}
}

// TestOpenAPISecurity: every operation names how its sender is
// authenticated, each scheme is one an operation uses, and only the local
// health check is open.
func TestOpenAPISecurity(t *testing.T) {
	doc := oapiLoad(t)
	want := map[string][]string{
		"/hooks/{source}":   {"standardWebhooks"},
		"/hooks/servicenow": {"standardWebhooks", "servicenowBasic"},
		"/hooks/jira":       {"jiraHubSignature"},
		"/hooks/slack":      {"slackSignature"},
		"/hooks/teams":      {"teamsHmac"},
	}
	used := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Security == nil {
				t.Errorf("%s %s declares no security", method, path)
				continue
			}
			var got []string
			for _, req := range *op.Security {
				for name := range req {
					got = append(got, name)
					used[name] = true
				}
			}
			if path == "/healthz" {
				if len(got) != 0 {
					t.Errorf("GET /healthz security = %v, want none", got)
				}
				continue
			}
			if method != http.MethodPost || !slices.Equal(got, want[path]) {
				t.Errorf("%s %s security = %v, want %v", method, path, got, want[path])
			}
		}
	}
	for name := range doc.Components.SecuritySchemes {
		if !used[name] {
			t.Errorf("security scheme %s is used by no operation", name)
		}
	}
}
