// Package wiringtest holds the test rig of the functions' aws-federation
// wiring, shared by the tests of pkg/wiring and functions/local.
package wiringtest

import (
	"bytes"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/graphemu"
	"github.com/enrollhook/enrollhook/pkg/identity"
	"github.com/enrollhook/enrollhook/pkg/identity/identitytest"
	"github.com/enrollhook/enrollhook/pkg/source/generic"
)

// The rig's tenant, app and generic sender secret.
const (
	Tenant = "8a1b2c3d-0000-4000-8000-00000000a11c"
	App    = "5f6e7d8c-0000-4000-8000-0000000000a9"
	Secret = "whsec_Y3JlZGVudGlhbC10ZXN0LXNlY3JldC0wMTIzNDU2"
)

// Federation is the function configured for aws-federation in the global
// cloud, with a fake STS, a fake Entra (its tokens issued by the Graph
// emulator, so Graph accepts them) and the emulator as Graph over plain
// http on loopback.
type Federation struct {
	Emu   *graphemu.Server
	Graph *httptest.Server
	Entra *identitytest.Entra
	STS   *identitytest.STS
	// Env is the function's environment; Logs a buffer for its log.
	Env  map[string]string
	Logs *bytes.Buffer
	// Cred reaches the local Entra and STS.
	Cred *identity.Options
}

// NewFederation starts the rig around emu (the caller's, so that its
// tokens reach the caller's secret sink). fics, when given, names the
// federated credentials the fake Entra trusts (default: the fake STS's,
// for api://AzureADTokenExchange); entra adjusts the fake Entra's options
// (JWT access tokens and their roles, say); the emulator behind
// identitytest.UnwrapBearer accepts such tokens too.
func NewFederation(t testing.TB, emu *graphemu.Server, fics func(sts *identitytest.STS) []identitytest.FederatedCredential,
	entra ...func(*identitytest.EntraOptions)) *Federation {
	t.Helper()
	r := &Federation{Emu: emu, STS: identitytest.NewSTS(nil), Logs: &bytes.Buffer{}}
	r.Graph = httptest.NewServer(identitytest.UnwrapBearer(r.Emu))
	t.Cleanup(r.Graph.Close)
	t.Cleanup(r.STS.Close)
	fc := []identitytest.FederatedCredential{r.STS.Federated("api://AzureADTokenExchange")}
	if fics != nil {
		fc = fics(r.STS)
	}
	eo := &identitytest.EntraOptions{TenantID: Tenant, ClientID: App, Federated: fc,
		Mint: identitytest.EmulatorMint(r.Emu, graphemu.TokenPath, graphemu.DefaultIdentityHeader)}
	for _, f := range entra {
		f(eo)
	}
	r.Entra = identitytest.NewEntra(eo)
	t.Cleanup(r.Entra.Close)
	redir := identitytest.NewRedirect().Route("login.microsoftonline.com", r.Entra.Server())
	r.Cred = &identity.Options{
		ClientOptions:            policy.ClientOptions{Transport: redir, Retry: policy.RetryOptions{RetryDelay: 5 * time.Millisecond, MaxRetryDelay: 20 * time.Millisecond}},
		DisableInstanceDiscovery: true,
		AWSConfig:                r.STS.AWSConfig("eu-west-1"),
	}
	r.Env = map[string]string{
		config.EnvCredential: config.CredentialAWS, config.EnvTenantID: Tenant, config.EnvClientID: App,
		config.EnvAWSRegion: "eu-west-1", config.EnvGraphURL: r.Graph.URL + "/beta",
		config.SecretKey(generic.Name): Secret,
	}
	return r
}

// Getenv reads the rig's environment, as config.Load's getenv.
func (r *Federation) Getenv(k string) string { return r.Env[k] }
