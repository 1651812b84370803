package config

import (
	"fmt"
	"strings"
	"testing"
)

func TestWriteBack(t *testing.T) {
	const snCred, jiraCred = "svc.enrollhook:Sn-pa55-0123456789", "bot@contoso.com:ATATT3x-token-0123456789"
	load := func(env map[string]string) (Config, error) {
		return Load(func(k string) string { return env[k] })
	}
	c, err := load(nil)
	if err != nil || c.WriteBack.ServiceNow.Enabled() || c.WriteBack.Jira.Enabled() {
		t.Fatalf("unset: %+v %v, want no write-back", c.WriteBack, err)
	}
	c, err = load(map[string]string{
		EnvWriteBackServiceNowURL: "https://contoso.service-now.com/", EnvWriteBackServiceNowCredentials: snCred,
		EnvWriteBackJiraURL: "http://127.0.0.1:8443", EnvWriteBackJiraCredentials: jiraCred,
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.WriteBack.ServiceNow != (WriteBackTarget{"https://contoso.service-now.com", snCred}) ||
		c.WriteBack.Jira != (WriteBackTarget{"http://127.0.0.1:8443", jiraCred}) {
		t.Errorf("WriteBack = %+v", c.WriteBack)
	}
	if s := fmt.Sprint(c) + c.String() + fmt.Sprintf("%v %+v %#v", c.WriteBack, c.WriteBack, c.WriteBack); strings.Contains(s, "Sn-pa55") || strings.Contains(s, "ATATT3x") {
		t.Errorf("the logged configuration shows a write-back credential: %s", s)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"url without credentials", map[string]string{EnvWriteBackJiraURL: "https://contoso.atlassian.net"}, EnvWriteBackJiraCredentials},
		{"credentials without url", map[string]string{EnvWriteBackServiceNowCredentials: snCred}, EnvWriteBackServiceNowURL},
		{"plain http", map[string]string{EnvWriteBackServiceNowURL: "http://contoso.service-now.com", EnvWriteBackServiceNowCredentials: snCred}, "https"},
		{"a path", map[string]string{EnvWriteBackJiraURL: "https://contoso.atlassian.net/rest", EnvWriteBackJiraCredentials: jiraCred}, "no path"},
		{"user in the url", map[string]string{EnvWriteBackJiraURL: "https://bot:x@contoso.atlassian.net", EnvWriteBackJiraCredentials: jiraCred}, EnvWriteBackJiraURL},
		{"credentials without a colon", map[string]string{EnvWriteBackServiceNowURL: "https://contoso.service-now.com", EnvWriteBackServiceNowCredentials: "Sn-pa55-0123456789"}, "user:password"},
		{"empty password", map[string]string{EnvWriteBackJiraURL: "https://contoso.atlassian.net", EnvWriteBackJiraCredentials: "bot@contoso.com:"}, "email:api-token"},
	} {
		_, err := load(tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want a problem naming %q", tc.name, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "Sn-pa55") || strings.Contains(err.Error(), "ATATT3x") {
			t.Errorf("%s: the problem quotes the credentials: %v", tc.name, err)
		}
	}
}
