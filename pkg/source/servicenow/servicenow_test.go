package servicenow

import (
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/signature"
	"github.com/enrollhook/enrollhook/pkg/source"
)

// The Standard Webhooks vector of reference/webhooks.md §8 #3 and #8.
const (
	vecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	basicSec  = "basic:svc.enrollhook:c0rrect:horse:battery"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func coded(t *testing.T, err error) *change.Error {
	t.Helper()
	var ce *change.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is not a *change.Error", err)
	}
	return ce
}

func TestAuthenticateStandardWebhooks(t *testing.T) {
	src, err := New(vecSecret, 0)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1714032000, 0)
	// Vector #8 signs a small approval body; the delivery id falls back to
	// webhook-id because that body has no data.approval.
	body8 := []byte(`{"type":"approval.approved","timestamp":"2024-04-25T08:00:00Z","data":{"ticket":"CHG0030042"}}`)
	h8 := http.Header{}
	h8.Set("webhook-id", "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W")
	h8.Set("webhook-timestamp", "1714032000")
	h8.Set("webhook-signature", "v1,ZfbfGDIcwBpc3qN0Ild0U1V4iA0woU1KE34fc8M7t/8=")
	if id, err := idOf(src.Authenticate(h8, body8, now)); err != nil || id != "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W" {
		t.Fatalf("Authenticate(vector 8) = %q, %v", id, err)
	}

	body := readTestdata(t, "approved.json")
	good, _ := Sign(vecSecret, "msg_any", now, body)
	id, err := idOf(src.Authenticate(good, body, now))
	if err != nil || id != "6c1f0a2b1b8e4d10a0e1c2d3e4f5a6b7-approved-3" {
		t.Fatalf("Authenticate = %q, %v; want the approval's sys_id-state-sys_mod_count", id, err)
	}
	tests := []struct {
		name string
		h    func() http.Header
		body []byte
		now  time.Time
		kind change.Kind
	}{
		{"missing", func() http.Header { return http.Header{} }, body, now, "signature-missing"},
		{"Basic instead", func() http.Header {
			h := http.Header{}
			h.Set("Authorization", signature.BasicHeader(signature.BasicCredentials{User: "a", Password: "b"}))
			return h
		}, body, now, "signature-missing"},
		{"wrong signature", func() http.Header {
			h := good.Clone()
			h.Set("webhook-signature", "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=")
			return h
		}, body, now, "signature-mismatch"},
		{"body re-encoded after signing: CRLF", good.Clone, []byte(strings.ReplaceAll(string(body), "\n", "\r\n")), now, "body-re-encoded"},
		{"body re-encoded after signing: newline added", good.Clone, append(append([]byte{}, body...), '\n'), now, "body-re-encoded"},
		{"body re-encoded after signing: still base64", good.Clone, []byte(base64.StdEncoding.EncodeToString(body)), now, "body-re-encoded"},
		{"another body", good.Clone, []byte(strings.Replace(string(body), "CHG0030042", "CHG0030043", 1)), now, "signature-mismatch"},
		{"stale", good.Clone, body, now.Add(6 * time.Minute), "timestamp-out-of-window"},
		{"malformed timestamp", func() http.Header {
			h := good.Clone()
			h.Set("webhook-timestamp", "2025-11-29T08:00:00Z")
			return h
		}, body, now, "signature-malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.h()
			_, err := src.Authenticate(h, tt.body, tt.now)
			ce := coded(t, err)
			if ce.Code != change.CodeUnauthenticated || ce.Kind != tt.kind {
				t.Fatalf("Authenticate = %v, want kind %s", err, tt.kind)
			}
			if sig := h.Get("webhook-signature"); sig != "" && strings.Contains(ce.Message, sig[3:]) || strings.Contains(ce.Message, "MfKQ9r8") {
				t.Errorf("message quotes the signature or the secret: %s", ce.Message)
			}
		})
	}
}

