package jira

import "testing"

// TestIsDevelopmentSecretIgnoresSpaceAndCase: the published secret with
// white space around it or in other letter case is still the published
// secret.
func TestIsDevelopmentSecretIgnoresSpaceAndCase(t *testing.T) {
	for _, s := range []string{DevelopmentSecret, " " + DevelopmentSecret + "\n", "Enrollhook-Jira-Development-Secret", "ENROLLHOOK-JIRA-DEVELOPMENT-SECRET\t"} {
		if !IsDevelopmentSecret(s) {
			t.Errorf("IsDevelopmentSecret(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"", vecSecret, DevelopmentSecret + "-2", "enrollhook-jira-development"} {
		if IsDevelopmentSecret(s) {
			t.Errorf("IsDevelopmentSecret(%q) = true, want false", s)
		}
	}
}
