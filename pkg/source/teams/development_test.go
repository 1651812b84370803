package teams

import (
	"strings"
	"testing"
)

// TestIsDevelopmentSecretByDecodedKey: every spelling of the published
// token that a lenient base64 reader maps onto its key is the development
// secret; "...1rZXl=" is the spelling issue 9 found starting against Graph.
func TestIsDevelopmentSecretByDecodedKey(t *testing.T) {
	const body = "ZW5yb2xsaG9vay10ZWFtcy1kZXZlbG9wbWVudC1rZX"
	if DevelopmentSecret != body+"k=" {
		t.Fatalf("DevelopmentSecret changed; update the spellings of this test")
	}
	for _, s := range []string{
		DevelopmentSecret,
		" " + DevelopmentSecret + "\n",
		body + "l=", body + "m=", body + "n=", // non-zero padding bits
		body + "k", body + "l", // no padding
		DevelopmentSecret[:20] + "\r\n" + DevelopmentSecret[20:],
		DevelopmentSecret[:20] + " " + DevelopmentSecret[20:],
	} {
		if !IsDevelopmentSecret(s) {
			t.Errorf("IsDevelopmentSecret(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"", vecToken, body + "o=", "not base64!", "ZW5yb2xsaG9vay10ZWFtcy1kZXZlbG9wbWVudC1rZXk"[:40]} {
		if IsDevelopmentSecret(s) {
			t.Errorf("IsDevelopmentSecret(%q) = true, want false", s)
		}
	}
}

// TestNewRefusesNonCanonicalTokens: the token is read strictly, so a
// changed padding bit is refused with a message saying so, and the message
// never quotes the token.
func TestNewRefusesNonCanonicalTokens(t *testing.T) {
	if _, err := New(DevelopmentSecret, nil); err != nil {
		t.Fatalf("New(DevelopmentSecret) = %v", err)
	}
	const spelling = "ZW5yb2xsaG9vay10ZWFtcy1kZXZlbG9wbWVudC1rZXl="
	for _, s := range []string{spelling, strings.TrimSuffix(spelling, "="), strings.ReplaceAll(vecToken, "/", "_")} {
		_, err := New(s, nil)
		if err == nil || !strings.Contains(err.Error(), "canonical") || strings.Contains(err.Error(), strings.TrimRight(s, "=")) {
			t.Errorf("New(%q) = %v, want a refusal naming the canonical spelling, not quoting the token", s, err)
		}
	}
	if _, err := New("not base64!", nil); err == nil || strings.Contains(err.Error(), "canonical") {
		t.Errorf("New(not base64) = %v, want the plain refusal", err)
	}
}
