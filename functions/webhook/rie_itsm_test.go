package main

import (
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/signature"
	"github.com/enrollhook/enrollhook/pkg/source"
	"github.com/enrollhook/enrollhook/pkg/source/jira"
	"github.com/enrollhook/enrollhook/pkg/source/servicenow"
)

// rieJiraSecret is the Jira webhook secret of the bootstrap under test; the
// events/jira-*.json samples are re-signed with it. ServiceNow's samples use
// Standard Webhooks and are re-signed with rieSecret.
const rieJiraSecret = "rie-jira-secret-not-the-development-one"

// rieJiraOptions is the field mapping the samples are written for; rieITSMEnv
// configures the bootstrap with it.
var rieJiraOptions = &jira.Options{
	ApprovedStatuses: []string{"Approved"}, ConfigurationField: "customfield_10150", AssignmentField: "customfield_10151",
	GroupField: "customfield_10152", FilterField: "customfield_10153", FilterType: "customfield_10154",
}

var rieITSMEnv = []string{
	"ENROLLHOOK_SECRET_SERVICENOW=" + rieSecret,
	"ENROLLHOOK_SECRET_JIRA=" + rieJiraSecret,
	"ENROLLHOOK_JIRA_APPROVED_STATUS=Approved",
	"ENROLLHOOK_JIRA_FIELD_CONFIGURATION=customfield_10150",
	"ENROLLHOOK_JIRA_FIELD_ASSIGNMENT=customfield_10151",
	"ENROLLHOOK_JIRA_FIELD_GROUP=customfield_10152",
	"ENROLLHOOK_JIRA_FIELD_FILTER=customfield_10153",
	"ENROLLHOOK_JIRA_FIELD_FILTER_TYPE=customfield_10154",
}

// resignHub gives a sample that carries X-Hub-Signature (Jira) a fresh
// timestamp in its body (checked against the replay window) and re-signs
// it with rieJiraSecret, unless keepSig; it reports whether it was a Jira
// sample.
func resignHub(ev, headers map[string]any, body []byte, keepSig bool) bool {
	if _, ok := headers["x-hub-signature"]; !ok {
		return false
	}
	body = jira.Restamp(body, time.Now())
	if !keepSig {
		headers["x-hub-signature"] = signature.SignHub(rieJiraSecret, body)
	}
	if b64, _ := ev["isBase64Encoded"].(bool); b64 {
		ev["body"] = base64.StdEncoding.EncodeToString(body)
	} else {
		ev["body"] = string(body)
	}
	return true
}

// asEnvelope turns a sample's body into the generic envelope the test
// compares Graph's state with: ServiceNow and Jira bodies go through their
// adapter's decoder, generic ones are returned as they are.
func asEnvelope(t testing.TB, path string, body []byte) []byte {
	t.Helper()
	var decode func([]byte) (any, error)
	switch path {
	case "/hooks/servicenow":
		src, err := servicenow.New(rieSecret, 0)
		if err != nil {
			t.Fatal(err)
		}
		decode = func(b []byte) (any, error) { return src.Decode(source.Delivery{Body: b}, nil) }
	case "/hooks/jira":
		src, err := jira.New(rieJiraSecret, rieJiraOptions)
		if err != nil {
			t.Fatal(err)
		}
		decode = func(b []byte) (any, error) { return src.Decode(source.Delivery{Body: b}, nil) }
	default:
		return body
	}
	req, err := decode(body)
	if err != nil {
		t.Fatalf("%s sample does not decode: %v", path, err)
	}
	out, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
