package identity

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/aws/smithy-go"
)

// Steps a token goes through, as Error.Step names them.
const (
	StepManagedIdentity = "managed-identity endpoint"
	StepTokenFile       = "token file"
	StepSTS             = "sts:GetWebIdentityToken"
	StepEntra           = "Entra token endpoint"
)

// Error is a credential failure for the operator: which mode and step
// failed, Entra's or STS's error code when there is one, and the most likely
// missing setup step. It never holds a token, an assertion or a secret. The
// Graph client turns it into "could not get a token for Graph" (503) for a
// caller, who never sees this text.
type Error struct {
	Mode string
	// Step is one of the Step constants.
	Step string
	// Code is Entra's AADSTS code, STS's error code or the HTTP status the
	// step answered, when known.
	Code string
	// Summary is one line on what happened.
	Summary string
	// Fix is the most likely missing setup step.
	Fix string
	// Err is the credential's own error (azidentity's text can span lines
	// and include Entra's answer).
	Err error
}

func (e *Error) Error() string {
	s := "identity: " + e.Mode + ": " + e.Step + " failed"
	if e.Code != "" {
		s += " (" + e.Code + ")"
	}
	if e.Summary != "" {
		s += ": " + e.Summary
	}
	return s + "; likely fix: " + e.Fix
}

func (e *Error) Unwrap() error { return e.Err }

var aadstsRE = regexp.MustCompile(`AADSTS[0-9]+`)

// entraFixes are Entra's codes an operator can act on, with what to do.
// %[1]s is the app (client) id, %[2]s the tenant, %[3]s the audience.
var entraFixes = map[string]string{
	"AADSTS90002":   "tenant %[2]s does not exist in this cloud: check AZURE_TENANT_ID and ENROLLHOOK_GRAPH_CLOUD",
	"AADSTS700016":  "no application %[1]s in tenant %[2]s: check AZURE_CLIENT_ID (the app registration's Application (client) ID) and AZURE_TENANT_ID",
	"AADSTS7000215": "the client secret is wrong: AZURE_CLIENT_SECRET must be the secret's Value, not its ID",
	"AADSTS7000222": "the client secret has expired: create a new one on app %[1]s",
	"AADSTS700027":  "Entra does not know this certificate: upload its public part to app %[1]s (Certificates & secrets)",
	"AADSTS70021":   "app %[1]s has no federated identity credential matching the token: add one with the token's issuer, its subject exactly and audience %[3]s",
	"AADSTS700211":  "app %[1]s has no federated identity credential with this issuer: its issuer must be the token issuer exactly (for AWS, the account's issuer URL from `aws iam get-outbound-web-identity-federation-info`)",
	"AADSTS700212":  "app %[1]s has no federated identity credential with audience %[3]s: set the credential's audience to it (each Entra cloud has its own)",
	"AADSTS700213":  "app %[1]s has no federated identity credential with this subject: the subject must be exactly the token's sub (for AWS, the execution role ARN)",
	"AADSTS700024":  "the assertion is outside its validity window: check the host's clock",
	"AADSTS7000229": "app %[1]s has no service principal in tenant %[2]s: grant admin consent there",
}

// classify turns a credential failure into an *Error naming the step and the
// likely fix. azidentity keeps Entra's answer (RawResponse) but flattens the
// assertion callback's error to text, so STS failures are found through
// *stsError first and their marker text second.
func classify(mode string, s Settings, err error) *Error {
	e := &Error{Mode: mode, Err: err}
	fix := func(format string) string { return fmt.Sprintf(format, s.ClientID, s.TenantID, s.Audience) }
	var afe *azidentity.AuthenticationFailedError
	var se *stsError
	text := err.Error()

	switch {
	case errors.As(err, &se) || (mode == ModeAWSFederation && strings.Contains(text, "sts:GetWebIdentityToken: ")):
		e.Step = StepSTS
		classifySTS(e, s, err)
		return e
	case mode == ModeManagedIdentity:
		e.Step = StepManagedIdentity
	case mode == ModeWorkloadIdentity && (strings.Contains(text, "token file") || strings.Contains(text, s.TokenFile) && s.TokenFile != ""):
		e.Step = StepTokenFile
		e.Summary = firstLine(text)
		e.Fix = "AZURE_FEDERATED_TOKEN_FILE could not be read: is the service account token projected into the container, and readable by its user?"
		return e
	default:
		e.Step = StepEntra
	}

	if errors.As(err, &afe) && afe.RawResponse != nil {
		status := afe.RawResponse.StatusCode
		e.Code = fmt.Sprint(status)
		body, _ := runtime.Payload(afe.RawResponse)
		var doc struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
			Message     string `json:"message"`
		}
		_ = json.Unmarshal(body, &doc)
		desc := firstLine(doc.Description + doc.Message)
		if code := aadstsRE.FindString(desc); code != "" {
			e.Code = code
			if f, ok := entraFixes[code]; ok {
				e.Fix = fix(f)
			}
		}
		e.Summary = clip(fmt.Sprintf("answered %d %s %s", status, doc.Error, desc), 400)
		if e.Fix == "" {
			e.Fix = defaultFix(mode, s, status)
		}
		return e
	}
	e.Summary = clip(firstLine(text), 400)
	e.Fix = defaultFix(mode, s, 0)
	return e
}

