package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/graphemu"
	"github.com/enrollhook/enrollhook/pkg/identity/identitytest"
	"github.com/enrollhook/enrollhook/pkg/preflight"
	"github.com/enrollhook/enrollhook/pkg/wiring"
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

// wiring is the commands' wiring options with the local Entra and STS.
func (r *fedRig) wiring() *wiring.Options { return &wiring.Options{Credential: r.Cred} }

// verdicts parses the preflight's output into step -> verdict.
func verdicts(out string) map[string]string {
	got := map[string]string{}
	re := regexp.MustCompile(`^(credential|token|graph|permission)\s+(ok|FAIL|warn|skip)\s`)
	for _, line := range strings.Split(out, "\n") {
		if m := re.FindStringSubmatch(line); m != nil {
			// The last verdict of a step wins (permission may have two).
			if got[m[1]] != "FAIL" {
				got[m[1]] = m[2]
			}
		}
	}
	return got
}

// TestCheckAgainstTheEmulator drives `bootstrap check` with the managed
// identity against the Graph emulator, for success and each failure the
// preflight can name.
func TestCheckAgainstTheEmulator(t *testing.T) {
	tests := []struct {
		name     string
		emuOpts  *graphemu.Options
		setup    func(emu *graphemu.Server, env map[string]string, graphURL string)
		config   string
		want     map[string]string
		wantText []string
	}{
		{name: "ready", want: map[string]string{"credential": "ok", "token": "ok", "graph": "ok", "permission": "warn"},
			wantText: []string{"read 2 assignment(s)", "ready:", "write permission not verified"}},
		{name: "ready, roles in the token", emuOpts: &graphemu.Options{TokenRoles: true},
			want:     map[string]string{"credential": "ok", "token": "ok", "graph": "ok", "permission": "ok"},
			wantText: []string{"read 2 assignment(s)", "ready:", "the token grants DeviceManagementServiceConfig.ReadWrite.All"}},
		{name: "read permission only, roles in the token", emuOpts: &graphemu.Options{Permission: graphemu.PermissionRead, TokenRoles: true},
			want:     map[string]string{"credential": "ok", "token": "ok", "graph": "ok", "permission": "FAIL"},
			wantText: []string{"read 2 assignment(s)", "the token lacks a write permission"}},
		{name: "configuration problem", setup: func(_ *graphemu.Server, env map[string]string, _ string) {
			env[config.EnvCredential] = config.CredentialAWS
		}, want: map[string]string{"credential": "FAIL", "token": "skip", "graph": "skip", "permission": "skip"},
			wantText: []string{config.EnvTenantID + " is required", config.EnvAWSRegion + " is required"}},
		{name: "identity endpoint refuses", setup: func(_ *graphemu.Server, env map[string]string, _ string) {
			env["IDENTITY_HEADER"] = "wrong"
		}, want: map[string]string{"credential": "ok", "token": "FAIL", "graph": "skip", "permission": "skip"},
			wantText: []string{"managed-identity: managed-identity endpoint failed", "fix: the managed-identity endpoint refused"}},
		{name: "graph unreachable", setup: func(_ *graphemu.Server, env map[string]string, _ string) {
			dead := httptest.NewServer(nil)
			dead.Close()
			env[config.EnvGraphURL] = dead.URL + "/beta"
		}, want: map[string]string{"credential": "ok", "token": "ok", "graph": "FAIL", "permission": "skip"},
			wantText: []string{"Graph could not be reached", "is reachable from here"}},
		{name: "graph failing", setup: func(emu *graphemu.Server, _ map[string]string, _ string) { emu.Fail(10, 503) },
			want:     map[string]string{"credential": "ok", "token": "ok", "graph": "FAIL", "permission": "skip"},
			wantText: []string{"Graph is unavailable", "status 503"}},
		{name: "graph refuses the read", setup: func(emu *graphemu.Server, _ map[string]string, _ string) { emu.Fail(1, http.StatusBadRequest) },
			want: map[string]string{"credential": "ok", "token": "ok", "graph": "FAIL", "permission": "skip"},
			wantText: []string{"graph         FAIL  Graph refused the read (400 UnknownError)\n",
				"fix: check ENROLLHOOK_GRAPH_VERSION and ENROLLHOOK_GRAPH_URL\n", "permission    skip  not checked: an earlier step failed"}},
		{name: "no permission", setup: func(emu *graphemu.Server, _ map[string]string, _ string) { emu.SetPermission(graphemu.PermissionNone) },
			want:     map[string]string{"credential": "ok", "token": "ok", "graph": "ok", "permission": "FAIL"},
			wantText: []string{"Graph answered 403", "DeviceManagementServiceConfig.ReadWrite.All with admin consent"}},
		{name: "token for another cloud", emuOpts: &graphemu.Options{Audiences: []string{"https://graph.microsoft.us"}},
			want:     map[string]string{"credential": "ok", "token": "ok", "graph": "ok", "permission": "FAIL"},
			wantText: []string{"401 InvalidAuthenticationToken", "ENROLLHOOK_GRAPH_CLOUD (global)"}},
		{name: "no such configuration", config: "nope_Config",
			want:     map[string]string{"credential": "ok", "token": "ok", "graph": "ok", "permission": "FAIL"},
			wantText: []string{"Intune has no enrollment configuration nope_Config"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu := newEmulator(tt.emuOpts)
			srv := httptest.NewServer(emu)
			defer srv.Close()
			env := map[string]string{
				config.EnvGraphURL: srv.URL + "/beta",
				// MSAL's managed-identity cache is process-wide: one
				// identity per case.
				config.EnvClientID:  uuid.NewString(),
				"IDENTITY_ENDPOINT": srv.URL + graphemu.TokenPath,
				"IDENTITY_HEADER":   graphemu.DefaultIdentityHeader,
			}
			if tt.setup != nil {
				tt.setup(emu, env, srv.URL)
			}
			t.Setenv("IDENTITY_ENDPOINT", env["IDENTITY_ENDPOINT"])
			t.Setenv("IDENTITY_HEADER", env["IDENTITY_HEADER"])
			cfgID := graphemu.ConfigESP
			if tt.config != "" {
				cfgID = tt.config
			}
			var out, errOut bytes.Buffer
			err := run(context.Background(), []string{"check", "-configuration", cfgID, "-timeout", "10s"},
				func(k string) string { return env[k] }, &out, &errOut, nil)
			failed := false
			for _, v := range tt.want {
				failed = failed || v == "FAIL"
			}
			if failed != errors.Is(err, preflight.ErrFailed) {
				t.Errorf("run(check) = %v, want a failure: %v", err, failed)
			}
			got := verdicts(out.String())
			for step, v := range tt.want {
				if got[step] != v {
					t.Errorf("%s = %q, want %q\n%s", step, got[step], v, out.String())
				}
			}
			for _, w := range tt.wantText {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			for _, tok := range emu.IssuedTokens() {
				if strings.Contains(out.String()+errOut.String(), tok) {
					t.Errorf("the preflight printed a token")
				}
			}
		})
	}
}

// TestCheckWithAWSFederation: the preflight names STS's failure and the
// step to take, and passes once federation works.
func TestCheckWithAWSFederation(t *testing.T) {
	r := newFedRig(t, nil, nil)
	var out bytes.Buffer
	r.STS.Fail(1, 403, "OutboundWebIdentityFederationDisabledException", "disabled")
	err := run(context.Background(), []string{"check", "-configuration", graphemu.ConfigESP}, r.getenv, &out, &bytes.Buffer{}, r.wiring())
	if !errors.Is(err, preflight.ErrFailed) || verdicts(out.String())["token"] != "FAIL" ||
		!strings.Contains(out.String(), "aws-federation: sts:GetWebIdentityToken failed (OutboundWebIdentityFederationDisabledException)") ||
		!strings.Contains(out.String(), "fix: outbound identity federation is off in this AWS account: run `aws iam enable-outbound-web-identity-federation`") {
		t.Errorf("run(check) = %v\n%s", err, out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"check", "-configuration", graphemu.ConfigESP}, r.getenv, &out, &bytes.Buffer{}, r.wiring()); err != nil {
		t.Fatalf("run(check) = %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "aws-federation: app "+fedApp+" in tenant "+fedTenant) || !strings.Contains(out.String(), "ready:") {
		t.Errorf("output:\n%s", out.String())
	}
}

// TestCheckWritePermissionFromTheToken: with a JWT from Entra, the
// preflight reads the token's roles and says whether writes would be
// allowed, beyond the read it made; with an opaque token it can only warn.
func TestCheckWritePermissionFromTheToken(t *testing.T) {
	const (
		readWrite = "DeviceManagementServiceConfig.ReadWrite.All"
		readOnly  = "DeviceManagementServiceConfig.Read.All"
		fail      = "permission    FAIL  the token lacks a write permission, so every change would answer 502 graph-permission-denied\n" +
			"                    fix: grant app " + fedApp + " the Microsoft Graph application permission " + readWrite +
			" with admin consent, in the tenant's own cloud (global); the tenant needs an Intune license\n"
	)
	read := "permission    ok    read 2 assignment(s) of " + graphemu.ConfigESP + "\n"
	tests := []struct {
		name       string
		jwt        bool
		roles      []string
		permission graphemu.Permission
		ready      bool
		want       string // the lines after the graph step, verbatim
	}{
		{"granted", true, []string{"User.Read.All", readWrite}, graphemu.PermissionReadWrite, true,
			read + "permission    ok    the token grants User.Read.All, " + readWrite + "\n" +
				"ready: the function can read Intune enrollment configurations with this configuration\n"},
		{"read only", true, []string{readOnly}, graphemu.PermissionRead, false, read + fail},
		{"no roles claim", true, nil, graphemu.PermissionRead, false, read + fail},
		{"opaque token", false, nil, graphemu.PermissionReadWrite, true,
			read + "permission    warn  write permission not verified: the token is not a JWT whose roles can be read\n" +
				"ready: the function can read Intune enrollment configurations with this configuration\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newFedRig(t, nil, &graphemu.Options{Permission: tt.permission}, func(o *identitytest.EntraOptions) {
				o.JWT, o.Roles = tt.jwt, tt.roles
			})
			var out bytes.Buffer
			err := run(context.Background(), []string{"check", "-configuration", graphemu.ConfigESP}, r.getenv, &out, &bytes.Buffer{}, r.wiring())
			if tt.ready != (err == nil) || (err != nil && !errors.Is(err, preflight.ErrFailed)) {
				t.Errorf("run(check) = %v, want ready %v", err, tt.ready)
			}
			got := out.String()
			_, after, ok := strings.Cut(got, "graph         ok    "+r.Graph.URL+"/beta answered (request-id ")
			if !ok {
				t.Fatalf("no graph ok line:\n%s", got)
			}
			if _, after, _ = strings.Cut(after, "\n"); after != tt.want {
				t.Errorf("after the graph step:\n%s\nwant:\n%s", after, tt.want)
			}
			// The preflight's own token and the Graph client's (which asks
			// for CAE, a separate cache in azidentity).
			issued := r.Entra.Issued()
			if len(issued) == 0 {
				t.Fatal("no token issued")
			}
			for _, tok := range issued {
				if _, isJWT := tokenIsJWT(tok); isJWT != tt.jwt {
					t.Errorf("issued token is a JWT: %v, want %v", isJWT, tt.jwt)
				}
				if strings.Contains(got, tok) {
					t.Errorf("the preflight printed the token")
				}
			}
			if strings.Contains(got, "eyJ") {
				t.Errorf("the preflight printed a JWT")
			}
		})
	}
}

