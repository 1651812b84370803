package identity_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/uuid"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/graphemu"
	"github.com/enrollhook/enrollhook/pkg/identity"
	"github.com/enrollhook/enrollhook/pkg/identity/identitytest"
)

const (
	tenantID = "8a1b2c3d-0000-4000-8000-00000000a11c"
	appID    = "5f6e7d8c-0000-4000-8000-0000000000a9"
	secret   = "lab-secret~value.0123456789abcdefABCDEF"
	region   = "eu-west-1"
)

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// rig is one mode wired end to end: the credential under test, a fake
// Entra (TLS) and STS, and the Graph emulator behind the cloud's real Graph
// root, all reached through a Redirect transport that records the URLs.
type rig struct {
	t     *testing.T
	cloud config.Cloud
	emu   *graphemu.Server
	entra *identitytest.Entra
	sts   *identitytest.STS
	redir *identitytest.Redirect
	logs  *syncBuffer
	cred  *identity.Credential
	gc    *graph.Client
	files []string // secrets and token files, never to be logged
	// tokenFile is the projected token of workload-identity.
	tokenFile string

	mu sync.Mutex
	// bearerSeen are the bearer tokens Graph received, in order.
	bearerSeen []string
	// miStatus, when not 0, is what the managed-identity endpoint answers.
	miStatus int
}

// bearers returns the bearer tokens Graph received, oldest first.
func (r *rig) bearers() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.bearerSeen)
}

// miFail makes the managed-identity endpoint answer status from now on.
func (r *rig) miFail(status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.miStatus = status
}

