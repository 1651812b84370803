package graphemu_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/enrollhook/enrollhook/pkg/graphemu"
	"github.com/google/uuid"
)

func TestStart(t *testing.T) {
	emu := graphemu.New(nil)
	root, shutdown, err := emu.Start("")
	if err != nil {
		t.Fatalf("Start(\"\") = %v", err)
	}
	defer func() {
		if err := shutdown(context.Background()); err != nil {
			t.Errorf("shutdown = %v", err)
		}
	}()
	if got, want := graphemu.IdentityEndpoint(root), root+"/msi/token"; got != want {
		t.Errorf("IdentityEndpoint(%q) = %q, want %q", root, got, want)
	}
	if got, want := graphemu.GraphURL(root+"/", "v1.0"), root+"/v1.0"; got != want {
		t.Errorf("GraphURL = %q, want %q", got, want)
	}

	r, _ := http.NewRequest(http.MethodGet, graphemu.IdentityEndpoint(root)+"?api-version=2019-08-01&resource=https://graph.microsoft.com", nil)
	r.Header.Set(graphemu.IdentityHeaderName, graphemu.DefaultIdentityHeader)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	r, _ = http.NewRequest(http.MethodGet, graphemu.GraphURL(root, "beta")+"/deviceManagement/deviceEnrollmentConfigurations", nil)
	r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET configurations through Start = %d", resp.StatusCode)
	}

	for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:0", "example.com:80", "no-port"} {
		if _, _, err := emu.Start(addr); err == nil {
			t.Errorf("Start(%q) succeeded, want a loopback-only refusal", addr)
		}
	}
}

// TestManagedIdentityCredential drives azidentity's real credential against
// the token endpoint, the way the function gets its Graph token.
func TestManagedIdentityCredential(t *testing.T) {
	// azidentity judges its cached token by the wall clock, so the
	// emulator's clock starts now rather than at startTime: a token issued
	// at a fixed date would already be expired once that date has passed.
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	h := newHarness(t, &graphemu.Options{Now: clk.Now})
	t.Setenv("IDENTITY_ENDPOINT", graphemu.IdentityEndpoint(h.url))
	t.Setenv("IDENTITY_HEADER", graphemu.DefaultIdentityHeader)
	// MSAL caches managed-identity tokens per process: a fresh client id
	// keeps this test independent of any other in the binary.
	clientID := uuid.NewString()
	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ID: azidentity.ClientID(clientID)})
	if err != nil {
		t.Fatal(err)
	}
	before := h.emu.TokenRequests()
	opts := policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}}
	tok, err := cred.GetToken(context.Background(), opts)
	if err != nil {
		t.Fatalf("GetToken = %v", err)
	}
	if _, err := cred.GetToken(context.Background(), opts); err != nil {
		t.Fatalf("second GetToken = %v", err)
	}
	if n := h.emu.TokenRequests() - before; n != 1 {
		t.Errorf("token requests = %d, want 1 (the second GetToken is served from cache)", n)
	}
	if r := h.do(req{method: http.MethodGet, path: configs("beta"), auth: "Bearer " + tok.Token}); r.status != 200 {
		t.Errorf("Graph with azidentity's token = %d %s", r.status, r.body)
	}
	if !tok.ExpiresOn.Equal(clk.Now().Add(time.Hour)) {
		t.Errorf("ExpiresOn = %v, want the clock plus one hour", tok.ExpiresOn)
	}
}
