// Package functions_test holds the import rules of the whole module and the
// picture of its real imports in docs/architecture.md. It is a test-only
// package: it sits beside the functions because the rules are mostly about
// what a deployed function may link.
package functions_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/enrollhook/enrollhook"

// lambdaFunctions are the deployed functions: what their bootstraps link is
// held to the rules below.
var lambdaFunctions = []string{"functions/webhook", "functions/worker", "functions/events"}

// lambdaBuild is how make builds a bootstrap: the import graph depends on
// the platform and the tags.
var lambdaBuild = []string{"GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0"}

const lambdaTags = "lambda.norpc,validator_novalidatefn"

// graph is the module's packages and their imports, each named relative to
// the module ("pkg/change", "functions/local"); other modules' packages
// are named in full.
type graph struct {
	// imports are each module package's direct imports (non-test files).
	imports map[string][]string
	// deps are the packages a Lambda function links, by function.
	deps map[string][]string
}

// violations lists every import rule g breaks, one line each:
//
//  1. a Lambda function links neither pkg/graphemu, nor a test helper
//     (pkg/logcheck, any package whose last element ends in "test"), nor
//     functions/local, nor the AWS SDK's default configuration loader
//     (github.com/aws/aws-sdk-go-v2/config: its shared-config, SSO and
//     IMDS chains; on Lambda the credentials are in the environment), nor
//     a generated AWS SDK service client (pkg/awsapi makes the few calls);
//  2. pkg/change imports no package of the module;
//  3. a sender adapter (pkg/source/<name>) imports no other sender adapter;
//  4. only the functions import pkg/webhook, directly or through
//     pkg/wiring, the builder they share, which only they import.
func (g graph) violations() []string {
	var out []string
	for _, fn := range lambdaFunctions {
		for _, d := range g.deps[fn] {
			switch {
			case d == "pkg/graphemu":
				out = append(out, fmt.Sprintf("%s links %s: the Graph emulator is for functions/local and tests", fn, d))
			case isTestHelper(d):
				out = append(out, fmt.Sprintf("%s links %s: a test helper", fn, d))
			case d == "functions/local":
				out = append(out, fmt.Sprintf("%s links %s: the local command", fn, d))
			case d == "github.com/aws/aws-sdk-go-v2/config":
				out = append(out, fmt.Sprintf("%s links %s: on Lambda the AWS configuration comes from the environment (wiring.AWSFromEnv)", fn, d))
			case strings.HasPrefix(d, "github.com/aws/aws-sdk-go-v2/service/"):
				out = append(out, fmt.Sprintf("%s links %s: the functions call AWS through pkg/awsapi, not the SDK's generated clients", fn, d))
			}
		}
	}
	for _, pkg := range sortedKeys(g.imports) {
		for _, imp := range g.imports[pkg] {
			if !isModule(imp) {
				continue
			}
			switch {
			case pkg == "pkg/change":
				out = append(out, fmt.Sprintf("%s imports %s: change imports no package of the module", pkg, imp))
			case isSender(pkg) && isSender(imp):
				out = append(out, fmt.Sprintf("%s imports %s: a sender adapter never imports another", pkg, imp))
			case imp == "pkg/webhook" && !isFunction(pkg) && pkg != "pkg/wiring":
				out = append(out, fmt.Sprintf("%s imports %s: only the functions (through pkg/wiring) use the HTTP adapter", pkg, imp))
			case imp == "pkg/wiring" && !isFunction(pkg):
				out = append(out, fmt.Sprintf("%s imports %s: pkg/wiring is the functions' builder", pkg, imp))
			}
		}
	}
	return out
}

func isModule(p string) bool {
	return strings.HasPrefix(p, "pkg/") || strings.HasPrefix(p, "functions/")
}
func isFunction(p string) bool { return strings.HasPrefix(p, "functions/") }

func isSender(p string) bool {
	rest, ok := strings.CutPrefix(p, "pkg/source/")
	return ok && rest != "" && !strings.Contains(rest, "/")
}

func isTestHelper(p string) bool {
	return isModule(p) && (p == "pkg/logcheck" || strings.HasSuffix(filepath.Base(p), "test"))
}

