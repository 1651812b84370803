package wiring

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/graphemu"
	"github.com/enrollhook/enrollhook/pkg/identity"
	"github.com/enrollhook/enrollhook/pkg/identity/identitytest"
	"github.com/enrollhook/enrollhook/pkg/source/generic"
	"github.com/enrollhook/enrollhook/pkg/wiring/wiringtest"
	"github.com/google/uuid"
)

const (
	fedTenant = wiringtest.Tenant
	fedApp    = wiringtest.App
	fedSecret = wiringtest.Secret
)

// fedRig is wiringtest's aws-federation rig.
type fedRig struct{ *wiringtest.Federation }

// newFedRig starts the rig around an emulator of this package (its tokens
// reach the secret sink).
func newFedRig(t *testing.T, fics func(sts *identitytest.STS) []identitytest.FederatedCredential, emuOpts *graphemu.Options,
	entra ...func(*identitytest.EntraOptions)) *fedRig {
	t.Helper()
	return &fedRig{wiringtest.NewFederation(t, newEmulator(emuOpts), fics, entra...)}
}

func (r *fedRig) getenv(k string) string { return r.Getenv(k) }

// deliver posts the approved sample, signed now, through the handler build
// wired.
func (r *fedRig) deliver(t *testing.T, h http.Handler) *httptest.ResponseRecorder {
	t.Helper()
	raw, err := os.ReadFile("../../events/generic-approved.json")
	if err != nil {
		t.Fatal(err)
	}
	body, route := sample(t, raw)
	hdr, err := generic.Sign(fedSecret, "msg_"+uuid.NewString(), time.Now(), body)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, route, bytes.NewReader(body))
	req.Header = hdr
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func (r *fedRig) build(t *testing.T) http.Handler {
	t.Helper()
	h, _, err := Webhook(context.Background(), r.getenv, testLogger(r.Logs), &Options{Local: true, Credential: r.Cred})
	if err != nil {
		t.Fatalf("build = %v", err)
	}
	return h
}

// TestAWSFederationThroughTheHandler: a delivery reaches Graph with the
// token Entra exchanged for the STS assertion; the token is fetched once for
// several deliveries and appears in no log line.
func TestAWSFederationThroughTheHandler(t *testing.T) {
	r := newFedRig(t, nil, nil)
	h := r.build(t)
	for i := 0; i < 3; i++ {
		if rec := r.deliver(t, h); rec.Code != http.StatusOK {
			t.Fatalf("delivery %d: %d %s\n%s", i+1, rec.Code, rec.Body, r.Logs)
		}
	}
	if n, m := len(r.Entra.Requests()), len(r.STS.Requests()); n != 1 || m != 1 {
		t.Errorf("Entra token requests = %d, STS requests = %d; want 1 and 1 for three deliveries", n, m)
	}
	if r.Emu.Writes() != 3 {
		t.Errorf("Graph writes = %d, want 3", r.Emu.Writes())
	}
	for _, tok := range r.Entra.Issued() {
		if strings.Contains(r.Logs.String(), tok) {
			t.Error("the log contains the Graph token")
		}
	}
	if strings.Contains(r.Logs.String(), "eyJ") {
		t.Error("the log contains a JWT (the STS assertion)")
	}
}

