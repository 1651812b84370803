package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestUpdateStrategy(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{"", "auto"}, {"auto", "auto"}, {"patch", "patch"}, {"assign", "assign"}, {"  assign ", "assign"},
	} {
		c, err := Load(env(map[string]string{EnvUpdateStrategy: tc.value}))
		if err != nil {
			t.Fatalf("%q: Load = %v", tc.value, err)
		}
		if c.UpdateStrategy != tc.want {
			t.Errorf("%q: UpdateStrategy = %q, want %q", tc.value, c.UpdateStrategy, tc.want)
		}
	}
	for _, bad := range []string{"put", "PATCH", "Auto", "patch,assign", "post"} {
		_, err := Load(env(map[string]string{EnvUpdateStrategy: bad}))
		var ce *Error
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), EnvUpdateStrategy+" must be one of auto, patch, assign") {
			t.Errorf("%q: Load = %v, want a problem naming %s and its values", bad, err, EnvUpdateStrategy)
		}
	}
	if !slices.Contains(Keys(), EnvUpdateStrategy) {
		t.Errorf("Keys() lacks %s", EnvUpdateStrategy)
	}
	c, _ := Load(env(nil))
	if !strings.Contains(c.String(), "updateStrategy=auto") {
		t.Errorf("the logged configuration does not name the strategy: %s", c)
	}
}
