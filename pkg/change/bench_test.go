package change

import "testing"

// benchBody is the envelope pkg/webhook's BenchmarkRequestPath sends
// (validBody in pkg/webhook's tests).
const benchBody = `{"ticket":{"id":"CHG0030042","system":"servicenow","state":"approved","requestedBy":"alice@contoso.com","approvedBy":"bob@contoso.com"},` +
	`"configurationId":"2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_Windows10EnrollmentCompletionPageConfiguration",` +
	`"assignmentId":"2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_5e6f0000-0000-0000-0000-000000000001",` +
	`"assignment":{"target":{"@odata.type":"microsoft.graph.groupAssignmentTarget","groupId":"5e6f0000-0000-0000-0000-000000000001",` +
	`"deviceAndAppManagementAssignmentFilterId":"a1b2c3d4-0000-0000-0000-00000000f117","deviceAndAppManagementAssignmentFilterType":"include"},"source":"direct"}}`

// BenchmarkDecode is the cost of turning an authenticated envelope into a
// validated Request.
func BenchmarkDecode(b *testing.B) {
	body := []byte(benchBody)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(body, nil); err != nil {
			b.Fatal(err)
		}
	}
}
