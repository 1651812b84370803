package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/enrollhook/enrollhook/pkg/awsapi"
)

// Modes, the values of ENROLLHOOK_CREDENTIAL.
const (
	// ModeManagedIdentity is azidentity's ManagedIdentityCredential:
	// system-assigned, or user-assigned by client id, object id or
	// resource id. The endpoint comes from the environment azidentity
	// documents (IDENTITY_ENDPOINT and IDENTITY_HEADER, MSI_ENDPOINT, IMDS).
	ModeManagedIdentity = "managed-identity"
	// ModeWorkloadIdentity is azidentity's WorkloadIdentityCredential: a
	// projected service account token (Kubernetes or any OIDC platform)
	// exchanged for an Entra token through a federated identity credential.
	ModeWorkloadIdentity = "workload-identity"
	// ModeAWSFederation is a ClientAssertionCredential whose assertion is a
	// JWT from sts:GetWebIdentityToken (AWS IAM outbound identity
	// federation), trusted by a federated identity credential on the app.
	ModeAWSFederation = "aws-federation"
	// ModeClientSecret is a ClientSecretCredential. Lab only: the secret is
	// stored where the function runs.
	ModeClientSecret = "client-secret"
	// ModeClientCertificate is a ClientCertificateCredential. Lab only: the
	// private key is stored where the function runs.
	ModeClientCertificate = "client-certificate"
)

// STS request values of ModeAWSFederation. The execution role's policy in
// template.yaml pins the same algorithm and duration.
const (
	SigningAlgorithm = "RS256"
	// AssertionLifetime is the life of the STS JWT: it only has to outlive
	// the exchange, which follows at once.
	AssertionLifetime = 300 * time.Second
)

// Settings name the identity; which fields a mode reads is said per field.
type Settings struct {
	// Mode is one of the Mode constants; empty means ModeManagedIdentity.
	Mode string
	// ClientID is the app (client) id for every mode but managed-identity,
	// where it selects a user-assigned identity (empty: system-assigned).
	ClientID string
	// ObjectID or ResourceID select a user-assigned managed identity
	// instead of ClientID (managed-identity only).
	ObjectID, ResourceID string
	// TenantID is the app's tenant (every mode but managed-identity).
	TenantID string
	// AuthorityHost is the Entra authority of the cloud, e.g.
	// https://login.microsoftonline.us/; empty means the global cloud.
	AuthorityHost string
	// TokenFile is the projected token (workload-identity).
	TokenFile string
	// ClientSecret is the app secret (client-secret).
	ClientSecret string
	// CertificatePath and CertificatePassword are a PEM or PKCS#12 file
	// with the certificate and its private key (client-certificate).
	CertificatePath, CertificatePassword string
	// AWSRegion selects the regional STS endpoint (aws-federation).
	AWSRegion string
	// Audience is the aud asked of STS, the audience of the app's
	// federated identity credential (aws-federation); empty means
	// api://AzureADTokenExchange, the global cloud's.
	Audience string
}

// DefaultAudience is the token exchange audience of Entra's global cloud.
const DefaultAudience = "api://AzureADTokenExchange"

// Options tune New. A nil *Options means every default.
type Options struct {
	// ClientOptions are passed to azidentity (transport, retries). Its
	// Cloud is set from Settings.AuthorityHost.
	ClientOptions policy.ClientOptions
	// DisableInstanceDiscovery skips Entra's instance discovery, which
	// knows only Microsoft's authorities: set it for a custom authority or
	// a test double. Default false.
	DisableInstanceDiscovery bool
	// AWSConfig is the AWS configuration of aws-federation's STS client,
	// required for that mode: on Lambda, the execution role's credentials
	// the runtime puts in the environment. Its Region is replaced by
	// Settings.AWSRegion. The package loads no configuration of its own, so
	// that a function does not link the SDK's shared-config, SSO and IMDS
	// chains it never uses.
	AWSConfig *aws.Config
	// Logger receives one line per token fetched or failed and the
	// lab-mode warning; never a token, an assertion or a secret. Default
	// slog.Default() at the time New runs.
	Logger *slog.Logger
}

