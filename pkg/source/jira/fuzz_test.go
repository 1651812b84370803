package jira

import (
	"encoding/json"
	"errors"
	"github.com/enrollhook/enrollhook/pkg/change/changetest"
	"github.com/enrollhook/enrollhook/pkg/source"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
)

// FuzzDecode: no panic; accepted input is an approved, valid change; errors
// are coded client errors whose texts never quote a value of the input.
func FuzzDecode(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	byStatus, _ := New(vecSecret, testOptions)
	// The approval-field path too, mapped as the JSM sample needs.
	byField, _ := New(vecSecret, &Options{ApprovalField: "customfield_10027", ConfigurationField: "customfield_10150",
		AssignmentField: "customfield_10151", GroupField: "customfield_10152", FilterField: "customfield_10153", FilterType: "customfield_10154"})
	// Reverts and windows, as testdata/issue-reverted.json needs.
	withRevert := *testOptions
	withRevert.RevertStatuses, withRevert.WindowStartField, withRevert.WindowEndField = []string{"Backed out"}, "customfield_10050", "customfield_10051"
	byRevert, _ := New(vecSecret, &withRevert)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, src := range []*Source{byStatus, byField, byRevert} {
			decodeProperties(t, src, body)
		}
	})
}

// decodeProperties checks one Decode of body against the properties.
func decodeProperties(t *testing.T, src *Source, body []byte) {
	t.Helper()
	r, err := src.Decode(source.Delivery{Body: body}, nil)
	if err == nil {
		if !r.Approved() || r.Ticket.ApprovedBy == "" {
			t.Fatalf("accepted a change that is not approved: %+v", r.Ticket)
		}
		if err := r.Validate(nil); err != nil {
			t.Fatalf("accepted a change that does not validate: %v", err)
		}
		if _, issue := probeKeys(body)["issue"]; issue && r.Ticket.RequestedBy != "" && strings.EqualFold(r.Ticket.RequestedBy, r.Ticket.ApprovedBy) {
			t.Fatalf("accepted an issue approved by its own reporter: %+v", r.Ticket)
		}
		return
	}
	var ce *change.Error
	if !errors.As(err, &ce) || (ce.Code != change.CodeInvalid && ce.Code != change.CodeMalformed && ce.Code != change.CodeNotApproved &&
		(ce.Code != change.CodeForbidden || ce.Kind != change.KindSeparationOfDuties)) {
		t.Fatalf("Decode error %v is not a coded client error", err)
	}
	// An input value that is a piece of the product's own texts (or of
	// the source's configured names) does not count.
	fixed := fixedTexts(src)
	inputs := changetest.Strings(body)
	if v, ok := fixed.Quotes(ce.Message, inputs, 8); ok {
		t.Fatalf("message %q quotes the input value %q", ce.Message, v)
	}
	for _, fe := range ce.Fields {
		if v, ok := fixed.Quotes(fe.Reason, inputs, 8); ok {
			t.Fatalf("reason %q quotes the input value %q", fe.Reason, v)
		}
	}
}

func probeKeys(body []byte) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(body, &m)
	return m
}

// FuzzAuthenticate: no panic; an accepted delivery carries our signature of
// its body; a refusal never quotes the header.
func FuzzAuthenticate(f *testing.F) {
	body := readTestdata(f, "vector6.json")
	f.Add(vecSig, "3f1e2d4c-5b6a-4798-8a9b-0c1d2e3f4a5b", body)
	f.Add("", "", []byte(nil))
	f.Add("sha256="+strings.Repeat("g", 64), "x", body)
	src, _ := New(vecSecret, nil)
	f.Fuzz(func(t *testing.T, sig, id string, body []byte) {
		h := http.Header{"X-Hub-Signature": {sig}, "X-Atlassian-Webhook-Identifier": {id}}
		got, err := src.Authenticate(h, body, vecNow)
		if err == nil {
			if !strings.EqualFold(strings.TrimSpace(sig), Sign(vecSecret, body).Get("X-Hub-Signature")) {
				t.Fatalf("accepted a signature that does not match")
			}
			if got.ID != DeliveryID(body) {
				t.Fatalf("delivery id %q is not the signed body's", got.ID)
			}
			if ts, _ := stamp(body); ts.IsZero() || vecNow.Sub(ts).Abs() > time.Hour {
				t.Fatalf("accepted a body whose timestamp is not within an hour")
			}
			return
		}
		var ce *change.Error
		if !errors.As(err, &ce) || ce.Code != change.CodeUnauthenticated {
			t.Fatalf("Authenticate error %v is not CodeUnauthenticated", err)
		}
		if len(sig) >= 8 && strings.Contains(ce.Message, sig) {
			t.Fatalf("message %q quotes the signature", ce.Message)
		}
	})
}

// fixedTexts are the product's own texts and the names src is configured
// with (its field ids and statuses), which a reason may name although the
// input has them too.
func fixedTexts(src *Source) *changetest.Fixed {
	if f, ok := fixedBySource.Load(src); ok {
		return f.(*changetest.Fixed)
	}
	o := src.opts
	names := []string{o.ConfigurationField, o.AssignmentField, o.GroupField, o.FilterField, o.FilterType, o.TargetType,
		o.ApprovalField, o.WindowStartField, o.WindowEndField}
	names = append(names, o.ApprovedStatuses...)
	names = append(names, o.RevertStatuses...)
	f := changetest.FixedTexts(".", names...)
	fixedBySource.Store(src, f)
	return f
}

var fixedBySource sync.Map // *Source -> *changetest.Fixed
