package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	testTenant = "8a1b2c3d-0000-4000-8000-00000000a11c"
	testApp    = "5f6e7d8c-0000-4000-8000-0000000000a9"
)

func problems(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("Load = %v, want *Error", err)
	}
	return ce.Problems
}

func TestCredentialModesLoad(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	cert := filepath.Join(dir, "lab.pem")
	for _, f := range []string{token, cert} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	app := map[string]string{EnvTenantID: testTenant, EnvClientID: testApp}
	with := func(m map[string]string, extra ...string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i+1 < len(extra); i += 2 {
			out[extra[i]] = extra[i+1]
		}
		return out
	}
	tests := []struct {
		name string
		env  map[string]string
		want func(c Config) bool
	}{
		{"managed system-assigned", nil, func(c Config) bool { return c.Credential == CredentialManagedI && c.ClientID == "" }},
		{"managed by client id", map[string]string{EnvClientID: testApp}, func(c Config) bool { return c.ClientID == testApp }},
		{"managed by object id", map[string]string{EnvManagedObjectID: testApp}, func(c Config) bool { return c.Identity.ObjectID == testApp }},
		{"managed by resource id", map[string]string{EnvManagedResourceID: "/subscriptions/1/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/eh"},
			func(c Config) bool { return c.Identity.ResourceID != "" }},
		{"workload", with(app, EnvCredential, CredentialWorkloadI, EnvFederatedTokenFile, token),
			func(c Config) bool { return c.Identity.TokenFile == token && c.Identity.TenantID == testTenant }},
		{"aws usgov", with(app, EnvCredential, CredentialAWS, EnvAWSRegion, "us-gov-west-1", EnvCloud, "usgov"),
			func(c Config) bool {
				return c.Identity.AWSRegion == "us-gov-west-1" && c.Identity.Audience == "api://AzureADTokenExchangeUSGov" &&
					c.Identity.AuthorityHost == "https://login.microsoftonline.us/" && !c.Identity.CustomAuthority
			}},
		{"aws china", with(app, EnvCredential, CredentialAWS, EnvAWSRegion, "cn-north-1", EnvCloud, "china"),
			func(c Config) bool { return c.Identity.Audience == "api://AzureADTokenExchangeChina" }},
		{"secret", with(app, EnvCredential, CredentialSecret, EnvClientSecret, "lab~secret"),
			func(c Config) bool { return c.Identity.ClientSecret == "lab~secret" }},
		{"certificate", with(app, EnvCredential, CredentialCertificate, EnvClientCertificate, cert, EnvClientCertificatePwd, "pw"),
			func(c Config) bool {
				return c.Identity.CertificatePath == cert && c.Identity.CertificatePassword == "pw"
			}},
		{"custom authority", with(app, EnvCredential, CredentialAWS, EnvAWSRegion, "eu-west-1", EnvAuthorityHost, "https://login.example.net"),
			func(c Config) bool {
				return c.Identity.AuthorityHost == "https://login.example.net/" && c.Identity.CustomAuthority
			}},
		{"authority of the cloud itself", with(app, EnvCredential, CredentialAWS, EnvAWSRegion, "eu-west-1", EnvAuthorityHost, "https://login.microsoftonline.com/"),
			func(c Config) bool {
				return c.Identity.AuthorityHost == "https://login.microsoftonline.com/" && !c.Identity.CustomAuthority
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(env(tt.env))
			if err != nil {
				t.Fatalf("Load = %v", err)
			}
			if !tt.want(c) || !c.Identity.Valid {
				t.Errorf("Load = %+v / %+v", c, c.Identity)
			}
		})
	}
}

