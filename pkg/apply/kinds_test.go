package apply

import (
	"testing"

	"github.com/enrollhook/enrollhook/pkg/change"
)

// TestEveryCodeAndKindHasAProblem: the problem writer has a status and a
// title for every code of change, and every kind refines one of them; a
// kind's title is change's (Kind.Title), its code's otherwise.
func TestEveryCodeAndKindHasAProblem(t *testing.T) {
	for _, c := range change.Codes() {
		if _, ok := problems[c]; !ok {
			t.Errorf("code %s has no status and title", c)
		}
	}
	if len(problems) != len(change.Codes()) {
		t.Errorf("problems has %d codes, change.Codes() %d", len(problems), len(change.Codes()))
	}
	for _, k := range change.Kinds() {
		spec, ok := problems[k.Code()]
		if !ok {
			t.Errorf("kind %s refines %q, which has no status and title", k, k.Code())
			continue
		}
		p, _ := ProblemFor(change.Refuse(k, "m"), "r")
		want := k.Title()
		if want == "" {
			want = spec.title
		}
		if p.Type != ProblemTypePrefix+string(k) || p.Title != want || p.Status != spec.status {
			t.Errorf("ProblemFor(%s) = %s %q %d, want %s%s %q %d", k, p.Type, p.Title, p.Status, ProblemTypePrefix, k, want, spec.status)
		}
	}
}
