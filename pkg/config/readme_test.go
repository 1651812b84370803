package config_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/config"
)

// readmeSection returns the README's section under heading, up to the next
// heading of any level.
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(data), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README has no heading %q", heading)
	}
	if i := strings.Index(rest, "\n#"); i >= 0 {
		rest = rest[:i]
	}
	return strings.Join(strings.Fields(rest), " ") // line breaks do not matter
}

// TestReadmeLabSecretsOnLambda: the README says how a lab secret reaches
// the function on Lambda (a CloudFormation dynamic reference resolved at
// deploy time, never a fetch at run time) and which lab modes the template
// offers, as the template has it.
func TestReadmeLabSecretsOnLambda(t *testing.T) {
	tmpl := loadTemplate(t)
	var offered []string
	for _, v := range tmpl.Parameters["GraphCredential"].AllowedValues {
		s, _ := v.(string)
		offered = append(offered, s)
	}
	if !slices.Equal(offered, []string{config.CredentialAWS, config.CredentialSecret}) {
		t.Fatalf("GraphCredential allows %q; update this test and the README's lab section together", offered)
	}
	secret := tmpl.Parameters["EntraClientSecret"]
	// The parameter names the form without its braces (cfn-lint E1051:
	// a dynamic reference only in a resource property); the README shows it whole.
	if d := deref(secret.Description); !deref(secret.NoEcho) || !strings.Contains(d, "resolve:secretsmanager:") || strings.Contains(d, "{{") {
		t.Errorf("EntraClientSecret must be NoEcho and name the resolve:secretsmanager:... form without braces")
	}

	labs := readmeSection(t, "### On Azure, Kubernetes, and in labs")
	for _, want := range []string{
		"never fetches a secret at run time",
		"On Lambda only `client-secret` is offered",
		"`EntraClientSecret={{resolve:secretsmanager:",
		"CloudFormation resolves at deploy time into `AZURE_CLIENT_SECRET`",
		"`{{resolve:ssm-secure:...}}`", // why not Parameter Store
		"**Choice:** resolved at deploy time, not fetched at run time",
		"`client-certificate` is not offered on Lambda",
	} {
		if !strings.Contains(labs, want) {
			t.Errorf("README, On Azure, Kubernetes, and in labs: lacks %q", want)
		}
	}
	// The configuration table says the same in a line.
	cfg := readmeSection(t, "## Configuration")
	for _, want := range []string{
		"on Lambda set from a `{{resolve:secretsmanager:...}}` reference at deploy time, never fetched at run time",
		"`client-certificate` only (lab, not offered on Lambda)",
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("README, Configuration: lacks %q", want)
		}
	}
}
