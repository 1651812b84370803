package config_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/config"
)

// TestReadmeLabSecretsOnLambda: the identity page says how a lab secret reaches
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
		t.Fatalf("GraphCredential allows %q; update this test and the identity page's lab section together", offered)
	}
	secret := tmpl.Parameters["EntraClientSecret"]
	// The parameter names the form without its braces (cfn-lint E1051:
	// a dynamic reference only in a resource property); the identity page shows it whole.
	if d := deref(secret.Description); !deref(secret.NoEcho) || !strings.Contains(d, "resolve:secretsmanager:") || strings.Contains(d, "{{") {
		t.Errorf("EntraClientSecret must be NoEcho and name the resolve:secretsmanager:... form without braces")
	}

	labs := docSection(t, "docs/identity.md", "## On Azure, Kubernetes, and in labs")
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
			t.Errorf("docs/identity.md, On Azure, Kubernetes, and in labs: lacks %q", want)
		}
	}
	// The configuration table says the same in a line.
	cfg := docSection(t, "docs/configuration.md", "# Configuration")
	for _, want := range []string{
		"on Lambda set from a `{{resolve:secretsmanager:...}}` reference at deploy time, never fetched at run time",
		"`client-certificate` only (lab, not offered on Lambda)",
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("docs/configuration.md: lacks %q", want)
		}
	}
}
