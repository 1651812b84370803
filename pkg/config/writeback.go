package config

import (
	"log/slog"
	"net/url"
	"strings"
)

// Write-back of the outcome to the ticket (pkg/writeback). Each system is
// written back to when both its URL and its credentials are set.
const (
	// EnvWriteBackServiceNowURL is the instance, https://<instance>.service-now.com.
	EnvWriteBackServiceNowURL = "ENROLLHOOK_WRITEBACK_SERVICENOW_URL"
	// EnvWriteBackServiceNowCredentials is user:password of a dedicated
	// integration user (HTTP Basic) that may write work notes.
	EnvWriteBackServiceNowCredentials = "ENROLLHOOK_WRITEBACK_SERVICENOW_CREDENTIALS"
	// EnvWriteBackJiraURL is the site, https://<site>.atlassian.net.
	EnvWriteBackJiraURL = "ENROLLHOOK_WRITEBACK_JIRA_URL"
	// EnvWriteBackJiraCredentials is email:api-token of the account that
	// comments (HTTP Basic with an Atlassian API token).
	EnvWriteBackJiraCredentials = "ENROLLHOOK_WRITEBACK_JIRA_CREDENTIALS"
)

// WriteBackSecretKeys are the write-back variables that hold secrets.
var WriteBackSecretKeys = []string{EnvWriteBackServiceNowCredentials, EnvWriteBackJiraCredentials}

var writeBackKeys = []string{EnvWriteBackServiceNowURL, EnvWriteBackServiceNowCredentials, EnvWriteBackJiraURL, EnvWriteBackJiraCredentials}

// WriteBackTarget is one ticket system's API.
type WriteBackTarget struct {
	URL         string // scheme and host, no trailing slash
	Credentials string `json:"-"` // user:secret for HTTP Basic; never logged
}

// String shows the URL and whether credentials are set, never them.
func (t WriteBackTarget) String() string {
	if t.Credentials == "" {
		return "{" + t.URL + " credentials=unset}"
	}
	return "{" + t.URL + " credentials=REDACTED}"
}

// GoString is String, so %#v does not show the credentials either.
func (t WriteBackTarget) GoString() string { return t.String() }

// Enabled reports whether the system is written back to.
func (t WriteBackTarget) Enabled() bool { return t.URL != "" && t.Credentials != "" }

// WriteBack holds the write-back settings.
type WriteBack struct {
	ServiceNow WriteBackTarget
	Jira       WriteBackTarget
}

// LogValue implements slog.LogValuer: which systems, never the credentials.
func (w WriteBack) LogValue() slog.Value {
	return slog.GroupValue(slog.Bool("servicenow", w.ServiceNow.Enabled()), slog.Bool("jira", w.Jira.Enabled()))
}

func loadWriteBack(get func(string) string, c *Config, bad func(string, ...any)) {
	c.WriteBack.ServiceNow = writeBackTarget(get, EnvWriteBackServiceNowURL, EnvWriteBackServiceNowCredentials, "user:password", bad)
	c.WriteBack.Jira = writeBackTarget(get, EnvWriteBackJiraURL, EnvWriteBackJiraCredentials, "email:api-token", bad)
}

func writeBackTarget(get func(string) string, urlKey, credKey, form string, bad func(string, ...any)) WriteBackTarget {
	raw, cred := get(urlKey), get(credKey)
	if raw == "" && cred == "" {
		return WriteBackTarget{}
	}
	var t WriteBackTarget
	switch {
	case raw == "":
		bad("%s is set but %s is not: set both, or neither", credKey, urlKey)
	case !writeBackURL(raw):
		bad("%s must be https://<host> (no path, query or user; plain http only to a loopback host)", urlKey)
	default:
		t.URL = strings.TrimRight(raw, "/")
	}
	user, secret, ok := strings.Cut(cred, ":")
	switch {
	case cred == "":
		bad("%s is set but %s is not: set both, or neither", urlKey, credKey)
	case !ok || user == "" || secret == "":
		// Never quote the value: it is a secret.
		bad("%s must be %s", credKey, form)
	default:
		t.Credentials = cred
	}
	return t
}

// writeBackURL accepts https://host[:port] and, for tests and local fakes,
// http to a loopback host.
func writeBackURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		return Loopback(u.Hostname())
	}
	return false
}
