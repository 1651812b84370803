package webhook

import (
	"context"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/policy"
	"github.com/enrollhook/enrollhook/pkg/queue"
)

// testPolicy allows validBody's configuration, group and filter to every
// sender, collection SMS00001, and group, exclusion and collection
// targets; slack: only U0456EFGH may assign, anyone allowed may show.
const testPolicy = `{
  "version": 1,
  "default": {
    "configurations": ["2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_*"],
    "groups": ["5e6f0000-0000-0000-0000-000000000001"],
    "filters": ["a1b2c3d4-0000-0000-0000-00000000f117"],
    "collections": ["SMS00001"],
    "targetKinds": ["group", "exclusion", "collection"]
  },
  "chat": {"slack": {"tenants": ["T0001"], "commands": {"assign": ["U0456EFGH"], "show": ["*"]}}}
}`

func mustPolicy(t *testing.T, doc string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse([]byte(doc), "test", false)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPolicyRulesThroughTheHandler: each rule refuses with 403, its own
// problem type and the value in the detail, without a Graph call, and
// releases the delivery (a retry under a wider policy is applied); the same
// request within the rules is applied.
func TestPolicyRulesThroughTheHandler(t *testing.T) {
	const (
		grp    = `"@odata.type":"microsoft.graph.groupAssignmentTarget","groupId":"5e6f0000-0000-0000-0000-000000000001"`
		filter = `,"deviceAndAppManagementAssignmentFilterId":"a1b2c3d4-0000-0000-0000-00000000f117","deviceAndAppManagementAssignmentFilterType":"include"`
	)
	target := func(t string) func(string) string {
		return func(b string) string { return strings.Replace(b, grp+filter, t, 1) }
	}
	tests := []struct {
		name   string
		edit   func(string) string
		status int
		kind   string
		value  string
	}{
		{"allowed", func(b string) string { return b }, 200, "", ""},
		{"configuration", func(b string) string {
			return strings.Replace(b, `"2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_Windows10EnrollmentCompletionPageConfiguration"`, `"4d7d8b60-3333-4e80-9c5d-3b4f5e6d7c8b_PlatformRestrictions"`, 1)
		}, 403, string(change.KindPolicyConfiguration), "4d7d8b60-3333-4e80-9c5d-3b4f5e6d7c8b_PlatformRestrictions"},
		{"group", func(b string) string {
			return strings.Replace(b, `"groupId":"5e6f0000-0000-0000-0000-000000000001"`, `"groupId":"0bad0000-0000-0000-0000-00000000000b"`, 1)
		}, 403, string(change.KindPolicyGroup), "0bad0000-0000-0000-0000-00000000000b"},
		{"filter", func(b string) string {
			return strings.Replace(b, `a1b2c3d4-0000-0000-0000-00000000f117`, `a1b2c3d4-0000-0000-0000-00000000bad0`, 1)
		}, 403, string(change.KindPolicyFilter), "a1b2c3d4-0000-0000-0000-00000000bad0"},
		{"collection allowed", target(`"@odata.type":"#microsoft.graph.configurationManagerCollectionAssignmentTarget","collectionId":"SMS00001"`), 200, "", ""},
		{"collection", target(`"@odata.type":"#microsoft.graph.configurationManagerCollectionAssignmentTarget","collectionId":"SMS00004"`), 403, string(change.KindPolicyCollection), "SMS00004"},
		{"target kind", target(`"@odata.type":"#microsoft.graph.scopeTagGroupAssignmentTarget","targetType":"user","entraObjectId":"5e6f0000-0000-0000-0000-000000000001"`), 403, string(change.KindPolicyTargetKind), "scopeTagGroupAssignmentTarget"},
		{"wide target", target(`"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"`), 403, string(change.KindPolicyWideTarget), "allDevicesAssignmentTarget"},
		{"separation of duties", func(b string) string {
			return strings.Replace(b, `"approvedBy":"bob@contoso.com"`, `"approvedBy":"Alice@Contoso.com"`, 1)
		}, 403, string(change.KindPolicySeparationOfDuties), "Alice@Contoso.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := idempotency.NewMemory(nil, 0)
			hs := newHarness(t, &testOptions{Store: store})
			hs.h.set(func(o *testOptions) { o.Policy = mustPolicy(t, testPolicy) })
			body := tt.edit(validBody)
			w := hs.do(t, signed(t, body, testNow))
			if w.Code != tt.status {
				t.Fatalf("status = %d %s, want %d", w.Code, w.Body, tt.status)
			}
			if tt.kind == "" {
				if hs.g.count() != 1 {
					t.Errorf("Graph calls = %d, want 1", hs.g.count())
				}
				return
			}
			p := decodeProblem(t, w)
			if p.Type != apply.ProblemTypePrefix+tt.kind || !strings.Contains(p.Detail, tt.value) || p.Title == "Forbidden" {
				t.Errorf("problem = %+v, want %s naming %s with its own title", p, tt.kind, tt.value)
			}
			if hs.g.count() != 0 {
				t.Errorf("Graph calls = %d, want 0", hs.g.count())
			}
			if !strings.Contains(hs.logs.String(), `"problem":"`+tt.kind+`"`) {
				t.Errorf("log lacks the problem:\n%s", hs.logs)
			}
			// The refusal released the delivery: a retry under a policy that
			// allows it is applied, not answered from the store.
			hs.h.set(func(o *testOptions) {
				o.Policy = mustPolicy(t, `{"version": 1, "separationOfDuties": false, "default": {"targetKinds": ["group", "exclusion", "collection", "scopeTagGroup", "allDevices"]}}`)
			})
			if w := hs.do(t, signed(t, body, testNow)); w.Code != http.StatusOK || w.Header().Get(HeaderReplay) != "" {
				t.Errorf("retry under a wider policy: %d replay %q %s, want a fresh 200", w.Code, w.Header().Get(HeaderReplay), w.Body)
			}
		})
	}
}

