package config_test

import (
	"slices"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/strategy"
)

// TestUpdateStrategiesMatchTheTemplate: the template's UpdateStrategy
// parameter allows exactly the strategies of package strategy, which config
// and the apply pipeline both read, with the same default.
func TestUpdateStrategiesMatchTheTemplate(t *testing.T) {
	tmpl := loadTemplate(t)
	p, ok := tmpl.Parameters["UpdateStrategy"]
	if !ok {
		t.Fatal("template.yaml has no UpdateStrategy parameter")
	}
	var allowed []string
	for _, v := range p.AllowedValues {
		s, _ := v.(string)
		allowed = append(allowed, s)
	}
	if !slices.Equal(allowed, strategy.Names()) || p.Default != strategy.Default {
		t.Errorf("UpdateStrategy allows %q (default %v), want %q (default %s)", allowed, p.Default, strategy.Names(), strategy.Default)
	}
}