// load runs go list over the module.
func load(t *testing.T) graph {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH")
	}
	g := graph{imports: map[string][]string{}, deps: map[string][]string{}}
	for _, p := range goList(t, nil, "", "./...") {
		g.imports[short(p.ImportPath)] = shortAll(p.Imports)
	}
	for _, fn := range lambdaFunctions {
		for _, p := range goList(t, lambdaBuild, lambdaTags, "-deps", "./"+fn) {
			g.deps[fn] = append(g.deps[fn], short(p.ImportPath))
		}
	}
	return g
}

type listed struct {
	ImportPath string
	Imports    []string
}

func goList(t *testing.T, env []string, tags string, args ...string) []listed {
	t.Helper()
	cmdArgs := []string{"list", "-json=ImportPath,Imports"}
	if tags != "" {
		cmdArgs = append(cmdArgs, "-tags", tags)
	}
	cmd := exec.Command("go", append(cmdArgs, args...)...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, stderr.String())
	}
	var ps []listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p listed
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	return ps
}

func short(p string) string {
	if rest, ok := strings.CutPrefix(p, module+"/"); ok {
		return rest
	}
	return p
}

func shortAll(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = short(p)
	}
	return out
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestImportRules holds the module to the rules of graph.violations.
func TestImportRules(t *testing.T) {
	g := load(t)
	for _, fn := range lambdaFunctions {
		if len(g.deps[fn]) == 0 {
			t.Fatalf("go list found no dependencies of %s", fn)
		}
	}
	for _, v := range g.violations() {
		t.Error(v)
	}
}

// TestImportRulesCatchViolations: each rule fails for a graph that breaks
// it, and only for such a graph.
func TestImportRulesCatchViolations(t *testing.T) {
	sound := func() graph {
		return graph{
			imports: map[string][]string{
				"functions/webhook":   {"pkg/wiring", "github.com/aws/aws-lambda-go/lambda"},
				"functions/local":     {"pkg/wiring", "pkg/webhook", "pkg/graphemu"},
				"pkg/wiring":          {"pkg/webhook", "pkg/source/generic"},
				"pkg/webhook":         {"pkg/change"},
				"pkg/source/generic":  {"pkg/source", "pkg/signature", "pkg/change"},
				"pkg/source/slack":    {"pkg/source", "pkg/chat"},
				"pkg/change":          {"strings"},
				"pkg/graphemu":        {"pkg/change"},
				"pkg/source":          {"pkg/signature"},
				"pkg/identity/idtest": {"pkg/identity"},
			},
			deps: map[string][]string{
				"functions/webhook": {"pkg/wiring", "pkg/webhook", "pkg/change", "github.com/aws/aws-sdk-go-v2/aws"},
				"functions/worker":  {"pkg/wiring", "pkg/change"},
			},
		}
	}
	if v := sound().violations(); len(v) != 0 {
		t.Fatalf("a sound graph: %q", v)
	}
	tests := []struct {
		name    string
		violate func(g graph)
		want    string
	}{
		{"a function links the emulator", func(g graph) { g.deps["functions/worker"] = append(g.deps["functions/worker"], "pkg/graphemu") },
			"functions/worker links pkg/graphemu"},
		{"a function links logcheck", func(g graph) { g.deps["functions/webhook"] = append(g.deps["functions/webhook"], "pkg/logcheck") },
			"functions/webhook links pkg/logcheck: a test helper"},
		{"a function links a *test package", func(g graph) {
			g.deps["functions/webhook"] = append(g.deps["functions/webhook"], "pkg/identity/identitytest")
		}, "functions/webhook links pkg/identity/identitytest: a test helper"},
		{"a function links the local command", func(g graph) { g.deps["functions/worker"] = append(g.deps["functions/worker"], "functions/local") },
			"functions/worker links functions/local"},
		{"a function links the SDK's default loader", func(g graph) {
			g.deps["functions/webhook"] = append(g.deps["functions/webhook"], "github.com/aws/aws-sdk-go-v2/config")
		}, "functions/webhook links github.com/aws/aws-sdk-go-v2/config"},
		{"a function links an SDK service client", func(g graph) {
			g.deps["functions/worker"] = append(g.deps["functions/worker"], "github.com/aws/aws-sdk-go-v2/service/dynamodb")
		}, "functions/worker links github.com/aws/aws-sdk-go-v2/service/dynamodb"},
		{"change imports a module package", func(g graph) { g.imports["pkg/change"] = append(g.imports["pkg/change"], "pkg/sender") },
			"pkg/change imports pkg/sender"},
		{"a sender imports another", func(g graph) {
			g.imports["pkg/source/slack"] = append(g.imports["pkg/source/slack"], "pkg/source/generic")
		}, "pkg/source/slack imports pkg/source/generic"},
		{"a library package imports webhook", func(g graph) { g.imports["pkg/graphemu"] = append(g.imports["pkg/graphemu"], "pkg/webhook") },
			"pkg/graphemu imports pkg/webhook"},
		{"a library package imports the builder", func(g graph) { g.imports["pkg/change"] = []string{"pkg/wiring"} },
			"pkg/change imports pkg/wiring"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := sound()
			tt.violate(g)
			v := g.violations()
			if !slices.ContainsFunc(v, func(s string) bool { return strings.HasPrefix(s, tt.want) }) {
				t.Errorf("violations = %q, want one starting %q", v, tt.want)
			}
		})
	}
}

