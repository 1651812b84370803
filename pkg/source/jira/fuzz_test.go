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
	for _, v := range changetest.Strings(body) {
		if len(v) < 8 || strings.Contains(fixedText, v) {
			continue
		}
		if strings.Contains(ce.Message, v) {
			t.Fatalf("message %q quotes the input value %q", ce.Message, v)
		}
		for _, fe := range ce.Fields {
			if strings.Contains(fe.Reason, v) {
				t.Fatalf("reason %q quotes the input value %q", fe.Reason, v)
			}
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

// fixedText: words of our own messages and field names.
var fixedText = func() string {
	var b strings.Builder
	for k, v := range change.ShortTypes {
		b.WriteString(k + " " + v + " ")
	}
	for k := range change.Subtypes {
		b.WriteString(k + " ")
	}
	b.WriteString("must be a Jira webhook event (webhookEvent, issue, changelog) or the generic envelope (ticket, configurationId, assignmentId, assignment) ")
	b.WriteString("this Jira event does not approve the issue: it neither moves it into an approved or revert status nor changes its approval field to approved; nothing was changed ")
	b.WriteString(reasonDateTime + " is required with : a change window has a start and an end ")
	b.WriteString("this Jira event is not an issue update (webhookEvent " + EventIssueUpdated + "); only the update that approves the issue changes anything; nothing was changed ")
	b.WriteString("separation of duties: the user who approved this issue is its reporter, and a requester cannot approve their own change; nothing was changed. Have another person approve it, and restrict in the Jira workflow who may approve ")
	b.WriteString("separation of duties: the user who approved this issue created it (for its reporter), and whoever raised a change cannot approve it; nothing was changed. ")
	b.WriteString("the ticket state is " + strings.Join(change.TicketStates(), " ") + " not approved; only approved changes are applied, nothing was changed ")
	b.WriteString("groupId collectionId targetType entraObjectId filterId filterType deviceAndAppManagementAssignmentFilterId deviceAndAppManagementAssignmentFilterType @odata.type source sourceId ")
	b.WriteString("the body is not well-formed JSON; the request has invalid fields; unknown property; allowed: ")
	return b.String()
}()
