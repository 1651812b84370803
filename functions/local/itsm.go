package main

import (
	"net/http"
	"strings"
	"time"

	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/signature"
	"github.com/enrollhook/enrollhook/pkg/source/jira"
	"github.com/enrollhook/enrollhook/pkg/source/servicenow"
)

// itsmDevOverrides adds, for `serve -emulator`, the development secrets of
// the ServiceNow and Jira senders and the Jira field mapping the samples in
// events/ are written for, unless the environment sets them.
func itsmDevOverrides(getenv func(string) string, overrides map[string]string) {
	if getenv(config.SecretKey(servicenow.Name)) == "" {
		overrides[config.SecretKey(servicenow.Name)] = servicenow.DevelopmentSecret
	}
	if getenv(config.SecretKey(jira.Name)) == "" {
		overrides[config.SecretKey(jira.Name)] = jira.DevelopmentSecret
	}
	mapping := map[string]string{
		config.EnvJiraApprovedStatus:     "Approved",
		config.EnvJiraFieldConfiguration: "customfield_10150",
		config.EnvJiraFieldAssignment:    "customfield_10151",
		config.EnvJiraFieldGroup:         "customfield_10152",
		config.EnvJiraFieldFilter:        "customfield_10153",
		config.EnvJiraFieldFilterType:    "customfield_10154",
	}
	for k := range mapping {
		if getenv(k) != "" {
			return // the operator maps Jira; take nothing from the samples
		}
	}
	for k, v := range mapping {
		overrides[k] = v
	}
}

// signITSM returns the authentication headers of the servicenow and jira
// routes for body, and the body to send: a Jira body's timestamp, and a
// ServiceNow body's under Basic authentication, is set to now first, since
// it is checked against the replay window. handled is
// false for any other route. secret defaults to the sender's variable, then
// to its development secret. A ServiceNow secret of the form
// basic:<user>:<password> gives an Authorization header.
func signITSM(route, secret, id string, body []byte, now time.Time, getenv func(string) string, sign func(secret, id string, body []byte) (http.Header, error)) (h http.Header, out []byte, handled bool, err error) {
	name := strings.TrimPrefix(route, "/hooks/")
	if name != servicenow.Name && name != jira.Name {
		return nil, body, false, nil
	}
	if secret == "" {
		secret = getenv(config.SecretKey(name))
	}
	switch name {
	case jira.Name:
		if secret == "" {
			secret = jira.DevelopmentSecret
		}
		body = jira.Restamp(body, now)
		h = jira.Sign(secret, body)
		h.Set(jira.HeaderIdentifier, id)
		return h, body, true, nil
	default:
		if secret == "" {
			secret = servicenow.DevelopmentSecret
		}
		if c, ok := signature.ParseBasicSecret(secret); ok {
			// Basic signs nothing: the body's own timestamp is checked
			// against the replay window, so it is set to now.
			body = servicenow.Restamp(body, now)
			h = http.Header{}
			h.Set(signature.HeaderAuthorization, signature.BasicHeader(c))
			return h, body, true, nil
		}
		h, err = sign(secret, id, body)
		return h, body, true, err
	}
}