// The picture of the module's imports in docs/architecture.md sits between
// these markers; TestArchitectureDiagram writes it from go list with
// ENROLLHOOK_WRITE_DOCS=1 and otherwise fails when it differs.
const (
	diagramDoc   = "../docs/architecture.md"
	diagramBegin = "<!-- imports:begin (generated by functions/architecture_test.go; ENROLLHOOK_WRITE_DOCS=1 go test ./functions rewrites it) -->\n"
	diagramEnd   = "<!-- imports:end -->\n"
)

// diagram is g's module-internal imports as a Mermaid flowchart, one arrow
// per direct import of a non-test file, in a stable order.
func (g graph) diagram() string {
	var b strings.Builder
	b.WriteString("```mermaid\nflowchart LR\n")
	id := func(p string) string { return strings.NewReplacer("/", "_", ".", "_", "-", "_").Replace(p) }
	for _, group := range []struct{ name, prefix string }{{"functions", "functions/"}, {"pkg", "pkg/"}} {
		fmt.Fprintf(&b, "  subgraph %s\n", group.name)
		for _, p := range sortedKeys(g.imports) {
			if strings.HasPrefix(p, group.prefix) {
				fmt.Fprintf(&b, "    %s[%s]\n", id(p), strings.TrimPrefix(p, group.prefix))
			}
		}
		b.WriteString("  end\n")
	}
	for _, p := range sortedKeys(g.imports) {
		imps := slices.Clone(g.imports[p])
		slices.Sort(imps)
		for _, imp := range imps {
			if isModule(imp) {
				fmt.Fprintf(&b, "  %s --> %s\n", id(p), id(imp))
			}
		}
	}
	b.WriteString("```\n")
	return b.String()
}

// TestArchitectureDiagram keeps the picture of the imports in
// docs/architecture.md true.
func TestArchitectureDiagram(t *testing.T) {
	g := load(t)
	doc, err := os.ReadFile(diagramDoc)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok1 := strings.Cut(string(doc), diagramBegin)
	_, after, ok2 := strings.Cut(rest, diagramEnd)
	if !ok1 || !ok2 {
		t.Fatalf("%s lacks the markers %q and %q", diagramDoc, diagramBegin, diagramEnd)
	}
	want := before + diagramBegin + g.diagram() + diagramEnd + after
	if want == string(doc) {
		return
	}
	if os.Getenv("ENROLLHOOK_WRITE_DOCS") != "" {
		if err := os.WriteFile(diagramDoc, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote the imports in %s", diagramDoc)
		return
	}
	t.Errorf("the imports in %s are not the module's; run `ENROLLHOOK_WRITE_DOCS=1 go test ./functions -run TestArchitectureDiagram` and review the diff", diagramDoc)
}
