package wiring

import (
	"bytes"
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/writeback"
)

// TestBuildWiresTheWriteBack: the write-back variables reach a writer for
// the systems set (none when unset), and the cold-start log says which
// without the credentials.
func TestBuildWiresTheWriteBack(t *testing.T) {
	const cred = "svc.enrollhook:wb-Cold-start-0123456789"
	if w := (&builder{}).writeBack(); w != nil {
		t.Errorf("writeBack(unset) = %v, want nil", w)
	}
	env := map[string]string{
		"ENROLLHOOK_GRAPH_URL":                        "http://127.0.0.1:1/beta",
		"IDENTITY_ENDPOINT":                           "http://127.0.0.1:1/msi/token",
		"IDENTITY_HEADER":                             "h",
		"ENROLLHOOK_WRITEBACK_SERVICENOW_URL":         "https://contoso.service-now.com",
		"ENROLLHOOK_WRITEBACK_SERVICENOW_CREDENTIALS": cred,
	}
	logs := &bytes.Buffer{}
	_, cfg, err := build(func(k string) string { return env[k] }, testLogger(logs), false)
	if err != nil {
		t.Fatal(err)
	}
	w := (&builder{cfg: cfg}).writeBack()
	if w == nil || !w.Configured(writeback.ServiceNow) || w.Configured(writeback.Jira) {
		t.Errorf("writeBack = %#v, want ServiceNow only", w)
	}
	if !strings.Contains(logs.String(), `"writeBack":{"servicenow":true,"jira":false}`) {
		t.Errorf("the ready line does not say which systems are written back to:\n%s", logs)
	}
	if strings.Contains(logs.String(), "wb-Cold-start") {
		t.Errorf("the cold-start log shows the write-back credentials:\n%s", logs)
	}
}
