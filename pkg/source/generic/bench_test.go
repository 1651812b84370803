package generic

import (
	"net/http"
	"testing"
	"time"
)

// BenchmarkDecodeGeneric is one envelope from signed bytes to a validated
// change: Authenticate (which reads nothing of the body), then Decode.
// Its allocation count is the figure to watch.
func BenchmarkDecodeGeneric(b *testing.B) {
	body := []byte(benchBody)
	src, _ := New(secret, 0)
	now := time.Unix(1764403200, 0)
	h, _ := Sign(secret, "msg_bench", now, body)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := authenticateAndDecode(src, h, body, now); err != nil {
			b.Fatal(err)
		}
	}
}

func authenticateAndDecode(src *Source, h http.Header, body []byte, now time.Time) (any, error) {
	d, err := src.Authenticate(h, body, now)
	if err != nil {
		return nil, err
	}
	return src.Decode(d, nil)
}

const benchBody = `{"ticket":{"id":"CHG0030042","system":"servicenow","state":"approved","requestedBy":"alice@contoso.com","approvedBy":"bob@contoso.com"},` +
	`"configurationId":"2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_Windows10EnrollmentCompletionPageConfiguration",` +
	`"assignmentId":"2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_5e6f0000-0000-0000-0000-000000000001",` +
	`"assignment":{"target":{"@odata.type":"microsoft.graph.groupAssignmentTarget","groupId":"5e6f0000-0000-0000-0000-000000000001",` +
	`"deviceAndAppManagementAssignmentFilterId":"a1b2c3d4-0000-0000-0000-00000000f117","deviceAndAppManagementAssignmentFilterType":"include"},"source":"direct"}}`
