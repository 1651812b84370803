package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatalf("Load(empty) = %v", err)
	}
	if c.Credential != "managed-identity" || c.Cloud.Name != "global" || c.GraphVersion != "beta" ||
		c.GraphBaseURL != "https://graph.microsoft.com/beta" || c.Cloud.Scope != "https://graph.microsoft.com/.default" ||
		c.MaxBodyBytes != 256<<10 || c.SignatureTolerance != 5*time.Minute || c.DeadlineMargin != time.Second ||
		c.MaxRetries != 4 || c.Addr != "127.0.0.1:8080" || c.GraphInsecureHTTP {
		t.Errorf("defaults = %+v", c)
	}
	if got := strings.Join(c.Disabled(), ","); got != "generic,servicenow,jira,slack,teams" {
		t.Errorf("Disabled() = %s", got)
	}
}

func TestClouds(t *testing.T) {
	tests := []struct{ cloud, version, base, scope string }{
		{"global", "beta", "https://graph.microsoft.com/beta", "https://graph.microsoft.com/.default"},
		{"usgov", "v1.0", "https://graph.microsoft.us/v1.0", "https://graph.microsoft.us/.default"},
		{"usgovdod", "beta", "https://dod-graph.microsoft.us/beta", "https://dod-graph.microsoft.us/.default"},
		{"china", "beta", "https://microsoftgraph.chinacloudapi.cn/beta", "https://microsoftgraph.chinacloudapi.cn/.default"},
	}
	for _, tt := range tests {
		c, err := Load(env(map[string]string{EnvCloud: tt.cloud, EnvGraphVersion: tt.version}))
		if err != nil {
			t.Fatalf("%s: %v", tt.cloud, err)
		}
		if c.GraphBaseURL != tt.base || c.Cloud.Scope != tt.scope {
			t.Errorf("cloud %s = %s %s, want %s %s", tt.cloud, c.GraphBaseURL, c.Cloud.Scope, tt.base, tt.scope)
		}
	}
}

func TestGraphURLOverride(t *testing.T) {
	tests := []struct {
		url      string
		ok       bool
		insecure bool
	}{
		{"https://graph.example.net/beta/", true, false},
		{"http://127.0.0.1:9000/beta", true, true},
		{"http://localhost:9000/v1.0", true, true},
		{"http://[::1]:9000/beta", true, true},
		{"http://10.0.0.5/beta", false, false},
		{"http://graph.microsoft.com/beta", false, false},
		{"ftp://127.0.0.1/beta", false, false},
		{"https://user:pw@graph.example.net/beta", false, false},
		{"https://graph.example.net/beta?x=1", false, false},
		{"/beta", false, false},
	}
	for _, tt := range tests {
		c, err := Load(env(map[string]string{EnvGraphURL: tt.url}))
		if (err == nil) != tt.ok {
			t.Errorf("Load(%s) error = %v, want ok=%v", tt.url, err, tt.ok)
			continue
		}
		if tt.ok && (c.GraphInsecureHTTP != tt.insecure || strings.HasSuffix(c.GraphBaseURL, "/")) {
			t.Errorf("Load(%s) = %s insecure=%v", tt.url, c.GraphBaseURL, c.GraphInsecureHTTP)
		}
		if !tt.ok && strings.Contains(err.Error(), "pw@") {
			t.Errorf("error quotes credentials: %v", err)
		}
	}
}

func TestLoadListsEveryProblem(t *testing.T) {
	_, err := Load(env(map[string]string{
		EnvCredential: "password", EnvCloud: "mars", EnvGraphVersion: "v2", EnvMaxBody: "-1",
		EnvTolerance: "forever", EnvDeadlineMargin: "1h", EnvMaxRetries: "50", EnvAddr: "8080",
		EnvPolicy: "/etc/policy.yaml", EnvIdempotency: "t",
	}))
	var ce *Error
	if !errors.As(err, &ce) || !errors.Is(err, ErrConfig) {
		t.Fatalf("Load = %v, want *Error", err)
	}
	for _, key := range []string{EnvCredential, EnvCloud, EnvGraphVersion, EnvMaxBody, EnvTolerance, EnvDeadlineMargin, EnvMaxRetries, EnvAddr, EnvPolicy, EnvIdempotency} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error does not name %s: %v", key, err)
		}
	}
	if len(ce.Problems) != 10 {
		t.Errorf("problems = %d, want 10: %v", len(ce.Problems), ce.Problems)
	}
}

func TestSecretsAreNeverPrinted(t *testing.T) {
	const secret = "whsec_c3VwZXItc2VjcmV0LXZhbHVlLTEyMzQ1Ng=="
	c, err := Load(env(map[string]string{SecretKey("generic"): secret, EnvMaxRetries: "0"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxRetries != 0 {
		t.Errorf("MaxRetries = %d, want 0", c.MaxRetries)
	}
	for _, s := range []string{c.String(), fmt.Sprintf("%v", c.LogValue()), fmt.Sprint(c)} {
		if strings.Contains(s, "c3VwZXItc2VjcmV0") {
			t.Errorf("secret printed: %s", s)
		}
		if !strings.Contains(s, "REDACTED") {
			t.Errorf("configured secret not shown as REDACTED: %s", s)
		}
	}
	if got := strings.Join(c.Disabled(), ","); got != "servicenow,jira,slack,teams" {
		t.Errorf("Disabled() = %s", got)
	}
}

func TestDeliverySettings(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if d := c.Delivery; d.Table != "" || d.TTL != 48*time.Hour || d.WriteLimit != 100 || d.WriteWindow != 20*time.Second {
		t.Errorf("defaults = %+v", d)
	}
	c, err = Load(env(map[string]string{EnvIdempotency: "enrollhook-deliveries", EnvIdempotencyTTL: "72h", EnvWriteLimit: "50", EnvWriteWindow: "20s"}))
	if err != nil {
		t.Fatal(err)
	}
	if d := c.Delivery; d.Table != "enrollhook-deliveries" || d.TTL != 72*time.Hour || d.WriteLimit != 50 {
		t.Errorf("settings = %+v", d)
	}
	_, err = Load(env(map[string]string{EnvIdempotencyTTL: "1s", EnvWriteLimit: "0", EnvWriteWindow: "forever", EnvIdempotency: "bad name!"}))
	for _, k := range []string{EnvIdempotencyTTL, EnvWriteLimit, EnvWriteWindow, EnvIdempotency} {
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("error %v does not name %s", err, k)
		}
	}
	// A record that expires inside a signed timestamp's replay window (an
	// hour either side for Jira) would let a captured delivery apply again.
	for ttl, ok := range map[string]bool{"1m": false, "1h": false, "2h59m": false, "3h": true, "720h": true, "721h": false} {
		_, err := Load(env(map[string]string{EnvIdempotencyTTL: ttl}))
		if ok != (err == nil) {
			t.Errorf("%s=%s: %v, want ok=%v", EnvIdempotencyTTL, ttl, err, ok)
		}
	}
}
