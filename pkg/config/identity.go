package config

import (
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"

	"github.com/enrollhook/enrollhook/pkg/sender"
)

// Credential modes (ENROLLHOOK_CREDENTIAL). Only the last two hold a Graph
// secret, and they are meant for labs.
const (
	CredentialWorkloadI   = "workload-identity"
	CredentialAWS         = "aws-federation"
	CredentialSecret      = "client-secret"
	CredentialCertificate = "client-certificate"
)

// Credentials lists the modes, the default first.
var Credentials = []string{CredentialManagedI, CredentialWorkloadI, CredentialAWS, CredentialSecret, CredentialCertificate}

// Variables of the credential modes. The AZURE_ ones keep the meaning
// azidentity gives them; AWS_REGION is set by Lambda itself.
const (
	EnvTenantID             = "AZURE_TENANT_ID"
	EnvFederatedTokenFile   = "AZURE_FEDERATED_TOKEN_FILE"
	EnvClientSecret         = "AZURE_CLIENT_SECRET"
	EnvClientCertificate    = "AZURE_CLIENT_CERTIFICATE_PATH"
	EnvClientCertificatePwd = "AZURE_CLIENT_CERTIFICATE_PASSWORD"
	EnvAuthorityHost        = "AZURE_AUTHORITY_HOST"
	EnvManagedObjectID      = "ENROLLHOOK_MANAGED_IDENTITY_OBJECT_ID"
	EnvManagedResourceID    = "ENROLLHOOK_MANAGED_IDENTITY_RESOURCE_ID"
	EnvAWSRegion            = "AWS_REGION"
)

// identityKeys are the variables loadIdentity reads, beyond
// ENROLLHOOK_CREDENTIAL and AZURE_CLIENT_ID.
var identityKeys = []string{EnvTenantID, EnvFederatedTokenFile, EnvClientSecret, EnvClientCertificate,
	EnvClientCertificatePwd, EnvAuthorityHost, EnvManagedObjectID, EnvManagedResourceID, EnvAWSRegion}

// TokenExchangeAudiences maps each cloud to the audience Entra expects in a
// federated assertion (the aud the federated identity credential names).
// Entra's national clouds each have their own.
var TokenExchangeAudiences = map[string]string{
	"global":   "api://AzureADTokenExchange",
	"usgov":    "api://AzureADTokenExchangeUSGov",
	"usgovdod": "api://AzureADTokenExchangeUSGov",
	"china":    "api://AzureADTokenExchangeChina",
}

// Identity holds what the credential modes other than the default need.
// Config.ClientID is the app (client) id of the confidential modes and the
// user-assigned managed identity's client id.
type Identity struct {
	// TenantID is the Entra tenant (GUID or verified domain) of the app;
	// every mode but managed-identity needs it.
	TenantID string
	// ObjectID or ResourceID select a user-assigned managed identity
	// instead of ClientID; at most one of the three is set.
	ObjectID, ResourceID string
	// AuthorityHost is the Entra authority the confidential modes use: the
	// cloud's, or AZURE_AUTHORITY_HOST, with a trailing slash.
	AuthorityHost string
	// CustomAuthority is true when AZURE_AUTHORITY_HOST replaced the
	// cloud's authority; instance discovery is then off, since Entra's
	// discovery service knows only Microsoft's own hosts.
	CustomAuthority bool
	// TokenFile is the projected token of workload-identity.
	TokenFile string
	// ClientSecret is the client-secret mode's secret (lab only).
	ClientSecret string
	// CertificatePath and CertificatePassword are the client-certificate
	// mode's PEM or PKCS#12 file and its password, if any (lab only).
	CertificatePath, CertificatePassword string
	// AWSRegion names the regional STS endpoint of aws-federation
	// (GetWebIdentityToken is not served by the global endpoint).
	AWSRegion string
	// Audience is the token exchange audience of the cloud
	// (TokenExchangeAudiences): aws-federation asks STS for it.
	Audience string
	// Valid reports that the mode is known and its settings passed every
	// check above, whatever other settings may be wrong: the credential
	// can then be built, so that a failure to build it (an unparsable
	// certificate, say) joins the same list of problems.
	Valid bool
}

// LogValue implements slog.LogValuer: the secrets appear as REDACTED.
func (i Identity) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("tenantId", i.TenantID),
		slog.String("authorityHost", i.AuthorityHost),
		slog.String("awsRegion", i.AWSRegion),
		slog.String("audience", i.Audience),
		slog.String("tokenFile", i.TokenFile),
		slog.String("certificate", i.CertificatePath),
		slog.String("clientSecret", redacted(i.ClientSecret)),
		slog.String("certificatePassword", redacted(i.CertificatePassword)),
	)
}

func (i Identity) String() string { return i.LogValue().String() }

