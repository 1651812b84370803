package wiring

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/source/generic"
)

// TestColdStartListsEveryPolicyProblem: a policy file with several
// mistakes fails the cold start with each of them, beside the other
// configuration problems.
func TestColdStartListsEveryPolicyProblem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	doc := "version: 1\ndefault:\n  groups: [not-a-guid]\n  targetKinds: [group, everything]\nsenders:\n  fax: {}\nchat:\n  slack:\n    commands: {delete: [U1AB]}\n"
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{config.EnvPolicy: path, config.EnvMaxRetries: "99", config.EnvGraphURL: "http://127.0.0.1:9/beta"}
	_, _, err := build(func(k string) string { return env[k] }, slog.New(slog.DiscardHandler), false)
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("build = %v, want *config.Error", err)
	}
	want := []string{config.EnvMaxRetries, "/default/groups/0", "/default/targetKinds/1", "/senders/fax", "/chat/slack/commands/delete"}
	if len(ce.Problems) != len(want) {
		t.Fatalf("problems = %q, want %d", ce.Problems, len(want))
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("cold-start error lacks %s: %v", w, err)
		}
	}
	for _, p := range ce.Problems[1:] {
		if !strings.HasPrefix(p, config.EnvPolicy+" ("+path+"): ") {
			t.Errorf("problem %q does not name the policy file", p)
		}
	}
}

// TestBuiltInPolicyIsInForce: without ENROLLHOOK_POLICY the function runs
// the built-in policy (a wide target is refused), and a policy given as
// ENROLLHOOK_POLICY_JSON replaces it.
func TestBuiltInPolicyIsInForce(t *testing.T) {
	const body = `{"ticket":{"id":"CHG1","state":"approved","requestedBy":"alice@contoso.com","approvedBy":"bob@contoso.com"},` +
		`"configurationId":"2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_Windows10EnrollmentCompletionPageConfiguration",` +
		`"assignmentId":"2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_00000000-0000-0000-0000-00000000dead",` +
		`"assignment":{"target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}}`
	const secret = "whsec_cG9saWN5LXRlc3Qtc2VjcmV0LW5vdC10aGUtZGV2LW9uZQ=="
	for _, tt := range []struct {
		name, policy string
		status       int
	}{
		{"built-in", "", http.StatusForbidden},
		// The Graph URL leads nowhere: a request the policy lets through
		// fails at Graph instead.
		{"inline policy listing allDevices", `{"version": 1, "default": {"targetKinds": ["group", "allDevices"]}}`, http.StatusServiceUnavailable},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{config.SecretKey(generic.Name): secret, config.EnvGraphURL: "http://127.0.0.1:9/beta",
				config.EnvPolicyJSON: tt.policy, config.EnvMaxRetries: "0"}
			h, _, err := build(func(k string) string { return env[k] }, slog.New(slog.DiscardHandler), false)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodPost, "/hooks/generic", strings.NewReader(body))
			hdr, err := generic.Sign(secret, "msg_policy_1", time.Now(), []byte(body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range hdr {
				r.Header[k] = v
			}
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status = %d %s, want %d", w.Code, w.Body, tt.status)
			}
			if tt.status == http.StatusForbidden && !strings.Contains(w.Body.String(), "urn:enrollhook:problem:policy-wide-target") {
				t.Errorf("body = %s, want policy-wide-target", w.Body)
			}
		})
	}
}
