package webhook

import (
	"slices"
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/change"
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
