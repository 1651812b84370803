package main

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/functions/internal/rietest"
	"github.com/enrollhook/enrollhook/pkg/graphemu"
	"github.com/enrollhook/enrollhook/pkg/identity/identitytest"
)

const (
	fedTenant = "8a1b2c3d-0000-4000-8000-00000000a11c"
	fedApp    = "5f6e7d8c-0000-4000-8000-0000000000a9"
)

// fedRig is a fake STS and a fake Entra (its tokens issued by the Graph
// emulator, so Graph accepts them), and the emulator as Graph over plain
// http on loopback, for a bootstrap configured for aws-federation.
type fedRig struct {
	emu   *graphemu.Server
	graph *httptest.Server
	entra *identitytest.Entra
	sts   *identitytest.STS
}

func newFedRig(t *testing.T) *fedRig {
	t.Helper()
	r := &fedRig{emu: newEmulator(nil), sts: identitytest.NewSTS(nil)}
	r.graph = httptest.NewServer(identitytest.UnwrapBearer(r.emu))
	t.Cleanup(r.graph.Close)
	t.Cleanup(r.sts.Close)
	r.entra = identitytest.NewEntra(&identitytest.EntraOptions{TenantID: fedTenant, ClientID: fedApp,
		Federated: []identitytest.FederatedCredential{r.sts.Federated("api://AzureADTokenExchange")},
		Mint:      identitytest.EmulatorMint(r.emu, graphemu.TokenPath, graphemu.DefaultIdentityHeader)})
	t.Cleanup(r.entra.Close)
	return r
}

// TestAWSFederationUnderRuntimeEmulator runs the real bootstrap as Lambda
// runs it with aws-federation: the execution role's credentials in
// AWS_ACCESS_KEY_ID and friends, AWS_REGION set, the SDK's default
// configuration chain. STS is the fake (AWS_ENDPOINT_URL_STS), Entra the TLS
// fake (AZURE_AUTHORITY_HOST, its certificate trusted through
// SSL_CERT_FILE), Graph the emulator.
func TestAWSFederationUnderRuntimeEmulator(t *testing.T) {
	r := newFedRig(t)
	certFile := t.TempDir() + "/entra.pem"
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.entra.Server().Certificate().Raw})
	if err := os.WriteFile(certFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"ENROLLHOOK_CREDENTIAL=aws-federation",
		"AZURE_TENANT_ID=" + fedTenant, "AZURE_CLIENT_ID=" + fedApp,
		"AZURE_AUTHORITY_HOST=" + r.entra.URL(),
		"SSL_CERT_FILE=" + certFile,
		"AWS_ENDPOINT_URL_STS=" + r.sts.URL(),
		"AWS_ACCESS_KEY_ID=AKIAEXECUTIONROLE", "AWS_SECRET_ACCESS_KEY=execution-role-secret", "AWS_SESSION_TOKEN=execution-role-session",
		"ENROLLHOOK_GRAPH_URL=" + r.graph.URL + "/beta",
		"ENROLLHOOK_SECRET_GENERIC=" + rieSecret,
	}
	fn := startRIE(t, env...)
	raw, err := os.ReadFile("../../events/generic-approved.json")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if out := fn.invoke(t, resign(t, raw, rieSecret, false)); out.StatusCode != http.StatusOK {
			t.Fatalf("invoke %d: %d %s\n%s", i+1, out.StatusCode, out.Body, fn.logs.String())
		}
	}
	sr := r.sts.Requests()
	if len(sr) != 1 || sr[0].Region != "eu-west-1" || !sr[0].Signed || sr[0].Audience[0] != "api://AzureADTokenExchange" {
		t.Errorf("STS requests = %+v, want one signed for eu-west-1 with the Entra audience", sr)
	}
	if er := r.entra.Requests(); len(er) != 1 || er[0].Flow != "assertion" || er[0].AssertionSubject != identitytest.DefaultRoleARN {
		t.Errorf("Entra requests = %+v, want one assertion exchange for the role", er)
	}
	logs := fn.logs.AwaitCount(`"message":"webhook"`, 2)
	for _, s := range append(r.entra.Issued(), "execution-role-secret", "execution-role-session", "eyJ") {
		if strings.Contains(logs, s) {
			t.Errorf("the function's log contains a token or a credential")
		}
	}
	if !strings.Contains(logs, `"mode":"aws-federation"`) {
		t.Errorf("the log does not show the credential mode:\n%s", logs)
	}
}

// TestPreflightEventUnderRuntimeEmulator: the deployed function answers an
// enrollhookCheck invoke with the preflight, run with its own environment,
// and API Gateway events still reach the handler.
func TestPreflightEventUnderRuntimeEmulator(t *testing.T) {
	emuState := newEmulator(nil)
	emu := httptest.NewServer(emuState)
	defer emu.Close()
	fn := startRIE(t, append(emulatorEnv(emu), "ENROLLHOOK_SECRET_GENERIC="+rieSecret)...)

	res := rietest.Preflight(t, fn.url, graphemu.ConfigESP)
	if !res.Ready || len(res.Report) < 4 || !strings.HasPrefix(res.Report[0], "credential    ok") {
		t.Errorf("preflight = %+v", res)
	}
	emuState.SetPermission(graphemu.PermissionNone)
	res = rietest.Preflight(t, fn.url, graphemu.ConfigESP)
	if res.Ready || !strings.Contains(strings.Join(res.Report, "\n"), "permission    FAIL") {
		t.Errorf("preflight without permission = %+v", res)
	}
	if res := rietest.Preflight(t, fn.url, "../x"); res.Ready || len(res.Report) != 1 {
		t.Errorf("preflight with a bad id = %+v", res)
	}
	emuState.SetPermission(graphemu.PermissionReadWrite)
	raw, err := os.ReadFile("../../events/generic-approved.json")
	if err != nil {
		t.Fatal(err)
	}
	if out := fn.invoke(t, resign(t, raw, rieSecret, false)); out.StatusCode != http.StatusOK {
		t.Errorf("API Gateway event after the preflight: %d %s", out.StatusCode, out.Body)
	}
}
