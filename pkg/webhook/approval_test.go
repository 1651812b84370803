package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
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
	"github.com/enrollhook/enrollhook/pkg/source/teams"
)

// The people of the two-person tests: a requester, the approver the
// policy names, and a user the allow-list admits who is not an approver.
const (
	requester   = "U0456EFGH"
	approver    = "U0APPROVE"
	bystander   = "U0OTHERXX"
	teamsApprov = "0a1b2c3d-0000-0000-0000-0000000000ab"
	espApprover = "U0ESPAPPR"
)

type approvalStack struct {
	*stack
	recs   changerecord.Store
	reqs   *finishing
	offset *atomic.Int64 // the request store's clock runs this far ahead
	// hook is the commands' response_url (on loopback): what the
	// requester's conversation is told.
	hook  *httptest.Server
	mu    sync.Mutex
	posts []string
}

// finishing is the request store, whose Finish fails while lose is set:
// an approval frozen after it recorded its change, before its mark.
type finishing struct {
	chatrequest.Store
	lose atomic.Bool
	// beforeRetake and afterRetake, when set, run before a Retake, and
	// after one that succeeded; beforeReopen before a Reopen.
	beforeRetake, afterRetake, beforeReopen func()
}

func (f *finishing) Reopen(ctx context.Context, id, by string, decided, attempted time.Time, recordID string) (*chatrequest.Request, error) {
	if f.beforeReopen != nil {
		f.beforeReopen()
	}
	return f.Store.Reopen(ctx, id, by, decided, attempted, recordID)
}

func (f *finishing) Retake(ctx context.Context, id, by string, decided time.Time) (*chatrequest.Request, error) {
	if f.beforeRetake != nil {
		f.beforeRetake()
	}
	r, err := f.Store.Retake(ctx, id, by, decided)
	if err == nil && f.afterRetake != nil {
		f.afterRetake()
	}
	return r, err
}

func (f *finishing) Finish(ctx context.Context, id, by string, decided time.Time) (*chatrequest.Request, error) {
	if f.lose.Load() {
		return nil, errors.New("finish lost")
	}
	return f.Store.Finish(ctx, id, by, decided)
}

// records counts the change records of a chat request (its id is their
// ticket).
func (s *approvalStack) records(t *testing.T, id string) int {
	t.Helper()
	recs, err := s.recs.ByTicket(context.Background(), "slack", id)
	if err != nil {
		t.Fatal(err)
	}
	return len(recs)
}

func (s *approvalStack) told() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.posts, "\n")
}

