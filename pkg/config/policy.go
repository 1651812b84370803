package config

import (
	"os"
	"path/filepath"
	"strings"
)

// Guardrail policy settings (pkg/policy): a file, or the document itself
// (template.yaml's PolicyDocument parameter; Lambda has no file to point
// at). Neither means the built-in default policy.
const (
	EnvPolicyJSON = "ENROLLHOOK_POLICY_JSON"
)

// maxPolicyBytes bounds a policy file. Lambda's environment holds 4 KB in
// all, so ENROLLHOOK_POLICY_JSON is smaller still.
const maxPolicyBytes = 256 << 10

// Policy is the guardrail policy document as configured, not yet parsed:
// pkg/policy parses and validates it (policy.Load) when the function is
// built, and the cold start lists its problems with these.
type Policy struct {
	// Origin names where it came from, for problems and the log:
	// "ENROLLHOOK_POLICY (path)" or "ENROLLHOOK_POLICY_JSON"; empty when
	// no policy is configured.
	Origin string
	// Data is the document; nil means the built-in default policy.
	Data []byte
	// YAML says Data is YAML (a .yaml or .yml file); otherwise JSON.
	YAML bool
}

func loadPolicy(get func(string) string, c *Config, bad func(string, ...any)) {
	path, inline := get(EnvPolicy), get(EnvPolicyJSON)
	switch {
	case path != "" && inline != "":
		bad("%s and %s are both set; set one (the file, or the document itself)", EnvPolicy, EnvPolicyJSON)
	case inline != "":
		c.Policy = Policy{Origin: EnvPolicyJSON, Data: []byte(inline)}
	case path != "":
		c.Policy.Origin = EnvPolicy + " (" + path + ")"
		ext := strings.ToLower(filepath.Ext(path))
		if ext != ".json" && ext != ".yaml" && ext != ".yml" {
			bad("%s must name a .json, .yaml or .yml file", EnvPolicy)
			return
		}
		fi, err := os.Stat(path)
		switch {
		case err != nil:
			bad("%s: the policy file cannot be read (%s)", EnvPolicy, errorWord(err))
			return
		case !fi.Mode().IsRegular():
			bad("%s must name a regular file", EnvPolicy)
			return
		case fi.Size() > maxPolicyBytes:
			bad("%s: the policy file is larger than 256 KiB", EnvPolicy)
			return
		}
		data, err := os.ReadFile(path)
		if err != nil {
			bad("%s: the policy file cannot be read (%s)", EnvPolicy, errorWord(err))
			return
		}
		if data == nil {
			data = []byte{}
		}
		c.Policy.Data, c.Policy.YAML = data, ext != ".json"
	}
}

func errorWord(err error) string {
	switch {
	case os.IsNotExist(err):
		return "no such file"
	case os.IsPermission(err):
		return "permission denied"
	}
	return "I/O error"
}
