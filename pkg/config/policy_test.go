package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPolicySettings(t *testing.T) {
	dir := t.TempDir()
	yml := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(yml, []byte("version: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	js := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(js, []byte(`{"version": 1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	txt := filepath.Join(dir, "policy.txt")
	if err := os.WriteFile(txt, []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}

	c, err := Load(env(nil))
	if err != nil || c.Policy.Data != nil || c.Policy.Origin != "" {
		t.Fatalf("unset: %+v %v, want no policy (the built-in default)", c.Policy, err)
	}
	if !strings.Contains(c.String(), "policy=built-in") {
		t.Errorf("config log %s does not say the policy is the built-in one", c)
	}
	c, err = Load(env(map[string]string{EnvPolicy: yml}))
	if err != nil || string(c.Policy.Data) != "version: 1\n" || !c.Policy.YAML || !strings.Contains(c.Policy.Origin, yml) {
		t.Errorf("YAML file: %+v %v", c.Policy, err)
	}
	c, err = Load(env(map[string]string{EnvPolicy: js}))
	if err != nil || c.Policy.YAML || string(c.Policy.Data) != `{"version": 1}` {
		t.Errorf("JSON file: %+v %v", c.Policy, err)
	}
	c, err = Load(env(map[string]string{EnvPolicyJSON: `{"version": 1}`}))
	if err != nil || c.Policy.YAML || c.Policy.Origin != EnvPolicyJSON || string(c.Policy.Data) != `{"version": 1}` {
		t.Errorf("inline: %+v %v", c.Policy, err)
	}
	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{EnvPolicy: js, EnvPolicyJSON: `{"version": 1}`}, "both set"},
		{map[string]string{EnvPolicy: txt}, ".json, .yaml or .yml"},
		{map[string]string{EnvPolicy: filepath.Join(dir, "missing.json")}, "no such file"},
		{map[string]string{EnvPolicy: dir + "/.json"}, "no such file"},
	} {
		if _, err := Load(env(tt.env)); err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), EnvPolicy) {
			t.Errorf("Load(%v) = %v, want %q", tt.env, err, tt.want)
		}
	}
}
