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
		for _, v := range changetest.Strings(body) {
			if len(v) < 8 {
				continue
			}
			for _, fe := range ce.Fields {
				if strings.Contains(fe.Reason, v) && !strings.Contains(fixedText, v) {
					t.Fatalf("reason %q quotes the input value %q", fe.Reason, v)
				}
			}
			if strings.Contains(ce.Message, v) && !strings.Contains(fixedText, v) {
				t.Fatalf("message %q quotes the input value %q", ce.Message, v)
			}
		}
	})
}

// fixedText holds the words a message may contain although the input also
// has them (the known states are named back on purpose).
var fixedText = strings.Join(knownStates, " ") + strings.Join(intuneKeys, ", ") + fixedTargetText() + " data approval record intune sys_id state sys_mod_count approver number table requested_by url the sysapproval_approver record the approved record" +
	" the approval state is not approved; only approved changes are applied, nothing was changed the record's approval (other approvals are outstanding)" +
	reasonLeftOut + reasonApplyInBackOut + reasonDateTime + " start_date end_date: a change window has a start and an end must be apply or revert"

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

func fixedTargetText() string {
	var b strings.Builder
	for k, v := range change.ShortTypes {
		b.WriteString(k + " " + v + " ")
	}
	for k := range change.Subtypes {
		b.WriteString(k + " ")
	}
	b.WriteString("groupId collectionId targetType entraObjectId filterId filterType deviceAndAppManagementAssignmentFilterId deviceAndAppManagementAssignmentFilterType @odata.type")
	return b.String()
}