// TestPolicyBeforeTheQueue: an async sender's refused change is answered
// 403 and never queued.
func TestPolicyBeforeTheQueue(t *testing.T) {
	q := &captureQueue{}
	hs := newAsyncHarness(t, q)
	hs.h.set(func(o *testOptions) { o.Policy = policy.Default() })
	body := strings.Replace(validBody, `"approvedBy":"bob@contoso.com"`, `"approvedBy":"alice@contoso.com"`, 1)
	w := hs.do(t, signed(t, body, testNow))
	if p := decodeProblem(t, w); w.Code != http.StatusForbidden || p.Type != apply.ProblemTypePrefix+string(change.KindPolicySeparationOfDuties) {
		t.Fatalf("answer %d %s, want 403 policy-separation-of-duties", w.Code, w.Body)
	}
	if n := len(q.messages()); n != 0 {
		t.Errorf("%d messages queued, want 0", n)
	}
}

// TestWorkerChecksThePolicyInForce: a change queued while the policy
// allowed it is refused by the worker once the policy no longer does
// (permanent: not retried, dead-lettered with the rule as its reason), and
// applied by a worker whose policy allows it.
func TestWorkerChecksThePolicyInForce(t *testing.T) {
	body := queuedMessage(t)   // queued without a policy
	dlq := queue.NewLocal(nil) // stopped: its dead-letter list only
	hs := newWorkerHarness(t, dlq)
	hs.h.set(func(o *testOptions) {
		o.Policy = mustPolicy(t, `{"version": 1, "default": {"groups": ["7a8b0000-0000-0000-0000-000000000002"]}}`)
	})
	if err := hs.h.Process(context.Background(), queue.Delivery{ID: "m1", Body: body, ReceiveCount: 1}); err != nil {
		t.Fatalf("Process = %v, want nil (a permanent failure)", err)
	}
	if hs.g.count() != 0 {
		t.Fatalf("Graph calls = %d, want 0", hs.g.count())
	}
	var reasons []queue.Reason
	for _, d := range dlq.DeadLetters() {
		reasons = append(reasons, d.Reason)
	}
	if len(reasons) != 1 || reasons[0].Problem != string(change.KindPolicyGroup) || !strings.Contains(reasons[0].Detail, "5e6f0000-0000-0000-0000-000000000001") {
		t.Fatalf("dead letters = %+v, want one with reason %s naming the group", reasons, string(change.KindPolicyGroup))
	}
	if logs := hs.logs.String(); !strings.Contains(logs, `"problem":"policy-group"`) || !strings.Contains(logs, `"outcome":"failed"`) {
		t.Errorf("log:\n%s", logs)
	}
	// Moved back once the policy allows it, the change is applied.
	hs.h.set(func(o *testOptions) { o.Policy = mustPolicy(t, testPolicy) })
	if err := hs.h.Process(context.Background(), queue.Delivery{ID: "m1", Body: body, ReceiveCount: 1}); err != nil || hs.g.count() != 1 {
		t.Fatalf("Process = %v, Graph calls %d; want applied", err, hs.g.count())
	}
}

