package servicenow

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/signature"
)

// TestWrongTypeHidesNeitherDateNorID: the one parse of a delivery reads its
// timestamp and its approval's ids whatever else in the body has the wrong
// JSON type, wherever that value stands (a user reference before the
// approval's ids, the timestamp after data). So a Basic delivery with a
// wrong type is refused for that type (422 at its pointer), not as a
// replay, and its delivery id is still the approval's. A body that is not
// JSON has neither: with Basic it is refused as undated.
func TestWrongTypeHidesNeitherDateNorID(t *testing.T) {
	const approvalID = "6c1f0a2b1b8e4d10a0e1c2d3e4f5a6b7-approved-3"
	sent := time.Date(2025, 11, 29, 8, 0, 0, 0, time.UTC)
	approved := string(readTestdata(t, "approved.json"))
	lateStamp := func(body string) string {
		body = strings.Replace(body, `"timestamp": "2025-11-29T08:00:00Z",`, "", 1)
		return strings.TrimSuffix(strings.TrimSpace(body), "}") + `, "timestamp": "2025-11-29T08:00:00Z"}`
	}
	basic, _ := New(basicSec, 0)
	std, _ := New(vecSecret, 0)
	auth := http.Header{}
	auth.Set("Authorization", signature.BasicHeader(signature.BasicCredentials{User: "svc.enrollhook", Password: "c0rrect:horse:battery"}))
	for _, tt := range []struct {
		name, body, field string
	}{
		{"approver a number, before the ids", lateStamp(strings.Replace(approved, `"approval": {`, `"approval": {"approver": 5,`, 1)), "/data/approval/approver"},
		{"requester an array", lateStamp(strings.Replace(approved, `"record": {`, `"record": {"requested_by": [1],`, 1)), "/data/record/requested_by"},
		{"intune's source a number", lateStamp(strings.Replace(approved, `"intune": {`, `"intune": {"source": 5,`, 1)), "/data/intune/source"},
		{"type a number", strings.Replace(approved, `"type": "servicenow.approval.approved"`, `"type": 5`, 1), "/type"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			for _, src := range []*Source{basic, std} {
				h := auth
				if !src.UsesBasic() {
					h, _ = Sign(vecSecret, "msg_wrong_type", sent, body)
				}
				d, err := src.Authenticate(h, body, sent.Add(time.Minute))
				if err != nil || d.ID != approvalID {
					t.Fatalf("Authenticate(Basic %v) = %q, %v; want the approval's id", src.UsesBasic(), d.ID, err)
				}
				_, err = src.Decode(d, nil)
				if ce := coded(t, err); ce.Code != change.CodeInvalid || len(ce.Fields) != 1 || ce.Fields[0].Field != tt.field {
					t.Errorf("Decode(Basic %v) = %v %v, want 422 at %s", src.UsesBasic(), err, ce.Fields, tt.field)
				}
			}
		})
	}
	// Authentic but not JSON: malformed, not "a replay, or a wrong clock".
	if _, err := basic.Authenticate(auth, []byte(strings.TrimSuffix(strings.TrimSpace(approved), "}")), sent); change.ErrorCode(err) != change.CodeMalformed {
		t.Errorf("not JSON: Authenticate(Basic) = %v, want malformed-json", err)
	}
	for _, tt := range []struct{ name, body string }{
		{"timestamp a number, then a string", strings.Replace(approved, `"timestamp": "2025-11-29T08:00:00Z",`, `"timestamp": 1764403200, "Timestamp": "2025-11-29T08:00:00Z",`, 1)},
		{"timestamp a string, then a number", strings.Replace(approved, `"timestamp": "2025-11-29T08:00:00Z",`, `"timestamp": "2025-11-29T08:00:00Z", "TIMESTAMP": 1764403200,`, 1)},
	} {
		_, err := basic.Authenticate(auth, []byte(tt.body), sent)
		if ce := coded(t, err); ce.Kind != change.KindTimestampOutside {
			t.Errorf("%s: Authenticate(Basic) = %v, want timestamp-out-of-window", tt.name, err)
		}
	}
}
