package wiring

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/source/generic"
	"github.com/enrollhook/enrollhook/pkg/source/jira"
	"github.com/enrollhook/enrollhook/pkg/source/servicenow"
	"github.com/enrollhook/enrollhook/pkg/source/slack"
	"github.com/enrollhook/enrollhook/pkg/source/teams"
)

// publishedSpellings are, by sender, spellings of its published
// development secret that its New takes or that decode to its key: the
// constant, with white space, another letter case (text secrets), and
// other base64 spellings of the same key (padding bits, no padding, no
// "whsec_"). "...1rZXl=" is the Teams token of issue 9, which started
// against the real Graph.
var publishedSpellings = map[string][]string{
	generic.Name: {generic.DevelopmentSecret, " " + generic.DevelopmentSecret + "\n",
		strings.TrimPrefix(generic.DevelopmentSecret, "whsec_"),
		strings.TrimSuffix(generic.DevelopmentSecret, "E=") + "F=",
		strings.TrimSuffix(generic.DevelopmentSecret, "=")},
	servicenow.Name: {servicenow.DevelopmentSecret, strings.TrimSuffix(servicenow.DevelopmentSecret, "E=") + "H="},
	jira.Name:       {jira.DevelopmentSecret, " " + jira.DevelopmentSecret, strings.ToUpper(jira.DevelopmentSecret)},
	slack.Name:      {slack.DevelopmentSecret, slack.DevelopmentSecret + "\n", strings.ToUpper(slack.DevelopmentSecret)},
	teams.Name: {teams.DevelopmentSecret, " " + teams.DevelopmentSecret,
		"ZW5yb2xsaG9vay10ZWFtcy1kZXZlbG9wbWVudC1rZXl=", "ZW5yb2xsaG9vay10ZWFtcy1kZXZlbG9wbWVudC1rZXn=",
		"ZW5yb2xsaG9vay10ZWFtcy1kZXZlbG9wbWVudC1rZXk"},
}

// TestEverySenderHasOneDevelopmentSecretTest: the cold start knows the
// published secret of every sender it can enable.
func TestEverySenderHasOneDevelopmentSecretTest(t *testing.T) {
	for name, a := range adapters {
		if a.isDevelopment == nil {
			t.Errorf("sender %s has no IsDevelopmentSecret in adapters", name)
		}
		if len(publishedSpellings[name]) == 0 {
			t.Errorf("sender %s has no spellings in publishedSpellings", name)
		}
	}
	for name, spellings := range publishedSpellings {
		for _, s := range spellings {
			if !adapters[name].isDevelopment(s) {
				t.Errorf("%s: IsDevelopmentSecret(%q) = false, want true", name, s)
			}
		}
	}
}

// TestDevelopmentSecretsRefusedInEverySpellingAndVariable: outside the
// loopback emulator, any spelling of any sender's published secret, set in
// any sender's variable, fails the cold start, named, never quoted.
func TestDevelopmentSecretsRefusedInEverySpellingAndVariable(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for owner, spellings := range publishedSpellings {
		for _, secret := range spellings {
			for slot := range adapters {
				for _, onLambda := range []bool{true, false} {
					env := map[string]string{config.SecretKey(slot): secret}
					_, _, err := build(func(k string) string { return env[k] }, log, onLambda)
					var cerr *config.Error
					if !errors.As(err, &cerr) {
						t.Errorf("%s secret %q in %s (Lambda %v): build = %v, want refused", owner, secret, slot, onLambda, err)
						continue
					}
					all := strings.Join(cerr.Problems, "\n")
					want := config.SecretKey(slot)
					if owner == slot {
						want += " is the published development secret"
					}
					if !strings.Contains(all, want) {
						t.Errorf("%s secret %q in %s (Lambda %v): problems lack %q:\n%s", owner, secret, slot, onLambda, want, all)
					}
					if strings.Contains(all, strings.TrimSpace(secret)) {
						t.Errorf("%s secret %q in %s: problems quote it", owner, secret, slot)
					}
				}
			}
		}
	}
}

// TestNonCanonicalSecretRefusedWithTheLoopbackEmulator: with the emulator,
// where the published secrets are allowed, their canonical spelling starts
// and any other base64 spelling is refused as not canonical.
func TestNonCanonicalSecretRefusedWithTheLoopbackEmulator(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	tests := []struct {
		slot, secret string
		wantProblem  string // "" to start
	}{
		{teams.Name, teams.DevelopmentSecret, ""},
		{teams.Name, "ZW5yb2xsaG9vay10ZWFtcy1kZXZlbG9wbWVudC1rZXl=", "canonical"},
		{generic.Name, generic.DevelopmentSecret, ""},
		{generic.Name, strings.TrimSuffix(generic.DevelopmentSecret, "E=") + "F=", "canonical"},
		{servicenow.Name, strings.TrimSuffix(servicenow.DevelopmentSecret, "=") + "", "canonical"},
		// Not a published key, and non-canonical: the same refusal.
		{teams.Name, "cmllLXRlc3QtdGVhbXMtdG9rZW4tMzItYnl0ZXMhISF=", "canonical"},
	}
	for _, tt := range tests {
		env := map[string]string{config.SecretKey(tt.slot): tt.secret, config.EnvGraphURL: "http://127.0.0.1:9/beta"}
		_, _, err := build(func(k string) string { return env[k] }, log, false)
		switch {
		case tt.wantProblem == "" && err != nil:
			t.Errorf("%s=%q with the emulator: build = %v, want started", config.SecretKey(tt.slot), tt.secret, err)
		case tt.wantProblem != "" && (err == nil || !strings.Contains(err.Error(), config.SecretKey(tt.slot)) || !strings.Contains(err.Error(), tt.wantProblem)):
			t.Errorf("%s=%q with the emulator: build = %v, want refused as %s", config.SecretKey(tt.slot), tt.secret, err, tt.wantProblem)
		}
	}
}