// newApprovalStack: Slack and Teams against the emulator, with a policy
// that names approvers (so assign is a request), a request store on a
// chosen clock, the change record and de-duplication.
func newApprovalStack(t *testing.T, slackPolicy ...string) *approvalStack {
	t.Helper()
	slackRule := `{"commands": {"assign": ["*"], "show": ["*"]}, "approvers": ["` + approver + `"]}`
	if len(slackPolicy) > 0 {
		slackRule = slackPolicy[0]
	}
	gc, e, logs, log := emulatorClient(t, "", 2)
	sl, err := slack.New(chatSlackSecret, &slack.Options{
		Allow:        chat.Allowlist{Tenant: "T0001", Users: []string{requester, approver, bystander, espApprover}},
		AnswerWithin: 5 * time.Second, AllowLoopbackResponseURL: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	tm, err := teams.New(chatTeamsToken, &teams.Options{
		Allow: chat.Allowlist{Tenant: chatTenant, Users: []string{chatAAD, teamsApprov}}, AnswerWithin: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Parse([]byte(`{"version": 1, "chat": {
  "slack": `+slackRule+`,
  "teams": {"commands": {"assign": ["*"], "show": ["*"]}, "approvers": ["`+teamsApprov+`"]}}}`), "test", false)
	if err != nil {
		t.Fatal(err)
	}
	offset := &atomic.Int64{}
	recs := changerecord.NewMemory(nil)
	reqs := &finishing{Store: chatrequest.NewMemory(&chatrequest.Options{Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})}
	gen, _ := generic.New(testSecret, 5*time.Minute)
	h := newTestHandler(gc, []Source{sl, tm, gen}, &testOptions{Now: func() time.Time { return testNow }, Logger: log, Timeout: 3 * time.Second,
		Store: idempotency.NewMemory(nil, 0), Policy: pol, Records: recs, Requests: reqs})
	as := &approvalStack{stack: &stack{h: h, emu: e, logs: logs}, recs: recs, reqs: reqs, offset: offset}
	as.hook = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		as.mu.Lock()
		as.posts = append(as.posts, string(b))
		as.mu.Unlock()
	}))
	t.Cleanup(as.hook.Close)
	t.Cleanup(func() { _ = h.Wait(context.Background()) })
	return as
}

var requestIDRe = regexp.MustCompile("Request `([A-Z0-9]{8})`")

// slack sends a signed Slack command from user; it returns the outcome
// header and the reply text.
func (s *approvalStack) slack(t *testing.T, user, text string) (string, string) {
	t.Helper()
	w := s.serve(t, slackRequest(t, slackForm(text, "user_id", user, "response_url", s.hook.URL+"/commands/T0001/1/x"), testNow))
	return w.Header().Get(HeaderOutcome), decodeSlack(t, w).Text
}

func (s *approvalStack) ask(t *testing.T, user string) string {
	t.Helper()
	outcome, text := s.slack(t, user, "assign "+graphemu.ConfigESP+" "+graphemu.AssignmentESPGroup+" group "+graphemu.GroupPlatform)
	m := requestIDRe.FindStringSubmatch(text)
	if outcome != string(chat.StatusRequested) || m == nil {
		t.Fatalf("assign with approvers named: %s %q, want a request", outcome, text)
	}
	return m[1]
}

// TestTwoPersonApproval: with approvers named, a Slack assign is a request
// (the plan, an id, nothing written); another user the policy names
// approves it and it is applied, recorded with requester and approver;
// the requester cannot approve their own, a user not named cannot
// approve, a rejected or expired request is not applied.
func TestTwoPersonApproval(t *testing.T) {
	s := newApprovalStack(t)
	id := s.ask(t, requester)
	if s.emu.Writes() != 0 {
		t.Fatalf("a request wrote to Graph")
	}
	if outcome, text := s.slack(t, requester, "approve "+id); outcome != string(chat.StatusRefused) || !strings.Contains(text, "cannot approve") {
		t.Errorf("self-approval: %s %q", outcome, text)
	}
	if outcome, text := s.slack(t, bystander, "approve "+id); outcome != string(chat.StatusRefused) || !strings.Contains(text, "approvers") {
		t.Errorf("approval by a user the policy does not name: %s %q", outcome, text)
	}
	if s.emu.Writes() != 0 {
		t.Fatalf("a refused approval wrote to Graph")
	}
	outcome, text := s.slack(t, approver, "approve "+strings.ToLower(id))
	if outcome != string(chat.StatusApplied) || !strings.Contains(text, "approved by `"+approver+"`") || !strings.Contains(text, requester) {
		t.Fatalf("approval: %s %q", outcome, text)
	}
	if s.emu.Writes() != 1 || targetOf(t, s.emu)["groupId"] != graphemu.GroupPlatform {
		t.Errorf("after the approval: %d writes, target %v", s.emu.Writes(), targetOf(t, s.emu))
	}
	_ = s.h.Wait(context.Background())
	if !strings.Contains(s.told(), "approved by") {
		t.Errorf("the request's conversation was not told the outcome: %q", s.told())
	}
	got, _ := s.recs.ByTicket(t.Context(), "slack", id)
	if len(got) != 1 || got[0].Ticket.RequestedByID != requester || got[0].Ticket.ApprovedByID != approver {
		t.Errorf("the change record = %+v, want the request with requester and approver", got)
	}
	if outcome, text := s.slack(t, approver, "approve "+id); outcome != string(chat.StatusFailed) || !strings.Contains(text, "already") {
		t.Errorf("approving twice: %s %q", outcome, text)
	}
	// Rejected, then approved: not applied.
	id = s.ask(t, requester)
	if outcome, _ := s.slack(t, approver, "reject "+id); outcome != string(chat.StatusRejected) {
		t.Errorf("reject: %s", outcome)
	}
	if outcome, text := s.slack(t, approver, "approve "+id); outcome != string(chat.StatusFailed) || !strings.Contains(text, "rejected") {
		t.Errorf("approving a rejected request: %s %q", outcome, text)
	}
	// Expired: the store's clock past the hour.
	id = s.ask(t, requester)
	s.offset.Store(int64(2 * time.Hour))
	if outcome, text := s.slack(t, approver, "approve "+id); outcome != string(chat.StatusFailed) || !strings.Contains(text, "expired") {
		t.Errorf("approving an expired request: %s %q", outcome, text)
	}
	s.offset.Store(0)
	if s.emu.Writes() != 1 {
		t.Errorf("%d writes, want the one approved change only", s.emu.Writes())
	}
}

// TestConcurrentApprovalsWriteOnce: ten approvals of one request at once
// (ten deliveries) apply it once.
func TestConcurrentApprovalsWriteOnce(t *testing.T) {
	s := newApprovalStack(t)
	id := s.ask(t, requester)
	var wg sync.WaitGroup
	outcomes := make([]string, 10)
	for i := range outcomes {
		wg.Go(func() {
			w := httptest.NewRecorder()
			s.h.ServeHTTP(w, slackRequest(t, slackForm("approve "+id, "user_id", approver, "response_url", s.hook.URL+"/commands/T0001/2/x"), testNow))
			outcomes[i] = w.Header().Get(HeaderOutcome)
		})
	}
	wg.Wait()
	applied := 0
	for _, o := range outcomes {
		if o == string(chat.StatusApplied) {
			applied++
		}
	}
	if applied != 1 || s.emu.Writes() != 1 {
		t.Errorf("10 concurrent approvals: %d applied (%v), %d writes; want 1 and 1", applied, outcomes, s.emu.Writes())
	}
}

// TestApprovalAfterDrift: when Graph changed between the request and the
// approval, the approval is refused and nothing is written.
func TestApprovalAfterDrift(t *testing.T) {
	s := newApprovalStack(t)
	id := s.ask(t, requester)
	if w := s.serve(t, signedID(t, "msg_drift", withTicket("CHG0030111", graphemu.GroupExcluded), testNow)); w.Code != http.StatusOK {
		t.Fatalf("the other change: %d %s", w.Code, w.Body)
	}
	writes := s.emu.Writes()
	outcome, text := s.slack(t, approver, "approve "+id)
	if outcome != string(chat.StatusFailed) || !strings.Contains(text, "changed since") || s.emu.Writes() != writes {
		t.Errorf("approval after drift: %s %q, %d new writes", outcome, text, s.emu.Writes()-writes)
	}
}

// TestTeamsTwoPersonApproval: the same on Teams, where approve is a text
// command (no buttons).
func TestTeamsTwoPersonApproval(t *testing.T) {
	s := newApprovalStack(t)
	w := s.serve(t, teamsRequest(t, teamsActivity("assign "+graphemu.ConfigESP+" "+graphemu.AssignmentESPGroup+" group "+graphemu.GroupPlatform, testNow)))
	m := requestIDRe.FindStringSubmatch(decodeTeams(t, w))
	if m == nil {
		t.Fatalf("Teams assign: %s", w.Body)
	}
	fromApprover := func(a map[string]any) {
		a["from"] = map[string]any{"id": "29:2ghiJKL", "name": "Bob", "aadObjectId": teamsApprov}
	}
	w = s.serve(t, teamsRequest(t, teamsActivity("approve "+m[1], testNow, fromApprover)))
	if w.Header().Get(HeaderOutcome) != string(chat.StatusApplied) || s.emu.Writes() != 1 {
		t.Errorf("Teams approval: %s %s, %d writes", w.Header().Get(HeaderOutcome), w.Body, s.emu.Writes())
	}
}

// TestApproveButton: the request's Approve button, pressed by the approver
// (a signed Slack interactivity payload to the same route), applies the
// change, and the outcome is posted to the press's response_url, since
// Slack shows nothing of the HTTP answer to a press.
func TestApproveButton(t *testing.T) {
	s := newApprovalStack(t)
	id := s.ask(t, requester)
	var mu sync.Mutex
	var posts []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		posts = append(posts, string(b))
		mu.Unlock()
	}))
	defer hook.Close()
	payload, _ := json.Marshal(map[string]any{
		"type": "block_actions", "trigger_id": nextID("press."), "response_url": hook.URL + "/actions/T0001/1/x",
		"user": map[string]any{"id": approver, "username": "bob"}, "team": map[string]any{"id": "T0001"},
		"container": map[string]any{"message_ts": "1714032000.000100"},
		"actions":   []any{map[string]any{"type": "button", "action_id": "enrollhook-action-0", "value": "approve " + id, "action_ts": "1714032001.0001"}},
	})
	body := url.Values{"payload": {string(payload)}}.Encode()
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, slackRequest(t, body, testNow))
	if w.Code != http.StatusOK || w.Header().Get(HeaderOutcome) != string(chat.StatusApplied) || s.emu.Writes() != 1 {
		t.Fatalf("press: %d %s %s, %d writes", w.Code, w.Header().Get(HeaderOutcome), w.Body, s.emu.Writes())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(posts) == 0 || !strings.Contains(strings.Join(posts, "\n"), "approved by") {
		t.Errorf("posts to the press's response_url = %q, want the outcome", posts)
	}
}

