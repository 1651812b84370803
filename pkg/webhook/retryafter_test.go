package webhook

import (
	"github.com/enrollhook/enrollhook/pkg/apply"
	"net/http"
	"testing"
)

// TestGraphRetryAfterBeyondTheBudget: Graph throttles with a Retry-After of
// a day. The receiver sends no second write, and its caller gets 503
// graph-unavailable with Graph's Retry-After, not a short guess.
func TestGraphRetryAfterBeyondTheBudget(t *testing.T) {
	for _, ra := range []string{"86400", "172800"} {
		t.Run(ra, func(t *testing.T) {
			s := newStack(t, 3)
			s.emu.Throttle(5, ra)
			w := s.send(t, validBody)
			if w.Code != http.StatusServiceUnavailable {
				t.Fatalf("status = %d, want 503; body %s", w.Code, w.Body)
			}
			if got := w.Header().Get("Retry-After"); got != ra {
				t.Errorf("Retry-After = %q, want Graph's %q", got, ra)
			}
			if p := decodeProblem(t, w); p.Type != apply.ProblemTypePrefix+"graph-unavailable" {
				t.Errorf("type = %s, want graph-unavailable", p.Type)
			}
			writes := 0
			for _, c := range s.emu.Calls() {
				if c.Method != http.MethodGet {
					writes++
				}
			}
			if writes != 1 {
				t.Errorf("write attempts sent to Graph = %d, want 1 (stop at once)", writes)
			}
			if n := s.emu.Writes(); n != 0 {
				t.Errorf("writes applied = %d, want 0", n)
			}
		})
	}
}
