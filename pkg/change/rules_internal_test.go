package change

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// TestEveryRuleHasAReason: every rule a struct tag of the validated types
// names, and every rule the struct-level checks report, has a reason of
// its own (reasonFor's default branch is never reached), so no refusal
// names a rule of the validator ("fails the datetime rule") instead of
// saying what the value must be.
func TestEveryRuleHasAReason(t *testing.T) {
	rules := map[string]string{} // rule -> where
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] {
			return
		}
		seen[typ] = true
		for i := range typ.NumField() {
			f := typ.Field(i)
			for _, r := range strings.Split(f.Tag.Get("validate"), ",") {
				name, _, _ := strings.Cut(r, "=")
				switch name {
				case "", "-", "omitempty", "dive", "omitnil":
					continue
				}
				rules[name] = typ.Name() + "." + f.Name
			}
			walk(f.Type)
		}
	}
	walk(reflect.TypeOf(Request{}))
	if len(rules) < 8 || rules["rfc3339"] == "" {
		t.Fatalf("found only the rules %v: the walk misses tags", rules)
	}
	// The struct-level rules: the tag argument of every ReportError call.
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	reported := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); !ok || sel.Sel.Name != "ReportError" || len(call.Args) != 5 {
				return true
			}
			lit, ok := call.Args[3].(*ast.BasicLit)
			if !ok {
				t.Errorf("%s: a ReportError whose rule is not a string literal", fset.Position(call.Pos()))
				return true
			}
			tag, _ := strconv.Unquote(lit.Value)
			rules[tag] = fset.Position(call.Pos()).String()
			reported++
			return true
		})
	}
	if reported == 0 {
		t.Fatal("found no ReportError call: the scan misses the struct-level rules")
	}
	unknown := reasonFor("no such rule", "", "")
	for rule, where := range rules {
		got := reasonFor(rule, "x", "")
		if got == unknown || strings.Contains(got, rule) && rule != "required" {
			t.Errorf("rule %s (%s) has no reason of its own: %q", rule, where, got)
		}
	}
}
