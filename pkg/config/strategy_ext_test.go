package config_test

import (
	"slices"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/webhook"
)

// TestUpdateStrategiesMatchTheHandler: config accepts exactly the
// strategies the handler knows, with the same default.
func TestUpdateStrategiesMatchTheHandler(t *testing.T) {
	if !slices.Equal(config.UpdateStrategies, webhook.Strategies) {
		t.Errorf("config.UpdateStrategies = %q, webhook.Strategies = %q", config.UpdateStrategies, webhook.Strategies)
	}
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
	if !slices.Equal(allowed, config.UpdateStrategies) || p.Default != config.UpdateStrategies[0] {
		t.Errorf("UpdateStrategy allows %q (default %v), want %q (default %s)", allowed, p.Default, config.UpdateStrategies, config.UpdateStrategies[0])
	}
}