func TestAuthenticateBasic(t *testing.T) {
	src, err := New(basicSec, 0)
	if err != nil || !src.UsesBasic() {
		t.Fatalf("New(basic) = %v, %v", src, err)
	}
	body := readTestdata(t, "approved.json")
	good := http.Header{}
	good.Set("Authorization", signature.BasicHeader(signature.BasicCredentials{User: "svc.enrollhook", Password: "c0rrect:horse:battery"}))
	sent := read(body).timestamp()
	if sent.IsZero() {
		t.Fatal("testdata/approved.json has no timestamp")
	}
	if id, err := idOf(src.Authenticate(good, body, sent.Add(time.Minute))); err != nil || id != "6c1f0a2b1b8e4d10a0e1c2d3e4f5a6b7-approved-3" {
		t.Fatalf("Authenticate = %q, %v", id, err)
	}
	// Basic has no signed id: a body without an approval has no delivery id.
	if id, err := idOf(src.Authenticate(good, []byte(`{"timestamp":"`+sent.Format(time.RFC3339)+`"}`), sent)); err != nil || id != "" {
		t.Fatalf("Authenticate({}) = %q, %v", id, err)
	}
	// Basic signs nothing, so the body's own timestamp bounds replays: a
	// captured request sent again later, or a body without a timestamp, is
	// refused.
	for _, tt := range []struct {
		name string
		body []byte
		now  time.Time
	}{
		{"six minutes later", body, sent.Add(6 * time.Minute)},
		{"a day later", body, sent.Add(24 * time.Hour)},
		{"six minutes early", body, sent.Add(-6 * time.Minute)},
		{"no timestamp", []byte(`{}`), time.Now()},
		{"not RFC 3339", []byte(`{"timestamp":1764403200}`), time.Unix(1764403200, 0)},
	} {
		_, err := src.Authenticate(good, tt.body, tt.now)
		if ce := coded(t, err); ce.Kind != "timestamp-out-of-window" {
			t.Errorf("%s: Authenticate = %v, want timestamp-out-of-window", tt.name, err)
		}
	}
	enc := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tt := range []struct {
		name, header string
		kind         change.Kind
	}{
		{"missing", "", "credentials-missing"},
		{"wrong password", enc("svc.enrollhook:c0rrect"), "credentials-mismatch"},
		{"wrong user", enc("admin:c0rrect:horse:battery"), "credentials-mismatch"},
		{"not Basic", "Bearer c0rrect:horse:battery", "credentials-mismatch"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.header != "" {
				h.Set("Authorization", tt.header)
			}
			_, err := src.Authenticate(h, body, sent)
			ce := coded(t, err)
			if ce.Code != change.CodeUnauthenticated || ce.Kind != tt.kind {
				t.Fatalf("Authenticate = %v, want kind %s", err, tt.kind)
			}
			if strings.Contains(ce.Message, "c0rrect") || strings.Contains(ce.Message, "svc.enrollhook") {
				t.Errorf("message quotes the credentials: %s", ce.Message)
			}
		})
	}
}

func TestNewRefusesUnusableSecrets(t *testing.T) {
	for _, s := range []string{"", "hunter2", "whsec_c2hvcnQ=", "basic:", "basic:user", "basic::pw", "basic:user:",
		"basic:svc.enrollhook:s3cret:pass", "basic:svc:0123456789abcde", "basic:svc:ääääääääääääääü"} {
		_, err := New(s, 0)
		if err == nil {
			t.Errorf("New(%q) = nil error", s)
			continue
		}
		if len(s) > 6 && strings.Contains(err.Error(), s) {
			t.Errorf("New(%q) quotes the secret: %v", s, err)
		}
	}
}

// TestBasicPasswordLength: Basic carries no timestamp and signs no body,
// so the password has to be long; the error names the rule, not the value.
func TestBasicPasswordLength(t *testing.T) {
	_, err := New("basic:svc:0123456789abcde", 0)
	if err == nil || !strings.Contains(err.Error(), "at least 16 characters") || strings.Contains(err.Error(), "0123456789") {
		t.Errorf("New(15-character password) = %v", err)
	}
	if src, err := New("basic:svc:0123456789abcdef", 0); err != nil || !src.UsesBasic() {
		t.Errorf("New(16-character password) = %v", err)
	}
	if _, err := New("basic:svc:äääääääääääääääü", 0); err != nil {
		t.Errorf("New(16 characters, more bytes) = %v", err)
	}
}