// TestTwoPersonRevert: with approvers named, a chat revert is a request
// too; it is done when another user approves it.
func TestTwoPersonRevert(t *testing.T) {
	s := newApprovalStack(t)
	seed := targetOf(t, s.emu)
	if w := s.serve(t, signedID(t, "msg_rev_apply", validBody, testNow)); w.Code != http.StatusOK {
		t.Fatalf("apply: %d %s", w.Code, w.Body)
	}
	outcome, text := s.slack(t, requester, "revert CHG0030042")
	m := requestIDRe.FindStringSubmatch(text)
	if outcome != string(chat.StatusRequested) || m == nil || s.emu.Writes() != 1 {
		t.Fatalf("chat revert with approvers named: %s %q, %d writes", outcome, text, s.emu.Writes())
	}
	if outcome, _ := s.slack(t, requester, "approve "+m[1]); outcome != string(chat.StatusRefused) {
		t.Errorf("self-approval of the revert: %s", outcome)
	}
	outcome, text = s.slack(t, approver, "approve "+m[1])
	if outcome != string(chat.StatusApplied) || !strings.Contains(text, "reverted") {
		t.Fatalf("approval of the revert: %s %q", outcome, text)
	}
	if now := targetOf(t, s.emu); now["deviceAndAppManagementAssignmentFilterType"] != seed["deviceAndAppManagementAssignmentFilterType"] || s.emu.Writes() != 2 {
		t.Errorf("after the approved revert: %v, %d writes", now, s.emu.Writes())
	}
}

