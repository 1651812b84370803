package webhook

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/chat"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/graphemu"
	changerecord "github.com/enrollhook/enrollhook/pkg/record"
)

// droppingGraph, while drop is set, answers every PATCH as a gateway that
// gave up, without sending it: a write whose answer was lost and that did
// not land.
type droppingGraph struct {
	apply.Graph
	drop *atomic.Bool
}

func (g droppingGraph) PatchAssignment(ctx context.Context, cfg, asg string, body any) (*graph.Result, error) {
	if g.drop.Load() {
		return nil, &change.Error{Code: change.CodeUnavailable, Message: "Graph is unavailable; try again later"}
	}
	return g.Graph.PatchAssignment(ctx, cfg, asg, body)
}

// droppingApprovalStack is a rulesStack whose Graph drops the writes
// while the returned flag is set.
func droppingApprovalStack(t *testing.T, slackRule string) (*approvalStack, *atomic.Bool) {
	t.Helper()
	drop := &atomic.Bool{}
	s := newRulesStack(t, slackRule, func(g apply.Graph) apply.Graph { return droppingGraph{Graph: g, drop: drop} })
	return s.approvalStack, drop
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
	s, drop := droppingApprovalStack(t, `{"commands": {"assign": ["*"], "show": ["*"]}, "approvers": ["`+approver+`"]}`)
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
	s, drop := droppingApprovalStack(t, `{"commands": {"assign": ["*"], "show": ["*"]}, "approvers": ["`+approver+`"]}`)
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

// TestAnExpiredRequestAfterALostAnswerSaysItMayBeApplied: a request whose
// approval's write landed with its answer lost, approved again after it
// expired, is refused as expired, and the reply says the change may be in
// Intune all the same.
func TestAnExpiredRequestAfterALostAnswerSaysItMayBeApplied(t *testing.T) {
	s := newApprovalStack(t)
	id := s.ask(t, requester)
	s.emu.LoseWrites(50, http.StatusGatewayTimeout)
	s.slack(t, approver, "approve "+id)
	s.emu.LoseWrites(0, http.StatusGatewayTimeout)
	s.offset.Store(int64(2 * time.Hour))
	_, text := s.slack(t, approver, "approve "+id)
	if !strings.Contains(text, "expired") || !strings.Contains(text, "may be in Intune") {
		t.Errorf("approving the expired request: %q", text)
	}
}
