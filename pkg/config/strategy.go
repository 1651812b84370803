package config

import (
	"strings"

	"github.com/enrollhook/enrollhook/pkg/strategy"
)

// EnvUpdateStrategy is how a change reaches Graph: one of the names of
// package strategy (auto, the default; patch; assign).
const EnvUpdateStrategy = "ENROLLHOOK_UPDATE_STRATEGY"

var strategyKeys = []string{EnvUpdateStrategy}

func loadStrategy(get func(string) string, c *Config, bad func(string, ...any)) {
	switch v := get(EnvUpdateStrategy); {
	case v == "":
		c.UpdateStrategy = strategy.Default
	case strategy.Valid(v):
		c.UpdateStrategy = v
	default:
		bad("%s must be one of %s", EnvUpdateStrategy, strings.Join(strategy.Names(), ", "))
	}
}