func TestDecodeApproved(t *testing.T) {
	src, _ := New(vecSecret, 0)
	r, err := src.Decode(source.Delivery{Body: readTestdata(t, "approved.json")}, nil)
	if err != nil {
		t.Fatalf("Decode(approved.json) = %v", err)
	}
	want := change.Ticket{ID: "CHG0030042", System: "servicenow", State: "approved", RequestedBy: "abel.tuter@contoso.com",
		ApprovedBy: "fred.luddy@contoso.com", URL: "https://contoso.service-now.com/change_request.do?sys_id=c83c5e5347c12200e0ef563dbb9a7190",
		Record: "change_request/c83c5e5347c12200e0ef563dbb9a7190", RequestedByID: "62826bf03710200044e0bfc8bcbe5df1", ApprovedByID: "5137153cc611227c000bbd1bd8cd2005"}
	if r.Ticket != want {
		t.Errorf("Ticket = %+v, want %+v", r.Ticket, want)
	}
	tg := r.Assignment.Target
	if r.ConfigurationID != "4d7d8b60-3333-4e80-9c5d-3b4f5e6d7c8b_PlatformRestrictions" ||
		r.AssignmentID != "4d7d8b60-3333-4e80-9c5d-3b4f5e6d7c8b_9c0d0000-0000-0000-0000-000000000003" ||
		tg.ODataType != change.TypeGroup || tg.GroupID != "9c0d0000-0000-0000-0000-000000000003" ||
		tg.FilterID != "a1b2c3d4-0000-0000-0000-00000000f117" || tg.FilterType != "exclude" {
		t.Errorf("Decode = %+v target %+v", r, tg)
	}
	if r.Assignment.ODataType != change.TypeAssignment || !r.Approved() {
		t.Errorf("not normalized or not approved: %+v", r.Assignment)
	}

	// Graph form, string user references, sys_mod_count as a string.
	r, err = src.Decode(source.Delivery{Body: readTestdata(t, "approved-graph-form.json")}, nil)
	if err != nil {
		t.Fatalf("Decode(approved-graph-form.json) = %v", err)
	}
	if r.Ticket.ApprovedBy != "beth.anglin" || r.Ticket.RequestedBy != "abel.tuter" || r.Assignment.Target.ODataType != change.TypeExclusion || r.Assignment.Source != "direct" {
		t.Errorf("Decode(graph form) = %+v", r)
	}
}

func TestDecodeRefusesEveryStateButApproved(t *testing.T) {
	src, _ := New(vecSecret, 0)
	body := string(readTestdata(t, "approved.json"))
	for _, state := range []string{StateRequested, StateRejected, StateCancelled, StateNotRequired, StateSkipped, StateNotRequested} {
		t.Run(state, func(t *testing.T) {
			b := strings.Replace(body, `"state": "approved"`, `"state": "`+state+`"`, 1)
			_, err := src.Decode(source.Delivery{Body: []byte(b)}, nil)
			ce := coded(t, err)
			if ce.Code != change.CodeNotApproved || !strings.Contains(ce.Message, "is "+state+";") {
				t.Fatalf("Decode(state %s) = %v, want not-approved naming it", state, err)
			}
		})
	}
	// Refused for its state even when the change itself is incomplete.
	_, err := src.Decode(source.Delivery{Body: readTestdata(t, "rejected.json")}, nil)
	if ce := coded(t, err); ce.Code != change.CodeNotApproved || !strings.Contains(ce.Message, "rejected") {
		t.Errorf("Decode(rejected.json) = %v", err)
	}
	// An unknown state is refused without being quoted.
	_, err = src.Decode(source.Delivery{Body: []byte(strings.Replace(body, `"state": "approved"`, `"state": "approved-ish-maybe"`, 1))}, nil)
	if ce := coded(t, err); ce.Code != change.CodeNotApproved || strings.Contains(ce.Message, "maybe") {
		t.Errorf("Decode(unknown state) = %v", err)
	}
	// One approver approved, the record still waits for others.
	_, err = src.Decode(source.Delivery{Body: []byte(strings.Replace(body, `"approval": "approved"`, `"approval": "requested"`, 1))}, nil)
	if ce := coded(t, err); ce.Code != change.CodeNotApproved || !strings.Contains(ce.Message, "outstanding") || !strings.Contains(ce.Message, "requested") {
		t.Errorf("Decode(record still requested) = %v", err)
	}
}

