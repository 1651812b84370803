package webhook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/chat"
	"github.com/enrollhook/enrollhook/pkg/chatrequest"
	"github.com/enrollhook/enrollhook/pkg/graphemu"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/policy"
	changerecord "github.com/enrollhook/enrollhook/pkg/record"
	"github.com/enrollhook/enrollhook/pkg/source/generic"
	"github.com/enrollhook/enrollhook/pkg/source/slack"
)

// proxiedApprovalStack is newApprovalStack with Graph behind a proxy that,
// while drop is set, answers every PATCH 504 without forwarding it: a
// write whose answer was lost and that did NOT land.
func proxiedApprovalStack(t *testing.T, slackRule string) (*approvalStack, *atomic.Bool) {
	t.Helper()
	sharedEmulator(t)
	drop := &atomic.Bool{}
	u, _ := url.Parse(emuSrv.URL)
	rp := httputil.NewSingleHostReverseProxy(u)
	px := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if drop.Load() && r.Method == http.MethodPatch {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusGatewayTimeout)
			_, _ = w.Write([]byte(`{"error":{"code":"GatewayTimeout","message":"gateway gave up"}}`))
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(px.Close)
	gc, e, logs, log := emulatorClient(t, px.URL+"/beta", 2)
	sl, err := slack.New(chatSlackSecret, &slack.Options{
		Allow:        chat.Allowlist{Tenant: "T0001", Users: []string{requester, approver, bystander, espApprover}},
		AnswerWithin: 5 * time.Second, AllowLoopbackResponseURL: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Parse([]byte(`{"version": 1, "chat": {"slack": `+slackRule+`}}`), "test", false)
	if err != nil {
		t.Fatal(err)
	}
	offset := &atomic.Int64{}
	recs := changerecord.NewMemory(nil)
	reqs := chatrequest.NewMemory(&chatrequest.Options{Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
	gen, _ := generic.New(testSecret, 5*time.Minute)
	h := newTestHandler(gc, []Source{sl, gen}, &testOptions{Now: func() time.Time { return testNow }, Logger: log, Timeout: 3 * time.Second,
		Store: idempotency.NewMemory(nil, 0), Policy: pol, Records: recs, Requests: reqs})
	as := &approvalStack{stack: &stack{h: h, emu: e, logs: logs}, recs: recs, offset: offset}
	as.hook = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(as.hook.Close)
	t.Cleanup(func() { _ = h.Wait(context.Background()) })
	return as, drop
}

const platformBody = `{"ticket":{"id":"CHG0077777","system":"servicenow","state":"approved","requestedBy":"carol@contoso.com","approvedBy":"dave@contoso.com"},` +
	`"configurationId":"` + graphemu.ConfigESP + `","assignmentId":"` + graphemu.AssignmentESPGroup + `",` +
	`"assignment":{"target":{"@odata.type":"microsoft.graph.groupAssignmentTarget","groupId":"` + graphemu.GroupPlatform + `","deviceAndAppManagementAssignmentFilterType":"none"}}}`

// TestAnApprovalAfterALostAnswerDoesNotClaimAnotherChange: an approval
// whose write got no answer and did not land; an ITSM ticket then makes
// the same change (recorded). The next approval does not claim that change
// as its own: it is refused drifted, naming it, and nothing more is
// recorded.
func TestAnApprovalAfterALostAnswerDoesNotClaimAnotherChange(t *testing.T) {
	s, drop := proxiedApprovalStack(t, `{"commands": {"assign": ["*"], "show": ["*"]}, "approvers": ["`+approver+`"]}`)
	id := s.ask(t, requester)
	drop.Store(true)
	outcome, text := s.slack(t, approver, "approve "+id)
	drop.Store(false)
	if !strings.Contains(text, "outcome is unknown") || targetOf(t, s.emu)["groupId"] != graphemu.GroupCorporate {
		t.Fatalf("first approval: %s %q, target %v", outcome, text, targetOf(t, s.emu))
	}
	if w := s.serve(t, signedID(t, "msg_other_ticket", platformBody, testNow)); w.Code != http.StatusOK {
		t.Fatalf("ITSM change: %d %s", w.Code, w.Body)
	}
	outcome, text = s.slack(t, approver, "approve "+id)
	recs, _ := s.recs.ByAssignment(context.Background(), graphemu.ConfigESP, graphemu.AssignmentESPGroup, 10)
	for _, r := range recs {
		t.Logf("record %s ticket %s time %s before %s after %s", r.ID, r.Ticket.ID, r.Time.Format(time.RFC3339Nano), r.Before, r.After)
	}
	if outcome == string(chat.StatusApplied) || len(recs) != 1 || !strings.Contains(text, "CHG0077777") {
		t.Errorf("second approval: %s %q; %d records of one Graph change (want drifted naming CHG0077777, 1 record)", outcome, text, len(recs))
	}
}

// TestARejectAfterALostAnswerSaysItMayBeApplied: a reject of a request
// whose earlier approval's write landed with its answer lost does not say
// nothing was changed: it says the change may be in Intune.
func TestARejectAfterALostAnswerSaysItMayBeApplied(t *testing.T) {
	s := newApprovalStack(t)
	id := s.ask(t, requester)
	s.emu.LoseWrites(50, http.StatusGatewayTimeout)
	_, text := s.slack(t, approver, "approve "+id)
	s.emu.LoseWrites(0, http.StatusGatewayTimeout)
	if !strings.Contains(text, "outcome is unknown") {
		t.Fatalf("first approval: %q", text)
	}
	if targetOf(t, s.emu)["groupId"] != graphemu.GroupPlatform {
		t.Fatalf("the lost write did not land: %v", targetOf(t, s.emu))
	}
	_, text = s.slack(t, approver, "reject "+id)
	if strings.Contains(text, "nothing was changed") || !strings.Contains(text, "may be in Intune") || !strings.Contains(text, "`show`") {
		t.Errorf("reject says %q while Graph holds the change", text)
	}
}

// TestAChangeFoundAppliedIsRecordedWithItsApprover: a change an earlier
// approval's write made, found applied on a later approval by another
// approver, is recorded as approved by the one whose write it was.
func TestAChangeFoundAppliedIsRecordedWithItsApprover(t *testing.T) {
	s := newApprovalStack(t, `{"commands": {"assign": ["*"], "show": ["*"]}, "approvers": ["`+approver+`", "`+espApprover+`"]}`)
	id := s.ask(t, requester)
	s.emu.LoseWrites(50, http.StatusGatewayTimeout)
	s.slack(t, approver, "approve "+id)
	s.emu.LoseWrites(0, http.StatusGatewayTimeout)
	outcome, _ := s.slack(t, espApprover, "approve "+id)
	recs, _ := s.recs.ByAssignment(context.Background(), graphemu.ConfigESP, graphemu.AssignmentESPGroup, 10)
	if outcome != string(chat.StatusApplied) || len(recs) != 1 {
		t.Fatalf("%s, %d records", outcome, len(recs))
	}
	if recs[0].Ticket.ApprovedByID != approver {
		t.Errorf("record approved by %s; the write that landed was approved by %s", recs[0].Ticket.ApprovedByID, approver)
	}
}

const corporateNoneBody = `{"ticket":{"id":"CHG0088888","system":"servicenow","state":"approved","requestedBy":"carol@contoso.com","approvedBy":"dave@contoso.com"},` +
	`"configurationId":"` + graphemu.ConfigESP + `","assignmentId":"` + graphemu.AssignmentESPGroup + `",` +
	`"assignment":{"target":{"@odata.type":"microsoft.graph.groupAssignmentTarget","groupId":"` + graphemu.GroupCorporate + `","deviceAndAppManagementAssignmentFilterType":"none"}}}`

// TestARevertAfterALostAnswerDoesNotClaimAnotherChange: a chat revert
// whose approval's write did not land; another ticket then sets what the
// revert would. The next approval does not record a revert that did not
// happen: it is refused, and the change stays revertible.
func TestARevertAfterALostAnswerDoesNotClaimAnotherChange(t *testing.T) {
	s, drop := proxiedApprovalStack(t, `{"commands": {"assign": ["*"], "show": ["*"]}, "approvers": ["`+approver+`"]}`)
	if w := s.serve(t, signedID(t, "msg_rev_claim", validBody, testNow)); w.Code != http.StatusOK {
		t.Fatalf("apply: %d %s", w.Code, w.Body)
	}
	_, text := s.slack(t, requester, "revert CHG0030042")
	m := requestIDRe.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("chat revert: %q", text)
	}
	drop.Store(true)
	_, text = s.slack(t, approver, "approve "+m[1])
	drop.Store(false)
	if !strings.Contains(text, "outcome is unknown") {
		t.Fatalf("first approval: %q", text)
	}
	if w := s.serve(t, signedID(t, "msg_other_revertish", corporateNoneBody, testNow)); w.Code != http.StatusOK {
		t.Fatalf("ITSM change: %d %s", w.Code, w.Body)
	}
	outcome, text := s.slack(t, approver, "approve "+m[1])
	if outcome == string(chat.StatusApplied) {
		t.Errorf("second approval answers %s %q: a revert recorded that another ticket's change did", outcome, text)
	}
	recs, err := s.recs.ByTicket(context.Background(), "generic", "CHG0030042")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Action == changerecord.ActionRevert {
			t.Errorf("a revert of CHG0030042 is recorded (%s), though its write did not land", r.ID)
		}
	}
}

// TestAFailedApprovalAfterALostAnswerIsUnknown: approved again after a
// write whose answer was lost (and which landed), an approval that fails
// before writing anything (Graph unavailable for its read) does not say
// the change was not applied: the earlier write may have landed.
func TestAFailedApprovalAfterALostAnswerIsUnknown(t *testing.T) {
	s := newApprovalStack(t)
	id := s.ask(t, requester)
	s.emu.LoseWrites(50, http.StatusGatewayTimeout)
	s.slack(t, approver, "approve "+id)
	s.emu.LoseWrites(0, http.StatusGatewayTimeout)
	s.emu.Fail(100, http.StatusServiceUnavailable)
	_, text := s.slack(t, approver, "approve "+id)
	s.emu.Fail(0, http.StatusServiceUnavailable)
	if !strings.HasPrefix(text, "The outcome is unknown") || strings.Contains(text, "not applied") {
		t.Errorf("the failed approval after a lost answer: %q", text)
	}
}