// TestCredentialProblemsAreListedTogether: a misconfigured mode fails the
// cold start with every problem, each naming its variable.
func TestCredentialProblemsAreListedTogether(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "absent", "token")
	empty := filepath.Join(t.TempDir(), "empty")
	_ = os.WriteFile(empty, nil, 0o600)
	tests := []struct {
		name string
		env  map[string]string
		want []string // one substring per problem, in order
	}{
		{"unknown mode", map[string]string{EnvCredential: "password"}, []string{EnvCredential + " must be one of managed-identity, workload-identity, aws-federation, client-secret, client-certificate"}},
		{"aws without anything", map[string]string{EnvCredential: CredentialAWS},
			[]string{EnvTenantID + " is required", EnvClientID + " is required", EnvAWSRegion + " is required"}},
		{"aws bad values", map[string]string{EnvCredential: CredentialAWS, EnvTenantID: "common", EnvClientID: "my-app", EnvAWSRegion: "Ireland"},
			[]string{EnvTenantID + " must name one tenant", EnvClientID + " must be the application (client) id", EnvAWSRegion + " must be an AWS region"}},
		{"workload unreadable token", map[string]string{EnvCredential: CredentialWorkloadI, EnvTenantID: testTenant, EnvClientID: testApp, EnvFederatedTokenFile: missing},
			[]string{EnvFederatedTokenFile + " cannot be read"}},
		{"workload empty token", map[string]string{EnvCredential: CredentialWorkloadI, EnvTenantID: testTenant, EnvClientID: testApp, EnvFederatedTokenFile: empty},
			[]string{EnvFederatedTokenFile + " cannot be read (the file is empty)"}},
		{"workload no token", map[string]string{EnvCredential: CredentialWorkloadI, EnvTenantID: testTenant, EnvClientID: testApp},
			[]string{EnvFederatedTokenFile + " is required"}},
		{"secret missing", map[string]string{EnvCredential: CredentialSecret, EnvTenantID: testTenant, EnvClientID: testApp},
			[]string{EnvClientSecret + " is required"}},
		{"certificate missing", map[string]string{EnvCredential: CredentialCertificate, EnvTenantID: testTenant, EnvClientID: testApp, EnvClientCertificate: missing},
			[]string{EnvClientCertificate + " cannot be read"}},
		{"unused secret", map[string]string{EnvCredential: CredentialAWS, EnvTenantID: testTenant, EnvClientID: testApp, EnvAWSRegion: "eu-west-1", EnvClientSecret: "left-over"},
			[]string{EnvClientSecret + " is set but " + EnvCredential + "=aws-federation does not use it"}},
		{"two managed identities", map[string]string{EnvClientID: testApp, EnvManagedObjectID: testApp, EnvManagedResourceID: "/subscriptions/x"},
			[]string{"set at most one of", EnvManagedResourceID + " must be an Azure resource id"}},
		{"managed identity not a guid", map[string]string{EnvClientID: "webhook"}, []string{EnvClientID + " must be the managed identity's client id"}},
		{"http authority", map[string]string{EnvCredential: CredentialSecret, EnvTenantID: testTenant, EnvClientID: testApp, EnvClientSecret: "s", EnvAuthorityHost: "http://login.example.net"},
			[]string{EnvAuthorityHost + " must be an https URL"}},
		{"managed identity id in a confidential mode", map[string]string{EnvCredential: CredentialSecret, EnvTenantID: testTenant, EnvClientID: testApp, EnvClientSecret: "s", EnvManagedObjectID: testApp},
			[]string{EnvManagedObjectID + " and " + EnvManagedResourceID + " select a managed identity"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(env(tt.env))
			if c.Identity.Valid {
				t.Errorf("Identity.Valid with a credential problem")
			}
			got := problems(t, err)
			if len(got) != len(tt.want) {
				t.Fatalf("problems = %q, want %d", got, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], w)
				}
			}
			if strings.Contains(fmt.Sprint(err), "left-over") {
				t.Errorf("the error quotes a secret: %v", err)
			}
		})
	}
}

// TestIdentityValidDespiteOtherProblems: problems elsewhere leave the
// credential settings valid, so the cold start can still build the
// credential and list its failure with the others.
func TestIdentityValidDespiteOtherProblems(t *testing.T) {
	c, err := Load(env(map[string]string{EnvCredential: CredentialSecret, EnvTenantID: testTenant, EnvClientID: testApp,
		EnvClientSecret: "s", EnvGraphVersion: "v2", EnvMaxRetries: "99"}))
	if got := problems(t, err); len(got) != 2 {
		t.Fatalf("problems = %q, want 2", got)
	}
	if !c.Identity.Valid || c.Credential != CredentialSecret || c.Identity.TenantID != testTenant {
		t.Errorf("Identity = %+v, want valid client-secret settings", c.Identity)
	}
}

func TestIdentitySecretsAreRedacted(t *testing.T) {
	const secret = "lab-secret-do-not-print"
	c, err := Load(env(map[string]string{EnvCredential: CredentialSecret, EnvTenantID: testTenant, EnvClientID: testApp, EnvClientSecret: secret}))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{c.String(), fmt.Sprint(c), fmt.Sprintf("%+v", c.Identity), c.Identity.String()} {
		if strings.Contains(s, secret) {
			t.Errorf("secret printed: %s", s)
		}
	}
	if !strings.Contains(c.String(), "clientSecret=REDACTED") || !strings.Contains(c.String(), "tenantId="+testTenant) {
		t.Errorf("config log = %s", c.String())
	}
}

func TestIdentityKeysAreInKeys(t *testing.T) {
	keys := strings.Join(Keys(), " ")
	for _, k := range identityKeys {
		if !strings.Contains(keys, k) {
			t.Errorf("Keys() lacks %s", k)
		}
	}
}