// Credential is the azcore.TokenCredential of one mode. It adds to the
// mode's failures which mode failed and the likely missing setup step
// (*Error), and logs each token it fetches (never the token). It is safe for
// concurrent use; build one per process so its cache outlives an invoke.
type Credential struct {
	mode  string
	inner azcore.TokenCredential
	s     Settings
	log   *slog.Logger
}

var _ azcore.TokenCredential = (*Credential)(nil)

// Mode is the credential's mode.
func (c *Credential) Mode() string { return c.mode }

// GetToken implements azcore.TokenCredential. Errors are *Error.
func (c *Credential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	start := time.Now()
	tk, err := c.inner.GetToken(ctx, opts)
	ms := float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		e := classify(c.mode, c.s, err)
		c.log.LogAttrs(ctx, slog.LevelError, "graph credential failed",
			slog.String("mode", c.mode), slog.String("step", e.Step), slog.String("fix", e.Fix),
			slog.String("error", err.Error()), slog.Float64("durationMs", ms),
			tokenFailureMetric(), slog.Int(MetricTokenFailures, 1))
		return azcore.AccessToken{}, e
	}
	c.log.LogAttrs(ctx, slog.LevelInfo, "graph token",
		slog.String("mode", c.mode), slog.Time("expiresOn", tk.ExpiresOn), slog.Float64("durationMs", ms))
	return tk, nil
}

// MetricsNamespace and MetricTokenFailures name the CloudWatch metric of
// the failure line: it is an Embedded Metric Format document, so CloudWatch
// counts TokenFailures (no dimensions) from the log alone, and an alarm can
// page on a credential that stopped working. The namespace is the audit
// metrics' (a test in pkg/config holds both, and the template's alarms and
// dashboard, to one namespace).
const (
	MetricsNamespace    = "enrollhook"
	MetricTokenFailures = "TokenFailures"
)

// tokenFailureMetric is the _aws member of the failure line.
func tokenFailureMetric() slog.Attr {
	return slog.Any("_aws", map[string]any{
		"Timestamp": time.Now().UnixMilli(),
		"CloudWatchMetrics": []map[string]any{{
			"Namespace":  MetricsNamespace,
			"Dimensions": [][]string{{}},
			"Metrics":    []map[string]string{{"Name": MetricTokenFailures, "Unit": "Count"}},
		}},
	})
}

// New returns the credential for s.Mode. It makes no network call: the
// first token is fetched by the first Graph call (or the preflight).
func New(s Settings, opts *Options) (*Credential, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if s.Mode == "" {
		s.Mode = ModeManagedIdentity
	}
	if s.Audience == "" {
		s.Audience = DefaultAudience
	}
	co := o.ClientOptions
	if s.AuthorityHost != "" {
		co.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: s.AuthorityHost}
	}
	var (
		inner azcore.TokenCredential
		err   error
	)
	switch s.Mode {
	case ModeManagedIdentity:
		mo := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: o.ClientOptions}
		switch {
		case s.ClientID != "":
			mo.ID = azidentity.ClientID(s.ClientID)
		case s.ObjectID != "":
			mo.ID = azidentity.ObjectID(s.ObjectID)
		case s.ResourceID != "":
			mo.ID = azidentity.ResourceID(s.ResourceID)
		}
		inner, err = azidentity.NewManagedIdentityCredential(mo)
	case ModeWorkloadIdentity:
		inner, err = azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: co, ClientID: s.ClientID, TenantID: s.TenantID, TokenFilePath: s.TokenFile,
			DisableInstanceDiscovery: o.DisableInstanceDiscovery,
		})
	case ModeAWSFederation:
		var f *federation
		if f, err = newFederation(s, o.AWSConfig); err == nil {
			inner, err = azidentity.NewClientAssertionCredential(s.TenantID, s.ClientID, f.assertion,
				&azidentity.ClientAssertionCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: o.DisableInstanceDiscovery})
		}
	case ModeClientSecret:
		o.Logger.Warn("a Graph client secret is in use (ENROLLHOOK_CREDENTIAL=client-secret): for labs only; use aws-federation, workload-identity or managed-identity, which store no secret",
			slog.String("mode", s.Mode))
		inner, err = azidentity.NewClientSecretCredential(s.TenantID, s.ClientID, s.ClientSecret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: o.DisableInstanceDiscovery})
	case ModeClientCertificate:
		o.Logger.Warn("a Graph client certificate's private key is in use (ENROLLHOOK_CREDENTIAL=client-certificate): for labs only; use aws-federation, workload-identity or managed-identity, which store no secret",
			slog.String("mode", s.Mode))
		inner, err = newCertificate(s, co, o.DisableInstanceDiscovery)
	default:
		return nil, fmt.Errorf("identity: unknown mode %q; use %s, %s, %s, %s or %s", s.Mode,
			ModeManagedIdentity, ModeWorkloadIdentity, ModeAWSFederation, ModeClientSecret, ModeClientCertificate)
	}
	if err != nil {
		return nil, fmt.Errorf("identity: %s: %w", s.Mode, err)
	}
	// The credential keeps the ids for its error messages, not the secrets.
	s.ClientSecret, s.CertificatePassword = "", ""
	return &Credential{mode: s.Mode, inner: inner, s: s, log: o.Logger}, nil
}