// serveIdentity is the managed-identity endpoint (App Service protocol):
// the emulator's, or a failure chosen with miFail.
func (r *rig) serveIdentity(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	status := r.miStatus
	r.mu.Unlock()
	if status == 0 {
		r.emu.ServeHTTP(w, req)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"statusCode":%d,"message":"Unable to load the proper Managed Identity.","correlationId":"%s"}`, status, uuid.NewString())
}

type rigOptions struct {
	mode      string
	cloud     string
	expiresIn int
	// federated overrides the app's federated identity credential
	// (default: trust the STS or the token file issuer for the cloud's
	// audience).
	federated func(r *rig, issuer *identitytest.Issuer) []identitytest.FederatedCredential
}

func newRig(t *testing.T, o rigOptions) *rig {
	t.Helper()
	if o.cloud == "" {
		o.cloud = "global"
	}
	cloud := config.Clouds[o.cloud]
	// Graph accepts a token for as long as Entra said it would last, so
	// that a call made with a token past its end fails.
	var emuOpts *graphemu.Options
	if o.expiresIn > 0 {
		emuOpts = &graphemu.Options{TokenLifetime: time.Duration(o.expiresIn) * time.Second}
	}
	r := &rig{t: t, cloud: cloud, emu: graphemu.New(emuOpts), redir: identitytest.NewRedirect(), logs: &syncBuffer{}}
	graphSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer "); ok {
			r.mu.Lock()
			r.bearerSeen = append(r.bearerSeen, tok)
			r.mu.Unlock()
		}
		r.emu.ServeHTTP(w, req)
	}))
	t.Cleanup(graphSrv.Close)
	r.redir.Route(host(cloud.GraphRoot), graphSrv)

	audience := config.TokenExchangeAudiences[o.cloud]
	s := identity.Settings{Mode: o.mode, TenantID: tenantID, ClientID: appID, AuthorityHost: cloud.AuthorityHost,
		AWSRegion: region, Audience: audience}
	eo := &identitytest.EntraOptions{TenantID: tenantID, ClientID: appID, ExpiresIn: o.expiresIn,
		Mint: identitytest.EmulatorMint(r.emu, graphemu.TokenPath, graphemu.DefaultIdentityHeader)}
	var issuer *identitytest.Issuer
	switch o.mode {
	case identity.ModeManagedIdentity:
		// A plain-http identity endpoint on 127.0.0.1, and an identity of
		// its own: MSAL's managed-identity token cache is process-wide.
		mi := httptest.NewServer(http.HandlerFunc(r.serveIdentity))
		t.Cleanup(mi.Close)
		r.redir.Route("127.0.0.1", mi)
		t.Setenv("IDENTITY_ENDPOINT", mi.URL+graphemu.TokenPath)
		t.Setenv("IDENTITY_HEADER", graphemu.DefaultIdentityHeader)
		s = identity.Settings{Mode: o.mode, ClientID: uuid.NewString()}
	case identity.ModeAWSFederation:
		r.sts = identitytest.NewSTS(nil)
		t.Cleanup(r.sts.Close)
		issuer = r.sts.Issuer()
	case identity.ModeWorkloadIdentity:
		issuer = identitytest.NewIssuer("https://oidc.cluster.example/abc", "system:serviceaccount:enrollhook:webhook")
		s.TokenFile = filepath.Join(t.TempDir(), "token")
		tok := issuer.Token(audience, time.Hour, nil)
		if err := os.WriteFile(s.TokenFile, []byte(tok), 0o600); err != nil {
			t.Fatal(err)
		}
		r.files = append(r.files, tok)
		r.tokenFile = s.TokenFile
	case identity.ModeClientSecret:
		s.ClientSecret, eo.Secret = secret, secret
		r.files = append(r.files, secret)
	case identity.ModeClientCertificate:
		cert, path := certificate(t)
		s.CertificatePath, eo.Certificate = path, cert
	}
	if issuer != nil {
		if o.federated != nil {
			eo.Federated = o.federated(r, issuer)
		} else {
			eo.Federated = []identitytest.FederatedCredential{{Issuer: issuer.URL, Subject: issuer.Subject, Audience: audience, Key: issuer.PublicKey()}}
		}
	}
	r.entra = identitytest.NewEntra(eo)
	t.Cleanup(r.entra.Close)
	r.redir.Route(host(cloud.AuthorityHost), r.entra.Server())

	log := slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// azidentity retries 5xx with backoff; short delays keep the failure
	// tests quick without changing what is retried.
	opts := &identity.Options{ClientOptions: policy.ClientOptions{Transport: r.redir,
		Retry: policy.RetryOptions{RetryDelay: 5 * time.Millisecond, MaxRetryDelay: 20 * time.Millisecond}},
		DisableInstanceDiscovery: true, Logger: log}
	if r.sts != nil {
		opts.AWSConfig = r.sts.AWSConfig(region)
	}
	var err error
	if r.cred, err = identity.New(s, opts); err != nil {
		t.Fatalf("identity.New(%s) = %v", o.mode, err)
	}
	if r.gc, err = graph.NewClient(cloud.GraphRoot+"/beta", r.cred, cloud.Scope,
		&graph.Options{Transport: r.redir, Logger: log, MaxRetries: -1}); err != nil {
		t.Fatal(err)
	}
	return r
}

func host(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		panic(err)
	}
	return u.Host
}

// list reads the seeded configuration's assignments through Graph.
func (r *rig) list() error {
	_, _, err := r.gc.ListAssignments(context.Background(), graphemu.ConfigESP)
	return err
}

// noSecretsLogged fails when a token, a secret or an assertion reached the
// logs.
func (r *rig) noSecretsLogged() {
	r.t.Helper()
	logs := r.logs.String()
	for _, tok := range append(r.entra.Issued(), r.files...) {
		if strings.Contains(logs, tok) {
			r.t.Errorf("the log contains a token or secret")
		}
	}
	if strings.Contains(logs, "Bearer ") || strings.Contains(logs, "eyJ") {
		r.t.Errorf("the log contains a bearer token or a JWT:\n%s", logs)
	}
}

// certificate writes a self-signed certificate and its key as one PEM file.
func certificate(t *testing.T) (*x509.Certificate, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "enrollhook lab"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pk, _ := x509.MarshalPKCS8PrivateKey(key)
	var b bytes.Buffer
	_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	_ = pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: pk})
	path := filepath.Join(t.TempDir(), "lab.pem")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, path
}

var confidentialModes = []string{identity.ModeWorkloadIdentity, identity.ModeAWSFederation, identity.ModeClientSecret, identity.ModeClientCertificate}

// TestConfidentialModesReachGraph: for each mode the token reaches Graph as
// the bearer (the emulator accepts only tokens it issued, here through the
// fake Entra), is fetched once and reused, and never logged.
func TestConfidentialModesReachGraph(t *testing.T) {
	for _, mode := range confidentialModes {
		t.Run(mode, func(t *testing.T) {
			r := newRig(t, rigOptions{mode: mode})
			for i := 0; i < 3; i++ {
				if err := r.list(); err != nil {
					t.Fatalf("ListAssignments #%d = %v\n%s", i+1, err, r.logs.String())
				}
			}
			calls := r.emu.Calls()
			if len(calls) != 3 {
				t.Fatalf("Graph calls = %d, want 3", len(calls))
			}
			for _, c := range calls {
				if !c.HasAuthorization || c.Status != http.StatusOK {
					t.Errorf("Graph call %s %s: authorization %v, status %d", c.Method, c.Path, c.HasAuthorization, c.Status)
				}
			}
			reqs := r.entra.Requests()
			if len(reqs) != 1 {
				t.Fatalf("token requests = %d, want 1 (fetched once, then reused)", len(reqs))
			}
			want := map[string]string{identity.ModeWorkloadIdentity: "assertion", identity.ModeAWSFederation: "assertion",
				identity.ModeClientSecret: "secret", identity.ModeClientCertificate: "certificate"}[mode]
			if reqs[0].Flow != want || reqs[0].ClientID != appID || reqs[0].Tenant != tenantID {
				t.Errorf("token request = %+v, want flow %s for app %s in %s", reqs[0], want, appID, tenantID)
			}
			if mode == identity.ModeAWSFederation {
				sr := r.sts.Requests()
				if len(sr) != 1 {
					t.Fatalf("STS requests = %d, want 1", len(sr))
				}
				got := sr[0]
				if got.Region != region || got.SigningAlgorithm != "RS256" || got.DurationSeconds != 300 ||
					len(got.Audience) != 1 || got.Audience[0] != "api://AzureADTokenExchange" {
					t.Errorf("STS request = %+v, want region %s, RS256, 300 s, audience api://AzureADTokenExchange", got, region)
				}
				if reqs[0].AssertionSubject != identitytest.DefaultRoleARN {
					t.Errorf("assertion subject = %q, want the role ARN", reqs[0].AssertionSubject)
				}
			}
			if !strings.Contains(r.logs.String(), `"msg":"graph token","mode":"`+mode+`"`) {
				t.Errorf("no token line naming the mode in the log:\n%s", r.logs.String())
			}
			r.noSecretsLogged()
		})
	}
}

// TestTokensAreRefreshedBeforeExpiry: a token within five minutes of its
// end is not served from MSAL's cache: the credential fetches a new one.
// The Graph client's bearer policy (azcore) asks the credential again once
// the token it holds is in that window (at most every 30 s) or has run out,
// so Graph never receives an expired token. Graph here accepts a token
// only for as long as Entra said it would last, and records each bearer.
func TestTokensAreRefreshedBeforeExpiry(t *testing.T) {
	ctx := context.Background()
	opts := policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}}
	for _, mode := range confidentialModes {
		t.Run(mode, func(t *testing.T) {
			// An hour-long token is fetched once and carries both calls.
			long := newRig(t, rigOptions{mode: mode})
			for i := 0; i < 2; i++ {
				if err := long.list(); err != nil {
					t.Fatal(err)
				}
			}
			if issued := long.entra.Issued(); len(issued) != 1 || !slices.Equal(long.bearers(), []string{issued[0], issued[0]}) {
				t.Errorf("1-hour token: %d issued, Graph saw %d bearers; want one token used twice", len(issued), len(long.bearers()))
			}

			// A 4-minute token is still valid but inside the refresh
			// window: asked again, the credential fetches a new one.
			short := newRig(t, rigOptions{mode: mode, expiresIn: 240})
			first, err := short.cred.GetToken(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			second, err := short.cred.GetToken(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			if issued := short.entra.Issued(); len(issued) != 2 || first.Token != issued[0] || second.Token != issued[1] || issued[0] == issued[1] {
				t.Errorf("4-minute token: %d issued (first returned %v, second returned %v); want 2: refreshed while still valid",
					len(issued), len(issued) > 0 && first.Token == issued[0], len(issued) > 1 && second.Token == issued[1])
			}
			if mode == identity.ModeAWSFederation {
				if n := len(short.sts.Requests()); n != 2 {
					t.Errorf("STS requests = %d, want 2 (a fresh assertion per exchange)", n)
				}
			}

			// Through Graph: a token that has run out is replaced before
			// the next call, which carries the new one (Graph would refuse
			// the old one with 401).
			brief := newRig(t, rigOptions{mode: mode, expiresIn: 1})
			if err := brief.list(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(1100 * time.Millisecond)
			if err := brief.list(); err != nil {
				t.Fatalf("second call after the token ran out = %v", err)
			}
			issued := brief.entra.Issued()
			if got := brief.bearers(); len(issued) != 2 || issued[0] == issued[1] || !slices.Equal(got, issued) {
				t.Errorf("1-second token: %d issued, Graph saw %d bearers (second is the new token: %v); want 2, the second call with the new token",
					len(issued), len(got), len(got) == 2 && len(issued) == 2 && got[1] == issued[1])
			}
			short.noSecretsLogged()
			brief.noSecretsLogged()
		})
	}
}

// TestClouds: per cloud, the Entra authority and Graph root called and the
// scope and audience requested are that cloud's.
func TestClouds(t *testing.T) {
	for _, name := range []string{"global", "usgov", "usgovdod", "china"} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t, rigOptions{mode: identity.ModeAWSFederation, cloud: name})
			if err := r.list(); err != nil {
				t.Fatalf("ListAssignments = %v\n%s", err, r.logs.String())
			}
			seen := r.redir.Seen()
			wantPrefix := []string{
				r.cloud.AuthorityHost + tenantID + "/v2.0/.well-known/openid-configuration",
				r.cloud.AuthorityHost + tenantID + "/oauth2/v2.0/token",
				r.cloud.GraphRoot + "/beta/deviceManagement/deviceEnrollmentConfigurations/" + graphemu.ConfigESP + "/assignments",
			}
			for _, w := range wantPrefix {
				found := false
				for _, s := range seen {
					found = found || strings.TrimSuffix(s, "?") == w
				}
				if !found {
					t.Errorf("no call to %s; calls: %q", w, seen)
				}
			}
			for _, s := range seen {
				if h := host(s); h != host(r.cloud.AuthorityHost) && h != host(r.cloud.GraphRoot) {
					t.Errorf("call to %s, outside cloud %s", s, name)
				}
			}
			reqs := r.entra.Requests()
			if len(reqs) != 1 || !strings.HasPrefix(reqs[0].Scope, r.cloud.Scope) {
				t.Fatalf("token requests = %+v, want one for scope %s", reqs, r.cloud.Scope)
			}
			aud := config.TokenExchangeAudiences[name]
			if sr := r.sts.Requests(); len(sr) != 1 || len(sr[0].Audience) != 1 || sr[0].Audience[0] != aud {
				t.Errorf("STS audience = %+v, want %s", sr, aud)
			}
		})
	}
}

// miEndpoint is a plain-http managed-identity endpoint on 127.0.0.1 and a
// Graph (TLS) that accepts its tokens, both served by one emulator, with
// the identity endpoint's queries recorded.
type miEndpoint struct {
	emu      *graphemu.Server
	identity *httptest.Server
	graph    *httptest.Server

	mu      sync.Mutex
	queries []url.Values
}

func newMIEndpoint() *miEndpoint {
	m := &miEndpoint{emu: graphemu.New(nil)}
	m.identity = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == graphemu.TokenPath {
			m.mu.Lock()
			m.queries = append(m.queries, r.URL.Query())
			m.mu.Unlock()
		}
		m.emu.ServeHTTP(w, r)
	}))
	m.graph = httptest.NewTLSServer(m.emu)
	return m
}

// Queries returns the identity endpoint's queries, oldest first.
func (m *miEndpoint) Queries() []url.Values {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.queries)
}

func (m *miEndpoint) Close() {
	m.identity.Close()
	m.graph.Close()
}

// systemAssignedEndpoint serves the test process's one system-assigned
// identity. MSAL caches managed-identity tokens per process, and a
// system-assigned identity's entry is keyed by the resource alone, so the
// endpoint that issued the cached token, and the Graph that accepts it,
// live as long as the process: a later run in the same process
// (go test -count=2) is served from that cache, as a warm Lambda would be.
var systemAssignedEndpoint = sync.OnceValue(newMIEndpoint)

// TestManagedIdentity: system-assigned, and user-assigned by client id,
// object id and resource id, against a plain-http identity endpoint on
// 127.0.0.1, per cloud. Each user-assigned case has an identity and an
// endpoint of its own; the system-assigned one shares the process's.
func TestManagedIdentity(t *testing.T) {
	rid := "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/enrollhook-" + uuid.NewString()[:8]
	cases := []struct {
		cloud    string
		s        identity.Settings
		param    string
		wantsVal string
	}{
		{"global", identity.Settings{}, "", ""},
		{"usgov", identity.Settings{ClientID: uuid.NewString()}, "client_id", ""},
		{"usgovdod", identity.Settings{ObjectID: uuid.NewString()}, "object_id", ""},
		{"china", identity.Settings{ResourceID: rid}, "mi_res_id", rid},
	}
	for _, c := range cases {
		t.Run(c.cloud+"/"+c.param, func(t *testing.T) {
			ep := systemAssignedEndpoint()
			if c.param != "" {
				ep = newMIEndpoint()
				defer ep.Close()
			}
			t.Setenv("IDENTITY_ENDPOINT", ep.identity.URL+graphemu.TokenPath)
			t.Setenv("IDENTITY_HEADER", graphemu.DefaultIdentityHeader)
			cloud := config.Clouds[c.cloud]
			redir := identitytest.NewRedirect().Route(host(cloud.GraphRoot), ep.graph)
			logs := &syncBuffer{}
			log := slog.New(slog.NewJSONHandler(logs, nil))
			cred, err := identity.New(c.s, &identity.Options{Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			gc, err := graph.NewClient(cloud.GraphRoot+"/beta", cred, cloud.Scope, &graph.Options{Transport: redir, Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			ep.emu.Reset()
			for i := 0; i < 3; i++ {
				if _, _, err := gc.ListAssignments(context.Background(), graphemu.ConfigESP); err != nil {
					t.Fatalf("ListAssignments = %v\n%s", err, logs.String())
				}
			}
			got := ep.Queries()
			if len(got) != 1 {
				t.Fatalf("identity endpoint requests = %d, want 1 in the process's life (then cached)", len(got))
			}
			q := got[0]
			if q.Get("resource") != cloud.GraphRoot {
				t.Errorf("resource = %q, want %s", q.Get("resource"), cloud.GraphRoot)
			}
			want := c.wantsVal
			if want == "" {
				want = c.s.ClientID + c.s.ObjectID
			}
			for _, p := range []string{"client_id", "object_id", "mi_res_id"} {
				if v := q.Get(p); (p == c.param) != (v != "") || (p == c.param && v != want) {
					t.Errorf("%s = %q, want %q", p, v, map[bool]string{true: want}[p == c.param])
				}
			}
			for _, s := range redir.Seen() {
				if !strings.HasPrefix(s, cloud.GraphRoot+"/beta/") {
					t.Errorf("Graph call to %s, want under %s/beta", s, cloud.GraphRoot)
				}
			}
			for _, tok := range ep.emu.IssuedTokens() {
				if strings.Contains(logs.String(), tok) {
					t.Errorf("the log contains a token")
				}
			}
		})
	}
}

// TestManagedIdentityRefreshBeforeExpiry: a managed-identity token within
// five minutes of its end is fetched again rather than served from MSAL's
// cache.
func TestManagedIdentityRefreshBeforeExpiry(t *testing.T) {
	emu := graphemu.New(&graphemu.Options{TokenLifetime: 4 * time.Minute})
	srv := httptest.NewServer(emu)
	defer srv.Close()
	t.Setenv("IDENTITY_ENDPOINT", srv.URL+graphemu.TokenPath)
	t.Setenv("IDENTITY_HEADER", graphemu.DefaultIdentityHeader)
	cred, err := identity.New(identity.Settings{ClientID: uuid.NewString()}, &identity.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	opts := policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}}
	for i := 0; i < 2; i++ {
		if _, err := cred.GetToken(context.Background(), opts); err != nil {
			t.Fatal(err)
		}
	}
	if n := emu.TokenRequests(); n != 2 {
		t.Errorf("token requests = %d, want 2 (the 4-minute token refreshed while valid)", n)
	}
}

// TestFailuresNameTheModeAndTheFix: each failure reaches the Graph client
// as "could not get a token" (503 for the caller, no detail), and the error
// and the log name the mode, the step and the likely missing setup step.
func TestFailuresNameTheModeAndTheFix(t *testing.T) {
	wrongAudience := func(r *rig, is *identitytest.Issuer) []identitytest.FederatedCredential {
		return []identitytest.FederatedCredential{{Issuer: is.URL, Subject: is.Subject, Audience: "api://AzureADTokenExchange", Key: is.PublicKey()}}
	}
	wrongSubject := func(r *rig, is *identitytest.Issuer) []identitytest.FederatedCredential {
		return []identitytest.FederatedCredential{{Issuer: is.URL, Subject: "arn:aws:iam::123456789012:role/other", Audience: config.TokenExchangeAudiences[r.cloud.Name]}}
	}
	tests := []struct {
		name  string
		o     rigOptions
		setup func(r *rig)
		step  string
		code  string
		fix   string
	}{
		{"aws federation disabled", rigOptions{mode: identity.ModeAWSFederation}, func(r *rig) {
			r.sts.Fail(1, 403, "OutboundWebIdentityFederationDisabledException", "Outbound web identity federation is disabled for this account")
		}, identity.StepSTS, "OutboundWebIdentityFederationDisabledException", "aws iam enable-outbound-web-identity-federation"},
		{"aws role may not call sts", rigOptions{mode: identity.ModeAWSFederation}, func(r *rig) {
			r.sts.Fail(1, 403, "AccessDenied", "User is not authorized to perform: sts:GetWebIdentityToken")
		}, identity.StepSTS, "AccessDenied", "sts:GetWebIdentityToken for audience api://AzureADTokenExchange"},
		{"aws wrong audience", rigOptions{mode: identity.ModeAWSFederation, cloud: "usgov", federated: wrongAudience}, nil,
			identity.StepEntra, "AADSTS700212", "audience api://AzureADTokenExchangeUSGov"},
		{"aws wrong subject", rigOptions{mode: identity.ModeAWSFederation, federated: wrongSubject}, nil,
			identity.StepEntra, "AADSTS700213", "execution role ARN"},
		{"aws token endpoint 500", rigOptions{mode: identity.ModeAWSFederation}, func(r *rig) { r.entra.Fail(5, 500) },
			identity.StepEntra, "AADSTS50000", "usually transient"},
		{"workload token endpoint 400", rigOptions{mode: identity.ModeWorkloadIdentity}, func(r *rig) { r.entra.Fail(1, 400) },
			identity.StepEntra, "AADSTS900144", "federated identity credential of app " + appID},
		{"workload wrong audience", rigOptions{mode: identity.ModeWorkloadIdentity, cloud: "china", federated: wrongAudience}, nil,
			identity.StepEntra, "AADSTS700212", "audience api://AzureADTokenExchangeChina"},
		{"secret rejected", rigOptions{mode: identity.ModeClientSecret}, func(r *rig) {
			r.entra.Close()
			opts := identitytest.EntraOptions{TenantID: tenantID, ClientID: appID, Secret: "another"}
			r.entra = identitytest.NewEntra(&opts)
			r.t.Cleanup(r.entra.Close)
			r.redir.Route(host(r.cloud.AuthorityHost), r.entra.Server())
		}, identity.StepEntra, "AADSTS7000215", "AZURE_CLIENT_SECRET"},
		{"certificate token endpoint 500", rigOptions{mode: identity.ModeClientCertificate}, func(r *rig) { r.entra.Fail(5, 503) },
			identity.StepEntra, "AADSTS50000", "usually transient"},
		{"managed identity endpoint 400", rigOptions{mode: identity.ModeManagedIdentity}, func(r *rig) { r.miFail(http.StatusBadRequest) },
			identity.StepManagedIdentity, "400", "the managed-identity endpoint refused: check that the identity is assigned to this host"},
		{"managed identity endpoint 500", rigOptions{mode: identity.ModeManagedIdentity}, func(r *rig) { r.miFail(http.StatusInternalServerError) },
			identity.StepManagedIdentity, "500", "usually transient"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, tt.o)
			if tt.setup != nil {
				tt.setup(r)
			}
			err := r.list()
			var ce *change.Error
			if !errors.As(err, &ce) || ce.Code != change.CodeUnavailable || ce.Message != "could not get a token for Graph" {
				t.Fatalf("ListAssignments = %v, want CodeUnavailable could not get a token", err)
			}
			var ie *identity.Error
			if !errors.As(err, &ie) {
				t.Fatalf("no *identity.Error in %v", err)
			}
			if ie.Mode != tt.o.mode || ie.Step != tt.step || ie.Code != tt.code || !strings.Contains(ie.Fix, tt.fix) {
				t.Errorf("identity error = mode %q step %q code %q fix %q; want %s, %s, %s, fix containing %q",
					ie.Mode, ie.Step, ie.Code, ie.Fix, tt.o.mode, tt.step, tt.code, tt.fix)
			}
			logs := r.logs.String()
			if !strings.Contains(logs, `"msg":"graph credential failed","mode":"`+tt.o.mode+`","step":"`+tt.step+`"`) ||
				!strings.Contains(logs, tt.code) || !strings.Contains(logs, tt.fix) {
				t.Errorf("the log does not name the mode, the step, the code and the fix:\n%s", logs)
			}
			if n := len(r.emu.Calls()); n != 0 {
				t.Errorf("Graph calls = %d, want none without a token", n)
			}
			r.noSecretsLogged()
		})
	}
}

// TestWorkloadTokenFileGone: a token file that disappears after the cold
// start is reported as the token file step.
func TestWorkloadTokenFileGone(t *testing.T) {
	r := newRig(t, rigOptions{mode: identity.ModeWorkloadIdentity})
	if err := os.Remove(r.tokenFile); err != nil {
		t.Fatal(err)
	}
	err := r.list()
	var ie *identity.Error
	if !errors.As(err, &ie) || ie.Step != identity.StepTokenFile || !strings.Contains(ie.Fix, "AZURE_FEDERATED_TOKEN_FILE") {
		t.Fatalf("ListAssignments = %v, want the token file step", err)
	}
}

func TestNewRefusesUnknownModes(t *testing.T) {
	if _, err := identity.New(identity.Settings{Mode: "password"}, nil); err == nil || !strings.Contains(err.Error(), "unknown mode") {
		t.Fatalf("New(password) = %v", err)
	}
	if _, err := identity.New(identity.Settings{Mode: identity.ModeAWSFederation, TenantID: tenantID, ClientID: appID}, nil); err == nil || !strings.Contains(err.Error(), "region") {
		t.Fatalf("New(aws-federation without a region) = %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.pem")
	_ = os.WriteFile(bad, []byte("not a certificate"), 0o600)
	if _, err := identity.New(identity.Settings{Mode: identity.ModeClientCertificate, TenantID: tenantID, ClientID: appID, CertificatePath: bad}, nil); err == nil || !strings.Contains(err.Error(), "AZURE_CLIENT_CERTIFICATE_PATH") {
		t.Fatalf("New(client-certificate, bad file) = %v", err)
	}
}

// TestLabModesWarn: the lab modes say at construction that a secret is in
// use; the others do not.
func TestLabModesWarn(t *testing.T) {
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	if _, err := identity.New(identity.Settings{Mode: identity.ModeClientSecret, TenantID: tenantID, ClientID: appID, ClientSecret: secret}, &identity.Options{Logger: log}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `"level":"WARN"`) || !strings.Contains(logs.String(), "for labs only") || strings.Contains(logs.String(), secret) {
		t.Errorf("client-secret warning = %s", logs.String())
	}
	logs2 := &syncBuffer{}
	fake := identitytest.NewSTS(nil)
	defer fake.Close()
	if _, err := identity.New(identity.Settings{Mode: identity.ModeAWSFederation, TenantID: tenantID, ClientID: appID, AWSRegion: region},
		&identity.Options{Logger: slog.New(slog.NewJSONHandler(logs2, nil)), AWSConfig: fake.AWSConfig(region)}); err != nil {
		t.Fatal(err)
	}
	if logs2.String() != "" {
		t.Errorf("aws-federation logged at construction: %s", logs2.String())
	}
}

// stsRecorder is an AWS HTTP client that records the URL the SDK resolved
// and sends the request to the fake STS.
type stsRecorder struct {
	mu   sync.Mutex
	urls []string
	fake *url.URL
}

func (s *stsRecorder) Do(req *http.Request) (*http.Response, error) {
	s.mu.Lock()
	s.urls = append(s.urls, req.URL.Scheme+"://"+req.URL.Host)
	s.mu.Unlock()
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host, out.Host = s.fake.Scheme, s.fake.Host, ""
	return http.DefaultTransport.RoundTrip(out)
}

// TestRegionalSTSEndpoint: GetWebIdentityToken goes to the STS endpoint of
// AWS_REGION (the global endpoint does not serve it), in every partition.
func TestRegionalSTSEndpoint(t *testing.T) {
	fake := identitytest.NewSTS(nil)
	defer fake.Close()
	u, _ := url.Parse(fake.URL())
	for region, want := range map[string]string{
		"us-east-1":     "https://sts.us-east-1.amazonaws.com",
		"eu-west-1":     "https://sts.eu-west-1.amazonaws.com",
		"us-gov-west-1": "https://sts.us-gov-west-1.amazonaws.com",
		"cn-north-1":    "https://sts.cn-north-1.amazonaws.com.cn",
	} {
		rec := &stsRecorder{fake: u}
		cfg := fake.AWSConfig("ignored-" + region)
		cfg.BaseEndpoint = nil
		cfg.HTTPClient = rec
		entra := identitytest.NewEntra(&identitytest.EntraOptions{Federated: []identitytest.FederatedCredential{fake.Federated(identity.DefaultAudience)}})
		redir := identitytest.NewRedirect().Route("login.microsoftonline.com", entra.Server())
		cred, err := identity.New(identity.Settings{Mode: identity.ModeAWSFederation, TenantID: tenantID, ClientID: appID, AWSRegion: region},
			&identity.Options{ClientOptions: policy.ClientOptions{Transport: redir}, DisableInstanceDiscovery: true, AWSConfig: cfg,
				Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}}); err != nil {
			t.Errorf("%s: GetToken = %v", region, err)
		}
		entra.Close()
		if len(rec.urls) != 1 || rec.urls[0] != want {
			t.Errorf("%s: STS called at %q, want %s", region, rec.urls, want)
		}
		if sr := fake.Requests(); sr[len(sr)-1].Region != region {
			t.Errorf("%s: SigV4 scope region = %s", region, sr[len(sr)-1].Region)
		}
	}
}
