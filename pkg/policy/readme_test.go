package policy_test

import (
	"os"
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/policy"
)

// TestReadmeExamples: the policy page's (docs/policy.md) example policy, YAML and JSON, is a
// valid policy that does what the page says.
func TestReadmeExamples(t *testing.T) {
	data, err := os.ReadFile("../../docs/policy.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut("\n"+string(data), "\n# Guardrail policy\n")
	if !ok {
		t.Fatal("docs/policy.md has no Guardrail policy heading")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	_, rest, ok := strings.Cut(section, "```yaml\n")
	if !ok {
		t.Fatal("no YAML example")
	}
	yml, _, _ := strings.Cut(rest, "```")
	p, err := policy.Parse([]byte(yml), "README", true)
	if err != nil {
		t.Fatalf("README YAML example: %v", err)
	}
	wantKind(t, "servicenow allDevices", p.Check("servicenow", false, req(configuration(cfgLimits), target(change.Target{ODataType: change.TypeAllDevices}))), "", "")
	wantKind(t, "generic allDevices", p.Check("generic", false, req(target(change.Target{ODataType: change.TypeAllDevices}))), change.KindPolicyWideTarget, "")
	wantKind(t, "slack other configuration", p.Check("slack", true, req(configuration(cfgLimits))), change.KindPolicyConfiguration, cfgLimits)
	wantKind(t, "slack show", p.CheckCommand("slack", "T0001", "U0999ZZZZ", "show"), "", "")
	wantKind(t, "slack assign", p.CheckCommand("slack", "T0001", "U0999ZZZZ", "assign"), change.KindPolicyCommand, "U0999ZZZZ")

	_, rest, ok = strings.Cut(section, "The same as JSON")
	if !ok {
		t.Fatal("no JSON example")
	}
	_, rest, _ = strings.Cut(rest, "\n`")
	js, _, _ := strings.Cut(rest, "`")
	if _, err := policy.Parse([]byte(js), "README", false); err != nil {
		t.Fatalf("README JSON example %s: %v", js, err)
	}
}
