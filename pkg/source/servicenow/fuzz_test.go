package servicenow

import (
	"errors"
	"github.com/enrollhook/enrollhook/pkg/change/changetest"
	"github.com/enrollhook/enrollhook/pkg/source"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
)

// FuzzDecode: no panic; accepted input is an approved, valid change; errors
// are coded client errors whose reasons never quote a value of the input.
func FuzzDecode(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"data":{"approval":{"state":"approved","approver":5}}}`))
	src, _ := NewWithOptions(vecSecret, &Options{RevertState: "-1"}) // testdata/revert.json
	fixed := changetest.FixedTexts(".", "-1")
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := src.Decode(source.Delivery{Body: body}, nil)
		if err == nil {
			if !r.Approved() || r.Ticket.ApprovedBy == "" {
				t.Fatalf("accepted a change that is not approved: %+v", r.Ticket)
			}
			if err := r.Validate(nil); err != nil {
				t.Fatalf("accepted a change that does not validate: %v", err)
			}
			return
		}
		var ce *change.Error
		if !errors.As(err, &ce) || (ce.Code != change.CodeInvalid && ce.Code != change.CodeMalformed && ce.Code != change.CodeNotApproved) {
			t.Fatalf("Decode error %v is not a coded client error", err)
		}
		// An input value that is a piece of the product's own texts (or
		// the configured back-out state) does not count.
		inputs := changetest.Strings(body)
		for _, fe := range ce.Fields {
			if v, ok := fixed.Quotes(fe.Reason, inputs, 8); ok {
				t.Fatalf("reason %q quotes the input value %q", fe.Reason, v)
			}
		}
		if v, ok := fixed.Quotes(ce.Message, inputs, 8); ok {
			t.Fatalf("message %q quotes the input value %q", ce.Message, v)
		}
	})
}

// FuzzAuthenticate: whatever the headers and body, no panic, and a refusal
// never quotes the signature header.
func FuzzAuthenticate(f *testing.F) {
	body, _ := os.ReadFile(filepath.Join("testdata", "approved.json"))
	now := time.Unix(1764403200, 0)
	h, _ := Sign(vecSecret, "msg_1", now, body)
	f.Add(h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature"), "", body)
	f.Add("", "", "", "Basic c3ZjLmVucm9sbGhvb2s6YzBycmVjdDpob3JzZQ==", body)
	std, _ := New(vecSecret, 0)
	basic, _ := New(basicSec, 0)
	f.Fuzz(func(t *testing.T, id, ts, sig, authz string, body []byte) {
		hh := make(map[string][]string)
		hh["Webhook-Id"], hh["Webhook-Timestamp"], hh["Webhook-Signature"], hh["Authorization"] = []string{id}, []string{ts}, []string{sig}, []string{authz}
		for _, src := range []*Source{std, basic} {
			_, err := src.Authenticate(hh, body, now)
			if err == nil {
				continue
			}
			var ce *change.Error
			if !errors.As(err, &ce) || ce.Code != change.CodeUnauthenticated {
				t.Fatalf("Authenticate error %v is not CodeUnauthenticated", err)
			}
			for _, v := range []string{sig, authz} {
				if len(v) >= 8 && strings.Contains(ce.Message, v) {
					t.Fatalf("message %q quotes a header", ce.Message)
				}
			}
		}
	})
}