// TestCredentialFailuresAnswerWithoutDetail: the caller gets 503 (no token)
// or 502 (Graph refused the token) with a fixed text, and the operator's log
// names the mode and the most likely missing step.
func TestCredentialFailuresAnswerWithoutDetail(t *testing.T) {
	tests := []struct {
		name     string
		fics     func(*identitytest.STS) []identitytest.FederatedCredential
		setup    func(*fedRig)
		emuOpts  *graphemu.Options
		status   int
		problem  string
		logWants []string
	}{
		{"federation disabled", nil, func(r *fedRig) {
			r.STS.Fail(1, 403, "OutboundWebIdentityFederationDisabledException", "Outbound web identity federation is disabled")
		}, nil, 503, "graph-unavailable", []string{`"mode":"aws-federation"`, "aws iam enable-outbound-web-identity-federation"}},
		{"wrong audience on the credential", func(s *identitytest.STS) []identitytest.FederatedCredential {
			return []identitytest.FederatedCredential{s.Federated("api://AzureADTokenExchangeUSGov")}
		}, nil, nil, 503, "graph-unavailable", []string{`"mode":"aws-federation"`, "AADSTS700212", "audience api://AzureADTokenExchange"}},
		{"token endpoint 400", nil, func(r *fedRig) { r.Entra.Fail(1, 400) }, nil,
			503, "graph-unavailable", []string{`"mode":"aws-federation"`, "AADSTS900144"}},
		{"token endpoint 500", nil, func(r *fedRig) { r.Entra.Fail(10, 500) }, nil,
			503, "graph-unavailable", []string{`"mode":"aws-federation"`, "usually transient"}},
		// The tenant is in US Government; the function says global.
		{"Graph refuses the token's audience", nil, nil, &graphemu.Options{Audiences: []string{"https://graph.microsoft.us"}}, 502, "graph-permission-denied", []string{"InvalidAuthenticationToken"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newFedRig(t, tt.fics, tt.emuOpts)
			if tt.setup != nil {
				tt.setup(r)
			}
			rec := r.deliver(t, r.build(t))
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			var p map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p["type"] != "urn:enrollhook:problem:"+tt.problem {
				t.Errorf("answer = %s, want problem %s", rec.Body, tt.problem)
			}
			body := rec.Body.String()
			for _, leak := range []string{"AADSTS", "sts:", "aws-federation", "enable-outbound", "federated", "login.microsoftonline", fedTenant, fedApp, "eu-west-1"} {
				if strings.Contains(body, leak) {
					t.Errorf("the answer carries %q: %s", leak, body)
				}
			}
			for _, w := range tt.logWants {
				if !strings.Contains(r.Logs.String(), w) {
					t.Errorf("the log lacks %q:\n%s", w, r.Logs)
				}
			}
		})
	}
}

// TestColdStartListsEveryCredentialProblem: a misconfigured mode fails the
// cold start, every problem together.
func TestColdStartListsEveryCredentialProblem(t *testing.T) {
	env := map[string]string{config.EnvCredential: config.CredentialAWS, config.EnvCloud: "mars",
		config.EnvClientSecret: "left-over", config.SecretKey(generic.Name): fedSecret}
	_, _, err := build(func(k string) string { return env[k] }, slog.New(slog.DiscardHandler), true)
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("build = %v, want *config.Error", err)
	}
	for _, k := range []string{config.EnvCloud, config.EnvTenantID, config.EnvClientID, config.EnvAWSRegion, config.EnvClientSecret} {
		if !strings.Contains(err.Error(), k) {
			t.Errorf("cold-start error does not name %s: %v", k, err)
		}
	}
	if strings.Contains(err.Error(), "left-over") {
		t.Errorf("the error quotes the secret")
	}
}

// TestColdStartListsTheCredentialFailureWithTheOthers: a credential that
// cannot be built (a certificate file without a certificate) is one more
// problem in the same list, not the next cold start's; so is a Lambda
// webhook without its de-duplication table (one store per instance would
// apply a delivery that reaches another instance again).
func TestColdStartListsTheCredentialFailureWithTheOthers(t *testing.T) {
	bad := t.TempDir() + "/lab.pem"
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{config.EnvCredential: config.CredentialCertificate, config.EnvTenantID: fedTenant,
		config.EnvClientID: fedApp, config.EnvClientCertificate: bad, config.SecretKey(generic.Name): fedSecret,
		config.EnvGraphVersion: "v2", config.EnvMaxRetries: "99"}
	_, _, err := build(func(k string) string { return env[k] }, slog.New(slog.DiscardHandler), true)
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("build = %v, want *config.Error", err)
	}
	want := []string{config.EnvGraphVersion + " must be", config.EnvMaxRetries + " must be",
		config.EnvIdempotency + " must name the de-duplication table", "identity: client-certificate: " + config.EnvClientCertificate + ": "}
	if len(ce.Problems) != len(want) {
		t.Fatalf("problems = %q, want %d", ce.Problems, len(want))
	}
	for i, w := range want {
		if !strings.Contains(ce.Problems[i], w) {
			t.Errorf("problem %d = %q, want it to contain %q", i, ce.Problems[i], w)
		}
	}

	// Alone, it is the only problem.
	delete(env, config.EnvGraphVersion)
	delete(env, config.EnvMaxRetries)
	env[config.EnvIdempotency], env["AWS_REGION"] = "deliveries", "eu-west-1"
	_, _, err = build(func(k string) string { return env[k] }, slog.New(slog.DiscardHandler), true)
	if !errors.As(err, &ce) || len(ce.Problems) != 1 || !strings.Contains(ce.Problems[0], config.EnvClientCertificate) {
		t.Errorf("build = %v, want the certificate problem alone", err)
	}
}

