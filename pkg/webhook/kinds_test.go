package webhook

import (
	"slices"
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/sender"
)

// TestProblemTypesAreTheGoTable: the problem types of openapi.yaml are
// exactly pkg/change's codes and kinds (change.Codes, change.Kinds), no
// more and no fewer.
func TestProblemTypesAreTheGoTable(t *testing.T) {
	doc := oapiLoad(t)
	var documented []string
	for _, v := range doc.Components.Schemas["ProblemType"].Value.Enum {
		s, _ := v.(string)
		documented = append(documented, strings.TrimPrefix(s, oapiTypeURN))
	}
	var table []string
	for _, c := range change.Codes() {
		table = append(table, string(c))
	}
	for _, k := range change.Kinds() {
		table = append(table, string(k))
	}
	for _, s := range documented {
		if !slices.Contains(table, s) {
			t.Errorf("openapi.yaml lists %s%s, which is neither a change.Code nor a change.Kind", oapiTypeURN, s)
		}
	}
	for _, s := range table {
		if !slices.Contains(documented, s) {
			t.Errorf("%s%s is missing from openapi.yaml's ProblemType", oapiTypeURN, s)
		}
	}
}

// TestRoutesAreTheSenderRegistry: the contract's senders (the source path
// parameter's values, and a path of its own for each sender but the
// generic one) are exactly the registry's, in its order.
func TestRoutesAreTheSenderRegistry(t *testing.T) {
	doc := oapiLoad(t)
	var documented []string
	for _, v := range doc.Components.Parameters["Source"].Value.Schema.Value.Enum {
		s, _ := v.(string)
		documented = append(documented, s)
	}
	if !slices.Equal(documented, sender.Names()) {
		t.Errorf("openapi.yaml's source values = %q, the registry's = %q", documented, sender.Names())
	}
	for _, s := range sender.All() {
		if s.Name != sender.Generic && doc.Paths.Value(s.Route()) == nil {
			t.Errorf("openapi.yaml has no path %s", s.Route())
		}
	}
}
