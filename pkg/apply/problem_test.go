package apply

import "testing"

func TestRedactURLs(t *testing.T) {
	for in, want := range map[string]string{
		`PATCH https://graph.microsoft.com/beta/deviceManagement/x?$select=id: 500`: `PATCH <url> 500`,
		`dial tcp: lookup contoso.service-now.com`:                                  `dial tcp: lookup contoso.service-now.com`,
		`"http://127.0.0.1:8080/beta/x" refused`:                                    `"<url>" refused`,
	} {
		if got := redactURLs(in); got != want {
			t.Errorf("redactURLs(%q) = %q, want %q", in, got, want)
		}
	}
}
