package source_test

import (
	"testing"

	"github.com/enrollhook/enrollhook/pkg/source"
)

// TestWindowKeepsFractionalSeconds: a window given to the millisecond is
// not widened to whole seconds, nor a sub-second one emptied.
func TestWindowKeepsFractionalSeconds(t *testing.T) {
	w, bad := source.Window(source.WindowEnd{Value: "2026-03-02T20:00:00.250+01:00", At: "/s", Name: "s"},
		source.WindowEnd{Value: "2026-03-02 19:00:00.750", At: "/e", Name: "e"}, "2006-01-02 15:04:05", "bad")
	if len(bad) > 0 || w == nil || w.Start != "2026-03-02T19:00:00.25Z" || w.End != "2026-03-02T19:00:00.75Z" {
		t.Fatalf("Window = %+v, %v", w, bad)
	}
	if _, _, ok := w.Bounds(); !ok {
		t.Errorf("a half-second window does not read as one")
	}
	if w, bad := source.Window(source.WindowEnd{At: "/s", Name: "s"}, source.WindowEnd{Value: "x", At: "/e", Name: "e"}, "2006", "bad"); w != nil || len(bad) != 2 {
		t.Errorf("a start missing and an unreadable end = %+v, %v; want both named", w, bad)
	}
}
