package strategy_test

import (
	"testing"

	"github.com/enrollhook/enrollhook/pkg/strategy"
)

func TestNames(t *testing.T) {
	names := strategy.Names()
	if len(names) != 3 || names[0] != strategy.Default {
		t.Fatalf("Names() = %q, want three, %s first", names, strategy.Default)
	}
	for _, n := range names {
		if !strategy.Valid(n) {
			t.Errorf("Valid(%q) = false", n)
		}
	}
	for _, n := range []string{"", "Auto", "put"} {
		if strategy.Valid(n) {
			t.Errorf("Valid(%q) = true", n)
		}
	}
}
