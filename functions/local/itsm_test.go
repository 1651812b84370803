package main

import (
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/signature"
	"github.com/enrollhook/enrollhook/pkg/source/generic"
	"github.com/enrollhook/enrollhook/pkg/source/jira"
	"github.com/enrollhook/enrollhook/pkg/source/servicenow"
)

func TestSignITSM(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	body := []byte(`{"timestamp":1764403200123,"webhookEvent":"jira:issue_updated"}`)
	std := func(secret, id string, body []byte) (http.Header, error) {
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("x-secret-used", secret)
		return h, nil
	}

	now := time.Now()
	h, out, handled, err := signITSM("/hooks/jira", "", "delivery-1", body, now, env(nil), std)
	if !handled || err != nil || signature.VerifyHub([]string{jira.DevelopmentSecret}, h.Get("X-Hub-Signature"), out) != nil ||
		h.Get(jira.HeaderIdentifier) != "delivery-1" {
		t.Errorf("jira with the development secret: %v %v %v", h, handled, err)
	}
	// A Jira sample's timestamp is set to now, so the replay window takes it.
	src, _ := jira.New(jira.DevelopmentSecret, nil)
	if _, err := src.Authenticate(h, out, now); err != nil || !strings.Contains(string(out), strconv.FormatInt(now.UnixMilli(), 10)) {
		t.Errorf("jira sample not restamped: %s %v", out, err)
	}
	h, out, _, _ = signITSM("/hooks/jira", "", "d", body, now, env(map[string]string{"ENROLLHOOK_SECRET_JIRA": "from-the-environment"}), std)
	if signature.VerifyHub([]string{"from-the-environment"}, h.Get("X-Hub-Signature"), out) != nil {
		t.Errorf("jira does not sign with ENROLLHOOK_SECRET_JIRA")
	}
	h, out, _, _ = signITSM("/hooks/servicenow", "", "id-1", body, now, env(nil), std)
	if h.Get("x-secret-used") != servicenow.DevelopmentSecret || string(out) != string(body) {
		t.Errorf("servicenow default secret: %v", h)
	}
	h, _, _, _ = signITSM("/hooks/servicenow", "basic:svc:pw:x", "id-1", body, now, env(nil), std)
	if signature.VerifyBasic(signature.BasicCredentials{User: "svc", Password: "pw:x"}, h.Get("Authorization")) != nil {
		t.Errorf("servicenow basic: %v", h)
	}
	// Under Basic the body's own timestamp is the replay window's: a
	// sample's is set to now, so the receiver takes it.
	var sample struct{ Body string }
	raw, err := os.ReadFile("../../events/servicenow-rejected.json")
	if err != nil || json.Unmarshal(raw, &sample) != nil {
		t.Fatal(err)
	}
	const basic = "basic:snow:0123456789abcdefXYZ"
	h, out, _, _ = signITSM("/hooks/servicenow", basic, "id-1", []byte(sample.Body), now, env(nil), std)
	sn, err := servicenow.New(basic, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sn.Authenticate(h, out, now); err != nil || !strings.Contains(string(out), now.UTC().Format(time.RFC3339)) {
		t.Errorf("servicenow basic sample not restamped: %v\n%s", err, out)
	}
	if _, _, handled, _ := signITSM("/hooks/generic", "", "id", body, now, env(nil), std); handled {
		t.Errorf("generic handled by signITSM")
	}
}

func TestITSMDevOverrides(t *testing.T) {
	o := map[string]string{}
	itsmDevOverrides(func(string) string { return "" }, o)
	if o[config.SecretKey("servicenow")] != servicenow.DevelopmentSecret || o[config.SecretKey("jira")] != jira.DevelopmentSecret ||
		o[config.EnvJiraFieldConfiguration] != "customfield_10150" {
		t.Errorf("overrides = %v", o)
	}
	if !generic.IsDevelopmentSecret(servicenow.DevelopmentSecret) {
		t.Errorf("ServiceNow's development secret is not the one the cold start refuses")
	}
	o = map[string]string{}
	itsmDevOverrides(func(k string) string {
		if k == config.EnvJiraFieldGroup {
			return "customfield_1"
		}
		return ""
	}, o)
	if _, set := o[config.EnvJiraFieldConfiguration]; set {
		t.Errorf("an operator's partial mapping was completed from the samples: %v", o)
	}
}