// TestManagedIdentityFailuresAnswerWithoutDetail: when the managed-identity
// endpoint refuses (400) or fails (500), the caller gets 503
// graph-unavailable with a fixed text, and the operator's log names the
// mode, the step and the likely fix.
func TestManagedIdentityFailuresAnswerWithoutDetail(t *testing.T) {
	for _, tt := range []struct {
		status int
		fix    string
	}{
		{http.StatusBadRequest, "the managed-identity endpoint refused: check that the identity is assigned to this host"},
		{http.StatusInternalServerError, "the identity service failed or throttled: usually transient"},
	} {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			r := newFedRig(t, nil, nil)
			// azidentity's own retries of a 500, with short delays.
			r.Cred = &identity.Options{ClientOptions: policy.ClientOptions{
				Retry: policy.RetryOptions{RetryDelay: 5 * time.Millisecond, MaxRetryDelay: 20 * time.Millisecond}}}
			var calls atomic.Int32
			msi := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				calls.Add(1)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				fmt.Fprintf(w, `{"statusCode":%d,"message":"Unable to load the proper Managed Identity.","correlationId":"%s"}`, tt.status, uuid.NewString())
			}))
			defer msi.Close()
			t.Setenv("IDENTITY_ENDPOINT", msi.URL+graphemu.TokenPath)
			t.Setenv("IDENTITY_HEADER", graphemu.DefaultIdentityHeader)
			// MSAL's managed-identity token cache is process-wide: an
			// identity of its own keeps other tests' tokens out.
			clientID := uuid.NewString()
			// No Graph retries: MSAL already tries a 500 three times, a
			// second apart.
			r.Env = map[string]string{config.EnvClientID: clientID, config.EnvGraphURL: r.Graph.URL + "/beta",
				config.SecretKey(generic.Name): fedSecret, config.EnvMaxRetries: "0"}
			rec := r.deliver(t, r.build(t))
			if rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("status = %d, want 503: %s\n%s", rec.Code, rec.Body, r.Logs)
			}
			var p map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p["type"] != "urn:enrollhook:problem:graph-unavailable" {
				t.Errorf("answer = %s, want problem graph-unavailable", rec.Body)
			}
			body := rec.Body.String()
			for _, leak := range []string{"managed", "Managed", "identity endpoint", "IDENTITY", "127.0.0.1", clientID, "statusCode", "fix"} {
				if strings.Contains(body, leak) {
					t.Errorf("the answer carries %q: %s", leak, body)
				}
			}
			logs := r.Logs.String()
			for _, w := range []string{`"msg":"graph credential failed","mode":"managed-identity","step":"managed-identity endpoint"`, tt.fix} {
				if !strings.Contains(logs, w) {
					t.Errorf("the log lacks %q:\n%s", w, logs)
				}
			}
			if calls.Load() == 0 || r.Emu.Writes() != 0 {
				t.Errorf("identity endpoint calls = %d, Graph writes = %d; want some and none", calls.Load(), r.Emu.Writes())
			}
		})
	}
}

// TestBuildRunsEveryMode: build wires each mode (the credential is made at
// cold start without a network call).
func TestBuildRunsEveryMode(t *testing.T) {
	dir := t.TempDir()
	token := dir + "/token"
	_ = os.WriteFile(token, []byte("header.payload.signature"), 0o600)
	base := map[string]string{config.EnvTenantID: fedTenant, config.EnvClientID: fedApp, config.SecretKey(generic.Name): fedSecret}
	for mode, extra := range map[string]map[string]string{
		config.CredentialManagedI:  {config.EnvTenantID: "", config.EnvClientID: ""},
		config.CredentialWorkloadI: {config.EnvFederatedTokenFile: token},
		config.CredentialAWS:       {config.EnvAWSRegion: "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIAEXECUTIONROLE", "AWS_SECRET_ACCESS_KEY": "execution-role-secret"},
		config.CredentialSecret:    {config.EnvClientSecret: "lab"},
	} {
		env := map[string]string{config.EnvCredential: mode}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range extra {
			env[k] = v
		}
		logs := &bytes.Buffer{}
		if _, _, err := build(func(k string) string { return env[k] }, testLogger(logs), false); err != nil {
			t.Errorf("build(%s) = %v", mode, err)
		}
		lab := strings.Contains(logs.String(), "for labs only")
		if lab != (mode == config.CredentialSecret) {
			t.Errorf("build(%s): lab warning = %v", mode, lab)
		}
		if strings.Contains(logs.String(), `"lab"`) {
			t.Errorf("build(%s) logged the secret", mode)
		}
	}
}