// TestPolicyCommandsInChat: the policy narrows the Slack allow-list per
// command; its refusals, and a change it refuses, are chat replies that
// name the rule's value; nothing reaches Graph.
func TestPolicyCommandsInChat(t *testing.T) {
	const (
		cfg = "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_Windows10EnrollmentCompletionPageConfiguration"
		asg = "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_5e6f0000-0000-0000-0000-000000000001"
	)
	tests := []struct {
		name, policy, text string
		want               string
		graph              int
		problem            string
	}{
		{"assign allowed", testPolicy, "assign " + cfg + " " + asg + " group 5e6f0000-0000-0000-0000-000000000001", "Done", 1, ""},
		{"assign by a user the policy does not list", strings.Replace(testPolicy, `"assign": ["U0456EFGH"]`, `"assign": ["U0999ZZZZ"]`, 1),
			"assign " + cfg + " " + asg + " group 5e6f0000-0000-0000-0000-000000000001", "not allow user U0456EFGH to run assign", 0, string(change.KindPolicyCommand)},
		{"show allowed to everyone", strings.Replace(testPolicy, `"assign": ["U0456EFGH"]`, `"assign": ["U0999ZZZZ"]`, 1),
			"show " + cfg + " " + asg, "targets", 1, ""},
		{"show not listed", strings.Replace(testPolicy, `"show": ["*"]`, `"show": ["U0999ZZZZ"]`, 1),
			"show " + cfg + " " + asg, "not allow user U0456EFGH to run show", 0, string(change.KindPolicyCommand)},
		{"workspace not listed", strings.Replace(testPolicy, `"tenants": ["T0001"]`, `"tenants": ["T0002"]`, 1),
			"show " + cfg + " " + asg, "workspace or tenant T0001", 0, string(change.KindPolicyCommand)},
		{"wide target in chat", testPolicy, "assign " + cfg + " " + asg + " alldevices", "allDevicesAssignmentTarget", 0, string(change.KindPolicyWideTarget)},
		{"group in chat", testPolicy, "assign " + cfg + " " + asg + " group 0bad0000-0000-0000-0000-00000000000b", "0bad0000-0000-0000-0000-00000000000b", 0, string(change.KindPolicyGroup)},
		{"help always allowed", strings.Replace(testPolicy, `"show": ["*"]`, `"show": []`, 1), "help", "Usage", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newChatHarness(t, &fakeGraph{}, 5*time.Second)
			c.h.set(func(o *testOptions) { o.Policy = mustPolicy(t, tt.policy) })
			m := decodeSlack(t, c.do(t, slackRequest(t, slackForm(tt.text), testNow)))
			if !strings.Contains(m.Text, tt.want) {
				t.Errorf("reply %q, want it to contain %q", m.Text, tt.want)
			}
			if n := c.g.count(); n != 0 && tt.graph == 0 {
				t.Errorf("Graph PATCH calls = %d, want 0", n)
			}
			if tt.problem != "" {
				if !strings.Contains(m.Text, "Refused, nothing was changed") {
					t.Errorf("reply %q, want a refusal", m.Text)
				}
				if logs := c.logs.String(); !strings.Contains(logs, `"problem":"`+tt.problem+`"`) || !strings.Contains(logs, `"outcome":"refused"`) {
					t.Errorf("log lacks problem %s, outcome refused:\n%s", tt.problem, logs)
				}
			}
		})
	}
}