func classifySTS(e *Error, s Settings, err error) {
	e.Summary = clip(firstLine(err.Error()), 400)
	var api smithy.APIError
	code := ""
	switch {
	case errors.As(err, &api):
		code = api.ErrorCode()
	default:
		// Flattened by azidentity: find the code in the text.
		for _, c := range []string{"OutboundWebIdentityFederationDisabledException", "AccessDenied", "ExpiredToken",
			"InvalidClientTokenId", "SignatureDoesNotMatch", "JWTPayloadSizeExceededException", "SessionDurationEscalationException"} {
			if strings.Contains(e.Summary, c) {
				code = c
				break
			}
		}
	}
	e.Code = code
	switch code {
	case "OutboundWebIdentityFederationDisabledException":
		e.Fix = "outbound identity federation is off in this AWS account: run `aws iam enable-outbound-web-identity-federation` once, then add its issuer URL to the app's federated identity credential (docs/identity.md)"
	case "AccessDenied", "AccessDeniedException":
		e.Fix = fmt.Sprintf("the execution role may not call sts:GetWebIdentityToken for audience %s with %s and %d s: give it the policy template.yaml declares", s.Audience, SigningAlgorithm, int(AssertionLifetime.Seconds()))
	case "ExpiredToken", "InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException":
		e.Fix = "the function's own AWS credentials were refused: on Lambda they come from the execution role; elsewhere check the AWS credential chain"
	case "":
		e.Fix = fmt.Sprintf("STS in %s could not be reached: check AWS_REGION, and that a function in a VPC has a NAT gateway or an STS interface endpoint", s.AWSRegion)
	default:
		e.Fix = "see the STS error code; docs/identity.md lists the setup"
	}
}

func defaultFix(mode string, s Settings, status int) string {
	if status >= 500 || status == http.StatusTooManyRequests {
		return "the identity service failed or throttled: usually transient; if it persists, check the cloud's service health"
	}
	switch mode {
	case ModeManagedIdentity:
		if status == 0 {
			return "no Azure managed identity answered here: enable one on the host (on AWS Lambda use ENROLLHOOK_CREDENTIAL=aws-federation)"
		}
		return "the managed-identity endpoint refused: check that the identity is assigned to this host and, for a user-assigned one, that AZURE_CLIENT_ID (or the object or resource id) names it"
	case ModeWorkloadIdentity:
		return fmt.Sprintf("check the federated identity credential of app %s in tenant %s: issuer, subject and audience %s must match the projected token", s.ClientID, s.TenantID, s.Audience)
	case ModeAWSFederation:
		return fmt.Sprintf("check the federated identity credential of app %s in tenant %s: issuer = the AWS account's issuer URL, subject = the execution role ARN exactly, audience %s", s.ClientID, s.TenantID, s.Audience)
	case ModeClientSecret:
		return fmt.Sprintf("check AZURE_CLIENT_ID %s, AZURE_TENANT_ID %s and the secret's Value", s.ClientID, s.TenantID)
	default:
		return fmt.Sprintf("check that the certificate is registered on app %s in tenant %s", s.ClientID, s.TenantID)
	}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return s
}

func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(strings.TrimSpace(s), "")
}
