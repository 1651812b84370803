package servicenow

import (
	"strings"
	"testing"
)

// TestIsDevelopmentSecretByDecodedKey: every spelling of the published
// secret that a lenient base64 reader maps onto its key is the development
// secret, with or without "whsec_".
func TestIsDevelopmentSecretByDecodedKey(t *testing.T) {
	const body = "ZW5yb2xsaG9vay1kZXZlbG9wbWVudC1zZWNyZXQtMD"
	if DevelopmentSecret != "whsec_"+body+"E=" {
		t.Fatalf("DevelopmentSecret changed; update the spellings of this test")
	}
	for _, s := range []string{
		DevelopmentSecret,
		body + "E=",
		" " + DevelopmentSecret + "\n",
		"whsec_" + body + "F=", body + "G=", "whsec_" + body + "H", // padding bits, no padding
		"whsec_" + body[:10] + "\n" + body[10:] + "E=",
	} {
		if !IsDevelopmentSecret(s) {
			t.Errorf("IsDevelopmentSecret(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"", vecSecret, basicSec, "whsec_" + body + "I=", "basic:svc:" + DevelopmentSecret} {
		if IsDevelopmentSecret(s) {
			t.Errorf("IsDevelopmentSecret(%q) = true, want false", s)
		}
	}
}

// TestNewRefusesNonCanonicalSecrets: the base64 is read strictly; the
// refusal says why and never quotes the secret.
func TestNewRefusesNonCanonicalSecrets(t *testing.T) {
	const body = "ZW5yb2xsaG9vay1kZXZlbG9wbWVudC1zZWNyZXQtMD"
	for _, s := range []string{"whsec_" + body + "F=", body + "F=", "whsec_" + body + "E"} {
		_, err := New(s, 0)
		if err == nil || !strings.Contains(err.Error(), "canonical") || strings.Contains(err.Error(), body) {
			t.Errorf("New(%q) = %v, want a refusal naming the canonical spelling, not quoting the secret", s, err)
		}
	}
}