func newCertificate(s Settings, co policy.ClientOptions, noDiscovery bool) (azcore.TokenCredential, error) {
	data, err := os.ReadFile(s.CertificatePath)
	if err != nil {
		return nil, fmt.Errorf("read the certificate: %w", err)
	}
	var pwd []byte
	if s.CertificatePassword != "" {
		pwd = []byte(s.CertificatePassword)
	}
	certs, key, err := azidentity.ParseCertificates(data, pwd)
	if err != nil {
		// azidentity's text says what is wrong with the file; it quotes
		// neither the key nor the password.
		return nil, fmt.Errorf("AZURE_CLIENT_CERTIFICATE_PATH: %w", err)
	}
	return azidentity.NewClientCertificateCredential(s.TenantID, s.ClientID, certs, key,
		&azidentity.ClientCertificateCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: noDiscovery})
}

// federation gets the assertion of aws-federation from STS. The client is
// built once; MSAL calls assertion only when it needs a new Entra token.
type federation struct {
	sts      *awsapi.Client
	audience string
}

func newFederation(s Settings, cfg *aws.Config) (*federation, error) {
	if s.AWSRegion == "" {
		return nil, errors.New("an AWS region is required: GetWebIdentityToken is served only by regional STS endpoints")
	}
	if cfg == nil {
		return nil, errors.New("no AWS configuration was given for the STS client (identity.Options.AWSConfig)")
	}
	c := cfg.Copy()
	c.Region = s.AWSRegion
	client, err := awsapi.New(c, "sts")
	if err != nil {
		return nil, err
	}
	return &federation{sts: client, audience: s.Audience}, nil
}

func (f *federation) assertion(ctx context.Context) (string, error) {
	var out struct {
		WebIdentityToken string `xml:"WebIdentityToken"`
	}
	err := f.sts.Query(ctx, "GetWebIdentityToken", "2011-06-15", url.Values{
		"Audience.member.1": {f.audience},
		"SigningAlgorithm":  {SigningAlgorithm},
		"DurationSeconds":   {strconv.Itoa(int(AssertionLifetime / time.Second))},
	}, &out)
	if err != nil {
		return "", &stsError{err: err}
	}
	if out.WebIdentityToken == "" {
		return "", &stsError{err: errors.New("STS answered without a token")}
	}
	return out.WebIdentityToken, nil
}

// stsError marks a failure of sts:GetWebIdentityToken.
type stsError struct{ err error }

func (e *stsError) Error() string { return "sts:GetWebIdentityToken: " + e.err.Error() }
func (e *stsError) Unwrap() error { return e.err }