// TestWorkerChecksChatCommandsAgain: a Slack command queued while its user
// could assign is refused by the worker once the policy no longer lets
// that user assign; separation of duties does not apply to it (the command
// is its own approval).
func TestWorkerChecksChatCommandsAgain(t *testing.T) {
	m, err := queue.Open(nil, queuedMessage(t))
	if err != nil {
		t.Fatal(err)
	}
	m.Source = "slack"
	m.Chat = &queue.Chat{Tenant: "T0001", User: "U0456EFGH"}
	m.Request.Ticket.RequestedBy, m.Request.Ticket.ApprovedBy = "slack:T0001/U0456EFGH", "slack:T0001/U0456EFGH"
	body, err := m.Seal(nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := newWorkerHarness(t, nil)
	hs.h.set(func(o *testOptions) {
		o.Policy = mustPolicy(t, strings.Replace(testPolicy, `"assign": ["U0456EFGH"]`, `"assign": ["U0999ZZZZ"]`, 1))
	})
	if err := hs.h.Process(context.Background(), queue.Delivery{ID: "m1", Body: body, ReceiveCount: 1}); err != nil || hs.g.count() != 0 {
		t.Fatalf("Process = %v, Graph calls %d; want a permanent refusal and no call", err, hs.g.count())
	}
	if logs := hs.logs.String(); !strings.Contains(logs, `"problem":"policy-command"`) {
		t.Errorf("log lacks policy-command:\n%s", logs)
	}
	hs = newWorkerHarness(t, nil)
	hs.h.set(func(o *testOptions) { o.Policy = mustPolicy(t, testPolicy) })
	if err := hs.h.Process(context.Background(), queue.Delivery{ID: "m2", Body: body, ReceiveCount: 1}); err != nil || hs.g.count() != 1 {
		t.Fatalf("Process = %v, Graph calls %d; want applied", err, hs.g.count())
	}
}

// TestPolicyKindsInTheContract: every refusal kind of pkg/policy is a
// problem type of openapi.yaml and of the policy page's table, with a title of
// its own.
func TestPolicyKindsInTheContract(t *testing.T) {
	doc := oapiLoad(t)
	var types []string
	for _, v := range doc.Components.Schemas["ProblemType"].Value.Enum {
		s, _ := v.(string)
		types = append(types, s)
	}
	readme, err := os.ReadFile("../../docs/policy.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range change.PolicyKinds() {
		kind := string(k)
		if !slices.Contains(types, apply.ProblemTypePrefix+kind) {
			t.Errorf("%s is missing from openapi.yaml's ProblemType", kind)
		}
		if k.Title() == "" {
			t.Errorf("%s has no title", kind)
		}
		if !strings.Contains(string(readme), "`"+kind+"`") {
			t.Errorf("%s is missing from docs/policy.md", kind)
		}
	}
}

// narrowPolicy refuses validBody's filter from now on (the group and the
// configuration stay allowed).
func narrowPolicy(t *testing.T, s *stack) {
	t.Helper()
	s.h.set(func(o *testOptions) {
		o.Policy = mustPolicy(t, strings.Replace(testPolicy, validFilter, "a1b2c3d4-0000-0000-0000-0000000000ff", 1))
	})
}

// TestNarrowedPolicyReplaysAnAppliedChange: a sender's retry of a change
// applied before the policy narrowed gets the stored answer (it was
// applied), not a 403 saying nothing was changed; a new delivery of it is
// refused by the narrowed policy.
func TestNarrowedPolicyReplaysAnAppliedChange(t *testing.T) {
	s, _ := revertStack(t)
	first := s.send(t, validBody)
	if first.Code != http.StatusOK {
		t.Fatalf("the change = %d %s", first.Code, first.Body)
	}
	writes := s.emu.Writes()
	narrowPolicy(t, s)
	w := s.send(t, validBody)
	if w.Code != http.StatusOK || w.Header().Get(HeaderReplay) != "true" || w.Body.String() != first.Body.String() {
		t.Fatalf("the retry under the narrowed policy = %d replay=%q %s, want the stored 200", w.Code, w.Header().Get(HeaderReplay), w.Body)
	}
	if s.emu.Writes() != writes {
		t.Errorf("the retry wrote: %d writes, want %d", s.emu.Writes(), writes)
	}
	fresh := s.serve(t, signedID(t, "msg_after_narrowing", validBody, testNow))
	if p := decodeProblem(t, fresh); fresh.Code != http.StatusForbidden || p.Type != apply.ProblemTypePrefix+string(change.KindPolicyFilter) {
		t.Errorf("a new delivery under the narrowed policy = %d %s, want 403 policy-filter", fresh.Code, fresh.Body)
	}
}

// TestNarrowedPolicySettlesALostAnswer: the retry of a change whose
// write's answer was lost, and that Graph holds, is answered applied (and
// recorded) under a policy narrowed since; a change Graph does not hold
// (its write was throttled) is refused by the narrowed policy, says
// nothing was changed, and keeps its note for a retry under a wider one.
func TestNarrowedPolicySettlesALostAnswer(t *testing.T) {
	t.Run("applied", func(t *testing.T) {
		s, recs := revertStack(t)
		writes := loseTheAnswer(t, s)
		narrowPolicy(t, s)
		w := s.send(t, validBody)
		if w.Code != http.StatusOK || w.Header().Get(HeaderReplay) != "" || !strings.Contains(w.Body.String(), validFilter) {
			t.Fatalf("the retry under the narrowed policy = %d %s, want 200 as applied", w.Code, w.Body)
		}
		if s.emu.Writes() != writes {
			t.Errorf("the retry wrote again: %d writes, want %d", s.emu.Writes(), writes)
		}
		if got, err := recs.ByTicket(context.Background(), "generic", "CHG0030042"); err != nil || len(got) != 1 {
			t.Errorf("change records = %+v, %v; want the change", got, err)
		}
	})
	t.Run("not applied", func(t *testing.T) {
		s, _ := revertStack(t)
		throttleWrites(t, s)
		narrowPolicy(t, s)
		w := s.send(t, validBody)
		if p := decodeProblem(t, w); w.Code != http.StatusForbidden || p.Type != apply.ProblemTypePrefix+string(change.KindPolicyFilter) {
			t.Fatalf("the retry under the narrowed policy = %d %s, want 403 policy-filter", w.Code, w.Body)
		}
		if s.emu.Writes() != 0 {
			t.Fatalf("the refused retry wrote")
		}
		s.h.set(func(o *testOptions) { o.Policy = policy.Default() })
		if w := s.send(t, validBody); w.Code != http.StatusOK || w.Header().Get(HeaderReplay) != "" || s.emu.Writes() != 1 {
			t.Errorf("the retry under a wider policy = %d replay=%q, %d writes; want applied once", w.Code, w.Header().Get(HeaderReplay), s.emu.Writes())
		}
	})
}