var (
	tenantRE   = lazyRegexp(`^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$`)
	regionRE   = lazyRegexp(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	resourceRE = lazyRegexp(`(?i)^/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.managedidentity/userassignedidentities/[^/]+$`)
)

// loadIdentity reads the credential settings into c, reporting each problem
// through bad. Settings another mode would need are ignored, except a Graph
// secret: one left in the environment of a mode that does not use it is
// refused, since a stored secret nobody needs is still a secret to protect.
func loadIdentity(get func(string) string, c *Config, report func(string, ...any)) {
	problems := 0
	bad := func(format string, args ...any) {
		problems++
		report(format, args...)
	}
	id := Identity{
		TenantID:            get(EnvTenantID),
		ObjectID:            get(EnvManagedObjectID),
		ResourceID:          get(EnvManagedResourceID),
		TokenFile:           get(EnvFederatedTokenFile),
		ClientSecret:        get(EnvClientSecret),
		CertificatePath:     get(EnvClientCertificate),
		CertificatePassword: get(EnvClientCertificatePwd),
		AWSRegion:           get(EnvAWSRegion),
		Audience:            TokenExchangeAudiences[c.Cloud.Name],
		AuthorityHost:       c.Cloud.AuthorityHost,
	}
	defer func() {
		id.Valid = problems == 0
		c.Identity = id
	}()

	mode := c.Credential
	known := false
	for _, m := range Credentials {
		known = known || m == mode
	}
	if !known {
		bad("%s must be one of %s (got an unknown mode)", EnvCredential, strings.Join(Credentials, ", "))
		return
	}
	if raw := get(EnvAuthorityHost); raw != "" {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			bad("%s must be an https URL such as https://login.microsoftonline.us/ (azidentity refuses any other)", EnvAuthorityHost)
		} else {
			// AKS's workload identity webhook sets it to the cloud's own
			// authority, which Entra's instance discovery knows.
			host := strings.TrimRight(u.String(), "/") + "/"
			id.CustomAuthority = !strings.EqualFold(host, id.AuthorityHost)
			id.AuthorityHost = host
		}
	}
	if id.ClientSecret != "" && mode != CredentialSecret {
		bad("%s is set but %s=%s does not use it; remove the secret from the environment", EnvClientSecret, EnvCredential, mode)
	}
	if id.CertificatePassword != "" && mode != CredentialCertificate {
		bad("%s is set but %s=%s does not use it; remove it from the environment", EnvClientCertificatePwd, EnvCredential, mode)
	}

	if mode == CredentialManagedI {
		n := 0
		for _, v := range []string{c.ClientID, id.ObjectID, id.ResourceID} {
			if v != "" {
				n++
			}
		}
		if n > 1 {
			bad("set at most one of %s, %s and %s: each names a user-assigned managed identity", EnvClientID, EnvManagedObjectID, EnvManagedResourceID)
		}
		if c.ClientID != "" && !sender.IsGUID(c.ClientID) {
			bad("%s must be the managed identity's client id (a GUID)", EnvClientID)
		}
		if id.ObjectID != "" && !sender.IsGUID(id.ObjectID) {
			bad("%s must be the managed identity's object (principal) id (a GUID)", EnvManagedObjectID)
		}
		if id.ResourceID != "" && !resourceRE().MatchString(id.ResourceID) {
			bad("%s must be an Azure resource id: /subscriptions/{id}/resourceGroups/{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}", EnvManagedResourceID)
		}
		return
	}

	// The confidential modes: an app registration in one tenant.
	switch lower := strings.ToLower(id.TenantID); {
	case id.TenantID == "":
		bad("%s is required with %s=%s: the tenant id (GUID) of the Entra app", EnvTenantID, EnvCredential, mode)
	case lower == "common" || lower == "organizations" || lower == "consumers":
		bad("%s must name one tenant (its GUID); an app-only token cannot come from %q", EnvTenantID, lower)
	case !tenantRE().MatchString(id.TenantID):
		bad("%s must be a tenant id (GUID) or a verified domain name", EnvTenantID)
	}
	switch {
	case c.ClientID == "":
		bad("%s is required with %s=%s: the application (client) id of the Entra app", EnvClientID, EnvCredential, mode)
	case !sender.IsGUID(c.ClientID):
		bad("%s must be the application (client) id of the Entra app (a GUID)", EnvClientID)
	}
	if id.ObjectID != "" || id.ResourceID != "" {
		bad("%s and %s select a managed identity; unset them with %s=%s", EnvManagedObjectID, EnvManagedResourceID, EnvCredential, mode)
	}

	switch mode {
	case CredentialWorkloadI:
		if id.TokenFile == "" {
			bad("%s is required with %s=%s: the path of the projected service account token", EnvFederatedTokenFile, EnvCredential, mode)
		} else if err := readable(id.TokenFile); err != nil {
			bad("%s cannot be read (%v): is the service account token projected into the container?", EnvFederatedTokenFile, err)
		}
	case CredentialAWS:
		switch {
		case id.AWSRegion == "":
			bad("%s is required with %s=%s: GetWebIdentityToken is served only by regional STS endpoints (Lambda sets it)", EnvAWSRegion, EnvCredential, mode)
		case !regionRE().MatchString(id.AWSRegion):
			bad("%s must be an AWS region such as eu-west-1", EnvAWSRegion)
		}
	case CredentialSecret:
		if id.ClientSecret == "" {
			bad("%s is required with %s=%s (on Lambda, a {{resolve:secretsmanager:...}} reference in the template)", EnvClientSecret, EnvCredential, mode)
		}
	case CredentialCertificate:
		if id.CertificatePath == "" {
			bad("%s is required with %s=%s: a PEM or PKCS#12 file holding the certificate and its private key", EnvClientCertificate, EnvCredential, mode)
		} else if err := readable(id.CertificatePath); err != nil {
			bad("%s cannot be read (%v)", EnvClientCertificate, err)
		}
	}
}

// readable opens path and reads a byte, so that a missing mount or a
// permission problem fails the cold start rather than the first caller.
func readable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return pe.Err // the path is in the message already
		}
		return err
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.Read(b[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("the file is empty")
		}
		return err
	}
	return nil
}

// lazyRegexp compiles expr on first use: a counted repetition ({0,252})
// compiles into that many copies of its class, and compiled at package
// initialisation these checks cost every cold start time whether or not the
// setting they check is set.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
