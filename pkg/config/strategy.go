package config

import "strings"

// EnvUpdateStrategy is how a change reaches Graph: auto (default), patch or
// assign (see webhook.Strategies).
const EnvUpdateStrategy = "ENROLLHOOK_UPDATE_STRATEGY"

// Update strategies, the default first; the same as webhook.Strategies (a
// test compares them).
var UpdateStrategies = []string{"auto", "patch", "assign"}

var strategyKeys = []string{EnvUpdateStrategy}

func loadStrategy(get func(string) string, c *Config, bad func(string, ...any)) {
	v := get(EnvUpdateStrategy)
	if v == "" {
		c.UpdateStrategy = UpdateStrategies[0]
		return
	}
	for _, s := range UpdateStrategies {
		if v == s {
			c.UpdateStrategy = s
			return
		}
	}
	bad("%s must be one of %s", EnvUpdateStrategy, strings.Join(UpdateStrategies, ", "))
}