func TestDecodeNamesEveryInvalidField(t *testing.T) {
	src, _ := New(vecSecret, 0)
	_, err := src.Decode(source.Delivery{Body: readTestdata(t, "invalid.json")}, nil)
	ce := coded(t, err)
	if ce.Code != change.CodeInvalid {
		t.Fatalf("Decode(invalid.json) = %v", err)
	}
	got := map[string]string{}
	for _, f := range ce.Fields {
		got[f.Field] = f.Reason
	}
	for field, reason := range map[string]string{
		"/data/approval/sys_id":        "32 hexadecimal",
		"/data/approval/sys_mod_count": "is required",
		"/data/approval/approver":      "required when the ticket state is approved",
		"/data/intune/configurationId": "opaque Graph key",
		"/data/intune/assignmentId":    "is required",
		"/data/intune/targetGroupId":   "unknown property",
		"/data/intune/target/groupId":  "must be a GUID",
		"/data/intune/target/filterId": "required when the filter type is include",
	} {
		if !strings.Contains(got[field], reason) {
			t.Errorf("%s = %q, want it to mention %q (all: %v)", field, got[field], reason, ce.Fields)
		}
	}
	for _, f := range ce.Fields {
		if !strings.HasPrefix(f.Field, "/data/") {
			t.Errorf("field %s does not point into the ServiceNow body", f.Field)
		}
		if strings.Contains(f.Reason, "Platform-Pilot") || strings.Contains(f.Reason, "cfg/../x") {
			t.Errorf("reason quotes the input: %s", f.Reason)
		}
	}
	for _, tt := range []struct{ body, field string }{
		{`[]`, ""},
		{`{}`, "/data"},
		{`{"data":{}}`, "/data/approval"},
		{`{"data":{"approval":{"state":""}}}`, "/data/approval/state"},
		{`{"data":{"approval":{"state":"approved","sys_id":5}}}`, "/data/approval/sys_id"},
		{`{"data":{"approval":{"sys_id":"6c1f0a2b1b8e4d10a0e1c2d3e4f5a6b7","state":"approved","sys_mod_count":1,"approver":"x"},"record":{"number":"CHG1"}}}`, "/data/intune"},
		{`{"data":{"approval":{"sys_id":"6c1f0a2b1b8e4d10a0e1c2d3e4f5a6b7","state":"approved","sys_mod_count":1,"approver":"x"},"intune":{"configurationId":"c","assignmentId":"a","target":{"type":"allDevices"}}}}`, "/data/record"},
	} {
		_, err := src.Decode(source.Delivery{Body: []byte(tt.body)}, nil)
		ce := coded(t, err)
		found := false
		for _, f := range ce.Fields {
			found = found || f.Field == tt.field
		}
		if ce.Code != change.CodeInvalid || !found {
			t.Errorf("Decode(%s) = %v %v, want a field error at %q", tt.body, err, ce.Fields, tt.field)
		}
	}
	if _, err := src.Decode(source.Delivery{Body: []byte(`{"data":`)}, nil); coded(t, err).Code != change.CodeMalformed {
		t.Errorf("Decode(truncated) = %v, want malformed-json", err)
	}
}

func TestDecodeOnGraphV1RefusesFilters(t *testing.T) {
	src, _ := New(vecSecret, 0)
	_, err := src.Decode(source.Delivery{Body: readTestdata(t, "approved.json")}, &change.Options{GraphVersion: "v1.0"})
	ce := coded(t, err)
	if ce.Code != change.CodeInvalid || len(ce.Fields) != 2 || ce.Fields[0].Field != "/data/intune/target/filterId" {
		t.Errorf("Decode on v1.0 = %v %v", err, ce.Fields)
	}
}

func TestDecodeRefusesDuplicateProperties(t *testing.T) {
	src, _ := New(vecSecret, 0)
	body := strings.Replace(string(readTestdata(t, "approved.json")), `"target": {"type": "group"`, `"target": {"type": "allDevices"}, "target": {"type": "group"`, 1)
	_, err := src.Decode(source.Delivery{Body: []byte(body)}, nil)
	ce := coded(t, err)
	if ce.Code != change.CodeInvalid || len(ce.Fields) != 1 || ce.Fields[0].Field != "/data/intune/target" {
		t.Errorf("Decode(duplicate target) = %v %v", err, ce.Fields)
	}
}

// idOf is the delivery id of Authenticate's answer.
func idOf(d source.Delivery, err error) (string, error) { return d.ID, err }

// TestDecodeRequiresTheRequester: without requested_by there is nobody to
// keep from approving their own change, so the approval is refused 422
// naming the field, whatever form the absence takes.
func TestDecodeRequiresTheRequester(t *testing.T) {
	src, _ := New(vecSecret, 0)
	body := string(readTestdata(t, "approved.json"))
	was := `"requested_by": {"sys_id": "62826bf03710200044e0bfc8bcbe5df1", "user_name": "abel.tuter", "email": "abel.tuter@contoso.com"}`
	if !strings.Contains(body, was) {
		t.Fatal("the sample's requested_by moved")
	}
	for _, now := range []string{`"requested_by": null`, `"requested_by": {}`, `"requested_by": {"email": " "}`, `"requestor": {}`} {
		_, err := src.Decode(source.Delivery{Body: []byte(strings.Replace(body, was, now, 1))}, nil)
		ce := coded(t, err)
		found := false
		for _, f := range ce.Fields {
			found = found || f.Field == "/data/record/requested_by" && strings.Contains(f.Reason, "is required")
		}
		if ce.Code != change.CodeInvalid || !found {
			t.Errorf("%s: %v %+v, want requested_by required", now, err, ce.Fields)
		}
	}
}