// TestCheckCredentialCannotBeBuilt: a credential that cannot be built (a
// certificate file that holds no certificate) fails the first step, alone
// or listed with the configuration's other problems.
func TestCheckCredentialCannotBeBuilt(t *testing.T) {
	bad := t.TempDir() + "/lab.pem"
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{config.EnvCredential: config.CredentialCertificate, config.EnvTenantID: fedTenant,
		config.EnvClientID: fedApp, config.EnvClientCertificate: bad, config.EnvGraphURL: "http://127.0.0.1:9/beta"}
	skips := "token         skip  not checked: an earlier step failed\n" +
		"graph         skip  not checked: an earlier step failed\n" +
		"permission    skip  not checked: an earlier step failed\n"
	var out bytes.Buffer
	err := run(context.Background(), []string{"check", "-configuration", graphemu.ConfigESP}, func(k string) string { return env[k] }, &out, &bytes.Buffer{}, nil)
	first, rest, _ := strings.Cut(out.String(), "\n")
	if !errors.Is(err, preflight.ErrFailed) || rest != skips ||
		!strings.HasPrefix(first, "credential    FAIL  identity: client-certificate: "+config.EnvClientCertificate+": ") {
		t.Errorf("run(check) = %v\n%s", err, out.String())
	}

	env[config.EnvGraphVersion] = "v2"
	out.Reset()
	err = run(context.Background(), []string{"check", "-configuration", graphemu.ConfigESP}, func(k string) string { return env[k] }, &out, &bytes.Buffer{}, nil)
	lines := strings.Split(out.String(), "\n")
	if !errors.Is(err, preflight.ErrFailed) || len(lines) != 7 ||
		lines[0] != "credential    FAIL  the configuration has problems; the function would not start:" ||
		!strings.HasPrefix(lines[1], "                    "+config.EnvGraphVersion+" must be beta or v1.0") ||
		!strings.HasPrefix(lines[2], "                    identity: client-certificate: "+config.EnvClientCertificate+": ") ||
		strings.Join(lines[3:], "\n") != skips {
		t.Errorf("run(check) with two problems = %v\n%s", err, out.String())
	}
}

