package slack

import "testing"

// TestIsDevelopmentSecretIgnoresSpaceAndCase: the published signing secret
// with white space around it (the same key: SlackKey trims) or in other
// letter case is still the published secret.
func TestIsDevelopmentSecretIgnoresSpaceAndCase(t *testing.T) {
	for _, s := range []string{DevelopmentSecret, " " + DevelopmentSecret + "\n", "ENROLLHOOK-DEVELOPMENT-SLACK-SIGNING-SECRET", "\tEnrollhook-Development-Slack-Signing-Secret "} {
		if !IsDevelopmentSecret(s) {
			t.Errorf("IsDevelopmentSecret(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"", vecSecret, DevelopmentSecret + "x", "enrollhook-development-slack"} {
		if IsDevelopmentSecret(s) {
			t.Errorf("IsDevelopmentSecret(%q) = true, want false", s)
		}
	}
}
