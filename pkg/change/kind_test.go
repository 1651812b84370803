package change

import (
	"slices"
	"strings"
	"testing"
)

// TestKindTable: every kind refines a known code, appears once, and is a
// slug (lower-case words and hyphens) distinct from every code's.
func TestKindTable(t *testing.T) {
	codes := Codes()
	seen := map[Kind]bool{}
	for _, k := range Kinds() {
		if !slices.Contains(codes, k.Code()) {
			t.Errorf("%s.Code() = %q, not a code", k, k.Code())
		}
		if seen[k] {
			t.Errorf("%s is listed twice", k)
		}
		seen[k] = true
		if k == "" || strings.Trim(string(k), "abcdefghijklmnopqrstuvwxyz-") != "" || slices.Contains(codes, Code(k)) {
			t.Errorf("kind %q is not a slug of its own", k)
		}
	}
	if n := len(PolicyKinds()); n != 11 {
		t.Errorf("PolicyKinds() has %d kinds, want the policy's 11 rules", n)
	}
	for _, k := range PolicyKinds() {
		if !seen[k] || k.Code() != CodeForbidden || k.Title() == "" {
			t.Errorf("policy kind %s: listed %v, code %s, title %q", k, seen[k], k.Code(), k.Title())
		}
	}
	if got := Kind("no-such-kind").Code(); got != "" {
		t.Errorf(`Kind("no-such-kind").Code() = %q, want ""`, got)
	}
	if e := Refuse(KindWriteLimit, "m"); e.Code != CodeUnavailable || e.Kind != KindWriteLimit || e.Message != "m" {
		t.Errorf("Refuse = %+v", e)
	}
}