func TestCheckUsage(t *testing.T) {
	for _, args := range [][]string{{"check"}, {"check", "-configuration", "../x"}, {"check", "-configuration", "a", "extra"}} {
		err := run(context.Background(), args, func(string) string { return "" }, &bytes.Buffer{}, &bytes.Buffer{}, nil)
		if err == nil || errors.Is(err, preflight.ErrFailed) {
			t.Errorf("run(%q) = %v, want a usage error", args, err)
		}
	}
}

// tokenIsJWT reports whether tok is a JWT with a JSON payload.
func tokenIsJWT(tok string) ([]string, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	var claims map[string]any
	return nil, err == nil && json.Unmarshal(payload, &claims) == nil
}

// TestCheckEmulator: `check -emulator` runs the preflight against the
// embedded Graph emulator that make run uses, and every step passes.
func TestCheckEmulator(t *testing.T) {
	t.Setenv("IDENTITY_ENDPOINT", "")
	t.Setenv("IDENTITY_HEADER", "")
	var out bytes.Buffer
	// MSAL's managed-identity token cache is process-wide and keyed by the
	// identity, not the endpoint: each run (go test -count) asks as an
	// identity of its own, or it would offer the last emulator's token.
	clientID := uuid.NewString()
	env := func(k string) string {
		if k == config.EnvClientID {
			return clientID
		}
		return ""
	}
	if err := run(context.Background(), []string{"check", "-emulator"}, env, &out, &bytes.Buffer{}, &wiring.Options{}); err != nil {
		t.Fatalf("check -emulator = %v\n%s", err, out.String())
	}
	got := verdicts(out.String())
	for _, step := range []string{"credential", "token", "graph", "permission"} {
		if got[step] != "ok" {
			t.Errorf("%s = %q, want ok:\n%s", step, got[step], out.String())
		}
	}
	if !strings.Contains(out.String(), "ready:") {
		t.Errorf("no ready line:\n%s", out.String())
	}
}
