package change

import (
	"testing"
)

// FuzzNormalizeIdentityASCII: the printable-ASCII path of NormalizeIdentity
// gives what the general one gives, error included.
func FuzzNormalizeIdentityASCII(f *testing.F) {
	for _, s := range []string{"alice@contoso.com", "Fred  Luddy", " Alice @ Contoso.COM. ", "a@b@c", "a. b@c", "a@.b", "a@b..c",
		"a@b.", "a@b..", "@b", "a@", "a@ b c", "x", "", "   ", "a~!#$%^&*()_+{}|:\"<>?`-=[]\\;',./@x", "A\"B@C"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err, ok := normalizeASCII(s)
		if !ok {
			return
		}
		wn, werr := normalizeIdentity(s)
		if n != wn || err != werr {
			t.Fatalf("normalizeASCII(%q) = %q, %v; normalizeIdentity = %q, %v", s, n, err, wn, werr)
		}
	})
}

// TestNormalizeIdentityASCIIShapes compares both paths on every string of
// up to five characters from the ones the rules treat specially.
func TestNormalizeIdentityASCIIShapes(t *testing.T) {
	const alphabet = " @.Aa$"
	var walk func(s string)
	walk = func(s string) {
		n, err, ok := normalizeASCII(s)
		if wn, werr := normalizeIdentity(s); !ok || n != wn || err != werr {
			t.Fatalf("normalizeASCII(%q) = %q, %v, %v; normalizeIdentity = %q, %v", s, n, err, ok, wn, werr)
		}
		if len(s) == 5 {
			return
		}
		for _, c := range alphabet {
			walk(s + string(c))
		}
	}
	walk("")
}