// TestAnApprovalThatNeverFinishedIsTakenOver: an approval whose sandbox
// froze before it wrote anything leaves its request approved, unfinished;
// while it may still run, another approval is told it was approved already
// (and when to try again), and nothing is written; past any invoke's life
// the next approval takes its place and applies the change, once, even
// when two take over at once; past the request's expiry it is not taken
// over, and says so. An approval that finished is never taken over.
func TestAnApprovalThatNeverFinishedIsTakenOver(t *testing.T) {
	frozen := func(t *testing.T, s *approvalStack, ago time.Duration) string {
		t.Helper()
		id := s.ask(t, requester)
		s.offset.Store(int64(-ago))
		if _, err := s.reqs.Decide(context.Background(), id, chatrequest.StateApproved, approver, "slack:T0001/"+approver); err != nil {
			t.Fatal(err)
		}
		s.offset.Store(0)
		return id
	}
	t.Run("still within an invoke's life", func(t *testing.T) {
		s := newApprovalStack(t)
		id := frozen(t, s, 5*time.Minute)
		outcome, text := s.slack(t, approver, "approve "+id)
		if outcome == string(chat.StatusApplied) || !strings.Contains(text, "approved already") || !strings.Contains(text, "approve it again after") || s.emu.Writes() != 0 {
			t.Errorf("approve again: %s %q, %d writes; want approved already, nothing written", outcome, text, s.emu.Writes())
		}
	})
	t.Run("past it, two at once", func(t *testing.T) {
		s := newApprovalStack(t)
		id := frozen(t, s, 20*time.Minute)
		var wg sync.WaitGroup
		texts := make([]string, 2)
		for i := range texts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, texts[i] = s.slack(t, approver, "approve "+id)
			}()
		}
		wg.Wait()
		took := 0
		for _, text := range texts {
			if strings.Contains(text, "never finished, so this approval took its place") {
				took++
			}
		}
		if took != 1 || s.emu.Writes() != 1 {
			t.Fatalf("two approvals taking over: %q, %d writes; want one to apply the change, once", texts, s.emu.Writes())
		}
		if r, err := s.reqs.Get(context.Background(), id); err != nil || r.Finished.IsZero() {
			t.Errorf("after the takeover: %+v, %v; want it marked finished", r, err)
		}
	})
	t.Run("retaken first by another, not decided yet", func(t *testing.T) {
		s := newApprovalStack(t)
		id := frozen(t, s, 20*time.Minute)
		s.reqs.beforeRetake = func() {
			s.reqs.beforeRetake = nil
			r, err := s.reqs.Get(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.reqs.Store.Retake(context.Background(), id, r.DecidedBy, r.Decided); err != nil {
				t.Fatal(err)
			}
		}
		if outcome, text := s.slack(t, approver, "approve "+id); outcome != string(chat.StatusApplied) || s.emu.Writes() != 1 {
			t.Errorf("approve after another's retake: %s %q, %d writes; want it decided and applied", outcome, text, s.emu.Writes())
		}
	})
	t.Run("its change recorded long before", func(t *testing.T) {
		// A change found applied is recorded at its attempt's time,
		// which may be long before the approval that recorded it.
		s := newApprovalStack(t)
		id := frozen(t, s, 20*time.Minute)
		if err := s.recs.Put(context.Background(), &changerecord.Record{ID: "slack:found", Action: changerecord.ActionApply, Sender: "slack",
			Ticket: changerecord.Ticket{ID: id}, ConfigurationID: graphemu.ConfigESP, AssignmentID: graphemu.AssignmentESPGroup,
			Before: json.RawMessage("null"), After: json.RawMessage(`{"id":"x"}`), Time: time.Now().Add(-50 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
		outcome, text := s.slack(t, approver, "approve "+id)
		if outcome == string(chat.StatusApplied) || !strings.Contains(text, "its change is recorded") || s.emu.Writes() != 0 || s.records(t, id) != 1 {
			t.Errorf("approve: %s %q, %d writes, %d records; want it seen finished", outcome, text, s.emu.Writes(), s.records(t, id))
		}
	})
	t.Run("the frozen approval thawed after it", func(t *testing.T) {
		// The frozen approval resumes (its sandbox served another invoke)
		// past its deadline and fails; by then another approval has taken
		// its place: it reopens nothing, and tells the requester nothing.
		s := newApprovalStack(t)
		id := s.ask(t, requester)
		s.emu.Fail(50, http.StatusServiceUnavailable)
		s.reqs.beforeReopen = func() {
			s.reqs.beforeReopen = nil
			r, err := s.reqs.Get(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.reqs.Store.Retake(context.Background(), id, r.DecidedBy, r.Decided); err != nil {
				t.Fatal(err)
			}
			if _, err := s.reqs.Store.Decide(context.Background(), id, chatrequest.StateApproved, espApprover, "slack:T0001/"+espApprover); err != nil {
				t.Fatal(err)
			}
		}
		told := s.told()
		outcome, text := s.slack(t, approver, "approve "+id)
		if outcome == string(chat.StatusApplied) || !strings.Contains(text, "another approval has taken its place") || strings.Contains(text, "open again") {
			t.Errorf("the thawed approval: %s %q", outcome, text)
		}
		if s.told() != told {
			t.Errorf("the requester was told: %q", strings.TrimPrefix(s.told(), told))
		}
		if r, err := s.reqs.Get(context.Background(), id); err != nil || r.State != chatrequest.StateApproved || r.DecidedBy != espApprover {
			t.Errorf("after it: %+v, %v; want the other approval's decision standing", r, err)
		}
	})
	t.Run("expiring once retaken", func(t *testing.T) {
		s := newApprovalStack(t)
		id := frozen(t, s, 20*time.Minute)
		s.reqs.afterRetake = func() { s.offset.Store(int64(2 * time.Hour)) }
		outcome, text := s.slack(t, approver, "approve "+id)
		if outcome == string(chat.StatusApplied) || !strings.Contains(text, "has expired") || !strings.Contains(text, "may be in Intune") || s.emu.Writes() != 0 {
			t.Errorf("approve expiring once retaken: %s %q, %d writes", outcome, text, s.emu.Writes())
		}
	})
	t.Run("past the request's expiry", func(t *testing.T) {
		s := newApprovalStack(t)
		id := frozen(t, s, 20*time.Minute)
		s.offset.Store(int64(2 * time.Hour))
		outcome, text := s.slack(t, approver, "approve "+id)
		if outcome == string(chat.StatusApplied) || !strings.Contains(text, "never finished and the request has expired") || s.emu.Writes() != 0 {
			t.Errorf("approve after the expiry: %s %q, %d writes", outcome, text, s.emu.Writes())
		}
		if r, err := s.reqs.Get(context.Background(), id); err != nil || r.State != chatrequest.StateApproved {
			t.Errorf("after it: %+v, %v; want the request left approved", r, err)
		}
	})
}

// TestAFinishedApprovalIsNeverTakenOver: approvals that finished (applied,
// found applied after a lost answer, a revert) are marked so: an approve
// past any invoke's life is told they were approved already, and nothing
// is written or recorded again.
func TestAFinishedApprovalIsNeverTakenOver(t *testing.T) {
	// Each approval is given 20 minutes ago (the request store's clock),
	// then approved again now.
	ago := int64(-20 * time.Minute)
	t.Run("applied", func(t *testing.T) {
		s := newApprovalStack(t)
		id := s.ask(t, requester)
		s.offset.Store(ago)
		if outcome, text := s.slack(t, approver, "approve "+id); outcome != string(chat.StatusApplied) {
			t.Fatalf("approval: %s %q", outcome, text)
		}
		s.offset.Store(0)
		if outcome, text := s.slack(t, approver, "approve "+id); outcome == string(chat.StatusApplied) || !strings.Contains(text, "approved already") ||
			strings.Contains(text, "never finished") || s.emu.Writes() != 1 || s.records(t, id) != 1 {
			t.Errorf("approving it again: %s %q, %d writes, %d records", outcome, text, s.emu.Writes(), s.records(t, id))
		}
	})
	t.Run("found applied after a lost answer", func(t *testing.T) {
		s := newApprovalStack(t)
		id := s.ask(t, requester)
		s.offset.Store(ago)
		s.emu.LoseWrites(50, http.StatusGatewayTimeout)
		s.slack(t, approver, "approve "+id)
		s.emu.LoseWrites(0, http.StatusGatewayTimeout)
		if outcome, text := s.slack(t, approver, "approve "+id); outcome != string(chat.StatusApplied) {
			t.Fatalf("approving again after the lost answer: %s %q", outcome, text)
		}
		writes, recs := s.emu.Writes(), s.records(t, id)
		s.offset.Store(0)
		if outcome, text := s.slack(t, approver, "approve "+id); outcome == string(chat.StatusApplied) || !strings.Contains(text, "approved already") ||
			s.emu.Writes() != writes || s.records(t, id) != recs {
			t.Errorf("approving it again: %s %q, %d writes (want %d), %d records (want %d)", outcome, text, s.emu.Writes(), writes, s.records(t, id), recs)
		}
	})
	t.Run("applied, its mark lost", func(t *testing.T) {
		s := newApprovalStack(t)
		id := s.ask(t, requester)
		s.offset.Store(ago)
		s.reqs.lose.Store(true)
		if outcome, text := s.slack(t, approver, "approve "+id); outcome != string(chat.StatusApplied) {
			t.Fatalf("approval: %s %q", outcome, text)
		}
		s.reqs.lose.Store(false)
		s.offset.Store(0)
		outcome, text := s.slack(t, approver, "approve "+id)
		if outcome == string(chat.StatusApplied) || !strings.Contains(text, "its change is recorded") || strings.Contains(text, "open again") ||
			s.emu.Writes() != 1 || s.records(t, id) != 1 {
			t.Errorf("approving it again: %s %q, %d writes, %d records", outcome, text, s.emu.Writes(), s.records(t, id))
		}
		if r, err := s.reqs.Get(context.Background(), id); err != nil || r.State != chatrequest.StateApproved || r.Finished.IsZero() {
			t.Errorf("after it: %+v, %v; want it approved, marked finished now", r, err)
		}
	})
	t.Run("a revert", func(t *testing.T) {
		s := newApprovalStack(t)
		id := s.ask(t, requester)
		s.offset.Store(ago)
		s.slack(t, approver, "approve "+id)
		_, text := s.slack(t, requester, "revert "+id)
		m := requestIDRe.FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("revert: %q", text)
		}
		if outcome, text := s.slack(t, approver, "approve "+m[1]); outcome != string(chat.StatusApplied) {
			t.Fatalf("approval of the revert: %s %q", outcome, text)
		}
		s.offset.Store(0)
		if outcome, text := s.slack(t, approver, "approve "+m[1]); outcome == string(chat.StatusApplied) || !strings.Contains(text, "approved already") ||
			strings.Contains(text, "open again") || s.emu.Writes() != 2 {
			t.Errorf("approving the revert again: %s %q, %d writes", outcome, text, s.emu.Writes())
		}
	})
}

// TestRevertOfAChatRequest: a two-person chat change's request id is its
// ticket (history shows it so), and `revert <request id>` puts it back,
// as a revert request the second person approves.
func TestRevertOfAChatRequest(t *testing.T) {
	s := newApprovalStack(t)
	seed := targetOf(t, s.emu)
	id := s.ask(t, requester)
	if outcome, text := s.slack(t, approver, "approve "+id); outcome != string(chat.StatusApplied) || s.emu.Writes() != 1 {
		t.Fatalf("approval: %s %q", outcome, text)
	}
	outcome, text := s.slack(t, requester, "revert "+id)
	m := requestIDRe.FindStringSubmatch(text)
	if outcome != string(chat.StatusRequested) || m == nil || !strings.Contains(text, "puts back") {
		t.Fatalf("revert %s: %s %q, want a revert request that puts the change back", id, outcome, text)
	}
	if outcome, text := s.slack(t, approver, "approve "+m[1]); outcome != string(chat.StatusApplied) || !strings.Contains(text, "reverted") {
		t.Fatalf("approval of the revert: %s %q", outcome, text)
	}
	if now := targetOf(t, s.emu); now["groupId"] != seed["groupId"] || s.emu.Writes() != 2 {
		t.Errorf("after the revert: %v, %d writes; want the seed's group back", now, s.emu.Writes())
	}
}

// TestTwoPersonRevertWhoseAnswerWasLost: an approved chat revert whose
// write landed but whose answer was lost reopens the request; approved
// again, it writes nothing more, answers reverted and records the revert.
func TestTwoPersonRevertWhoseAnswerWasLost(t *testing.T) {
	s := newApprovalStack(t)
	if w := s.serve(t, signedID(t, "msg_rev_lost", validBody, testNow)); w.Code != http.StatusOK {
		t.Fatalf("apply: %d %s", w.Code, w.Body)
	}
	_, text := s.slack(t, requester, "revert CHG0030042")
	m := requestIDRe.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("chat revert: %q", text)
	}
	s.emu.LoseWrites(50, http.StatusGatewayTimeout)
	outcome, text := s.slack(t, approver, "approve "+m[1])
	s.emu.LoseWrites(0, http.StatusGatewayTimeout)
	writes := s.emu.Writes()
	if outcome == string(chat.StatusApplied) || !strings.Contains(text, "outcome is unknown") || writes < 2 {
		t.Fatalf("approval whose answer was lost: %s %q, %d writes", outcome, text, writes)
	}
	outcome, text = s.slack(t, approver, "approve "+m[1])
	if outcome != string(chat.StatusApplied) || !strings.Contains(text, "reverted") || s.emu.Writes() != writes {
		t.Fatalf("approving again: %s %q, %d writes (want reverted, %d)", outcome, text, s.emu.Writes(), writes)
	}
	if _, text := s.slack(t, requester, "revert CHG0030042"); !strings.Contains(strings.ToLower(text), "nothing") {
		t.Errorf("the revert is not recorded: a new revert of the ticket = %q", text)
	}
}

// TestNoDryRunOfDecisions: approve (or revert) sent with a dry-run flag is
// refused, not done for real.
func TestNoDryRunOfDecisions(t *testing.T) {
	s := newApprovalStack(t)
	id := s.ask(t, requester)
	r := slackRequest(t, slackForm("approve "+id, "user_id", approver, "response_url", s.hook.URL+"/commands/T0001/3/x"), testNow)
	r.URL.RawQuery = "dryRun=true"
	w := s.serve(t, r)
	if o := w.Header().Get(HeaderOutcome); o != string(chat.StatusUsage) || s.emu.Writes() != 0 {
		t.Errorf("approve with a dry-run flag: %s, %d writes", o, s.emu.Writes())
	}
}

// TestRevertRequestNeedsTheConfigurationsApprover: a chat revert request
// is approved only by an approver of every configuration its plan puts
// back, whatever the general list says.
func TestRevertRequestNeedsTheConfigurationsApprover(t *testing.T) {
	s := newApprovalStack(t, `{"commands": {"assign": ["*"], "show": ["*"]}, "approvers": ["`+approver+`"],
  "configurationApprovers": {"`+strings.ToLower(graphemu.ConfigESP)+`": ["`+espApprover+`"]}}`)
	if w := s.serve(t, signedID(t, "msg_cfg_apply", validBody, testNow)); w.Code != http.StatusOK {
		t.Fatalf("apply: %d %s", w.Code, w.Body)
	}
	outcome, text := s.slack(t, requester, "revert CHG0030042")
	m := requestIDRe.FindStringSubmatch(text)
	if outcome != string(chat.StatusRequested) || m == nil {
		t.Fatalf("revert request: %s %q", outcome, text)
	}
	if outcome, text := s.slack(t, approver, "approve "+m[1]); outcome != string(chat.StatusRefused) || !strings.Contains(text, graphemu.ConfigESP) {
		t.Errorf("the general approver approving a revert of a configuration with its own approvers: %s %q", outcome, text)
	}
	if outcome, _ := s.slack(t, espApprover, "approve "+m[1]); outcome != string(chat.StatusApplied) || s.emu.Writes() != 2 {
		t.Errorf("the configuration's approver: %s, %d writes", outcome, s.emu.Writes())
	}
}

// TestRequestStoryInTheAudit: the audit log tells a chat request's story:
// requested (who asked, the plan), then applied with requester and
// approver, under the request's id.
func TestRequestStoryInTheAudit(t *testing.T) {
	s := newApprovalStack(t)
	id := s.ask(t, requester)
	if outcome, _ := s.slack(t, approver, "approve "+id); outcome != string(chat.StatusApplied) {
		t.Fatalf("approval: %s", outcome)
	}
	var story []string
	for _, line := range strings.Split(s.logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil || m["msg"] != "audit" || m["ticketId"] != id {
			continue
		}
		story = append(story, fmt.Sprint(m["outcome"], " ", m["requester"], " ", m["approver"]))
	}
	want := []string{"requested slack:T0001/" + requester + " <nil>", "applied slack:T0001/" + requester + " " + approver}
	if len(story) != 2 || story[0] != want[0] || !strings.HasPrefix(story[1], "applied slack:T0001/"+requester) {
		t.Errorf("audit story of %s = %q, want %q", id, story, want)
	}
}

// TestApprovalNotLostWhenGraphFails: an approval whose change Graph could
// not take for now reopens the request, and approving it again applies it.
func TestApprovalNotLostWhenGraphFails(t *testing.T) {
	s := newApprovalStack(t)
	id := s.ask(t, requester)
	s.emu.Fail(50, 503)
	outcome, text := s.slack(t, approver, "approve "+id)
	if outcome != string(chat.StatusFailed) || !strings.Contains(text, "open again") || s.emu.Writes() != 0 {
		t.Fatalf("approval while Graph fails: %s %q, %d writes", outcome, text, s.emu.Writes())
	}
	s.emu.Fail(0, 503) // no more failures
	if outcome, text := s.slack(t, approver, "approve "+id); outcome != string(chat.StatusApplied) || s.emu.Writes() != 1 {
		t.Errorf("approving again once Graph answers: %s %q, %d writes", outcome, text, s.emu.Writes())
	}
}

// TestApprovalNeedsTheRequesterStillAllowed: a requester an administrator
// removed from the sender's allow-list since they asked (a redeploy with
// a shorter ENROLLHOOK_SLACK_ALLOWED_USERS) no longer gets their request
// applied by someone else's approval; it stays pending, and applies once
// they are allowed again.
func TestApprovalNeedsTheRequesterStillAllowed(t *testing.T) {
	s := newApprovalStack(t)
	id := s.ask(t, requester)
	allow := func(users ...string) {
		sl, err := slack.New(chatSlackSecret, &slack.Options{Allow: chat.Allowlist{Tenant: "T0001", Users: users},
			AnswerWithin: 5 * time.Second, AllowLoopbackResponseURL: true})
		if err != nil {
			t.Fatal(err)
		}
		s.h.sources[0] = sl
		s.h.set(func(*testOptions) {})
	}
	allow(approver, bystander)
	// A user who may not approve it learns nothing of the requester.
	if outcome, text := s.slack(t, bystander, "approve "+id); outcome != string(chat.StatusRefused) || !strings.Contains(text, "approvers") ||
		strings.Contains(text, requester) {
		t.Errorf("approval by a user the policy does not name: %s %q, want the approver refusal only", outcome, text)
	}
	outcome, text := s.slack(t, approver, "approve "+id)
	if outcome != string(chat.StatusRefused) || !strings.Contains(text, "no longer allowed to run enrollhook commands") || !strings.Contains(text, requester) ||
		!strings.Contains(text, id+" stays open") || strings.Contains(text, "Your user id") {
		t.Fatalf("approval of a removed requester's request: %s %q, want refused naming the requester, the request open", outcome, text)
	}
	if s.emu.Writes() != 0 {
		t.Fatalf("the refused approval wrote to Graph")
	}
	allow(requester, approver)
	if outcome, text := s.slack(t, approver, "approve "+id); outcome != string(chat.StatusApplied) {
		t.Fatalf("approval once the requester is allowed again: %s %q, want applied (the request stayed pending)", outcome, text)
	}
}

// TestTeamsApprovalOfARequesterAllowedByTeamsID: a Teams requester the
// allow-list names by their 29: user id only (not their Entra object id)
// is still allowed when their request is approved.
func TestTeamsApprovalOfARequesterAllowedByTeamsID(t *testing.T) {
	s := newApprovalStack(t)
	tm, err := teams.New(chatTeamsToken, &teams.Options{
		Allow: chat.Allowlist{Tenant: chatTenant, Users: []string{"29:1abcDEF", teamsApprov}}, AnswerWithin: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.h.sources[1] = tm
	s.h.set(func(*testOptions) {})
	w := s.serve(t, teamsRequest(t, teamsActivity("assign "+graphemu.ConfigESP+" "+graphemu.AssignmentESPGroup+" group "+graphemu.GroupPlatform, testNow)))
	m := requestIDRe.FindStringSubmatch(decodeTeams(t, w))
	if m == nil {
		t.Fatalf("Teams assign: %s", w.Body)
	}
	w = s.serve(t, teamsRequest(t, teamsActivity("approve "+m[1], testNow, func(a map[string]any) {
		a["from"] = map[string]any{"id": "29:2ghiJKL", "name": "Bob", "aadObjectId": teamsApprov}
	})))
	if w.Header().Get(HeaderOutcome) != string(chat.StatusApplied) || s.emu.Writes() != 1 {
		t.Errorf("approval: %s %s, %d writes; want applied", w.Header().Get(HeaderOutcome), w.Body, s.emu.Writes())
	}
}

// TestApprovalWhoseAnswerWasLost: an approval whose write landed but whose
// answer was lost says the outcome is unknown and reopens the request;
// approved again, it writes nothing, answers applied and records the
// change (history and revert see it), rather than refusing it as drifted.
func TestApprovalWhoseAnswerWasLost(t *testing.T) {
	s := newApprovalStack(t)
	id := s.ask(t, requester)
	s.emu.LoseWrites(50, http.StatusGatewayTimeout)
	outcome, text := s.slack(t, approver, "approve "+id)
	s.emu.LoseWrites(0, http.StatusGatewayTimeout)
	if outcome == string(chat.StatusApplied) || !strings.Contains(text, "outcome is unknown") || !strings.Contains(text, "open again") ||
		targetOf(t, s.emu)["groupId"] != graphemu.GroupPlatform {
		t.Fatalf("approval whose answer was lost: %s %q, target %v", outcome, text, targetOf(t, s.emu))
	}
	if recs, _ := s.recs.ByAssignment(context.Background(), graphemu.ConfigESP, graphemu.AssignmentESPGroup, 10); len(recs) != 0 {
		t.Fatalf("recorded before its outcome was known: %+v", recs)
	}
	writes := s.emu.Writes()
	outcome, text = s.slack(t, approver, "approve "+id)
	if outcome != string(chat.StatusApplied) || s.emu.Writes() != writes {
		t.Fatalf("approving again: %s %q, %d writes (want applied, %d)", outcome, text, s.emu.Writes(), writes)
	}
	recs, err := s.recs.ByAssignment(context.Background(), graphemu.ConfigESP, graphemu.AssignmentESPGroup, 10)
	if err != nil || len(recs) != 1 || !strings.Contains(string(recs[0].After), graphemu.GroupPlatform) || strings.Contains(string(recs[0].Before), graphemu.GroupPlatform) {
		t.Fatalf("change record = %+v, %v; want the change, with the assignment before it", recs, err)
	}
	if _, text := s.slack(t, requester, "history "+graphemu.ConfigESP+" "+graphemu.AssignmentESPGroup); !strings.Contains(text, recs[0].ID) {
		t.Errorf("history does not show the change: %q", text)
	}
}

// TestTeamsSelfApprovalUnderTheOtherID: a Teams user who asked from an
// activity that named them by their 29: id only cannot approve their own
// request from one that names them by their Entra object id too.
func TestTeamsSelfApprovalUnderTheOtherID(t *testing.T) {
	s := newApprovalStack(t)
	tm, err := teams.New(chatTeamsToken, &teams.Options{
		Allow: chat.Allowlist{Tenant: chatTenant, Users: []string{"29:2ghiJKL", teamsApprov}}, AnswerWithin: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.h.sources[1] = tm
	s.h.set(func(*testOptions) {})
	w := s.serve(t, teamsRequest(t, teamsActivity("assign "+graphemu.ConfigESP+" "+graphemu.AssignmentESPGroup+" group "+graphemu.GroupPlatform, testNow,
		func(a map[string]any) { a["from"] = map[string]any{"id": "29:2ghiJKL", "name": "Bob"} })))
	m := requestIDRe.FindStringSubmatch(decodeTeams(t, w))
	if m == nil {
		t.Fatalf("Teams assign: %s", w.Body)
	}
	w = s.serve(t, teamsRequest(t, teamsActivity("approve "+m[1], testNow, func(a map[string]any) {
		a["from"] = map[string]any{"id": "29:2ghiJKL", "name": "Bob", "aadObjectId": teamsApprov}
	})))
	if w.Header().Get(HeaderOutcome) != string(chat.StatusRefused) || !strings.Contains(w.Body.String(), "cannot approve") || s.emu.Writes() != 0 {
		t.Errorf("self-approval under the other id: %s %s, %d writes; want refused", w.Header().Get(HeaderOutcome), w.Body, s.emu.Writes())
	}
}
