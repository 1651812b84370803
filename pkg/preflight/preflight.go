package preflight

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/identity"
)

// Verdicts of the preflight.
const (
	verdictOK   = "ok"
	verdictFail = "FAIL"
	verdictWarn = "warn"
	verdictSkip = "skip"
)

// ErrFailed is returned when a step failed; the steps say which.
var ErrFailed = errors.New("preflight failed: see the FAIL lines")

// preflight prints one line per step.
type preflight struct {
	w      io.Writer
	failed int
}

func (p *preflight) step(name, verdict, detail string, more ...string) {
	if verdict == verdictFail {
		p.failed++
	}
	fmt.Fprintf(p.w, "%-13s %-4s  %s\n", name, verdict, detail)
	for _, m := range more {
		fmt.Fprintf(p.w, "%-13s %-4s  %s\n", "", "", m)
	}
}

// NewCredential builds the credential a configuration names, as the
// function does (nil, nil when its settings are invalid: the
// configuration's problems say why).
type NewCredential func(cfg config.Config, log *slog.Logger) (*identity.Credential, error)

// Run is the preflight: with the configuration the function would use (the
// same environment), it builds the credential, gets a Graph token, reads
// the assignments of one configuration and writes one line per step to w,
// a verdict each, so that an operator learns before the first approval
// what is missing. It changes nothing in Intune. The error is ErrFailed
// when a step failed.
func Run(ctx context.Context, getenv func(string) string, configurationID string, w io.Writer, log *slog.Logger, newCredential NewCredential) error {
	p := &preflight{w: w}
	defer func() {
		if p.failed == 0 {
			fmt.Fprintln(w, "ready: the function can read Intune enrollment configurations with this configuration")
		}
	}()

	// credential: the configuration and the credential it names.
	cfg, err := config.Load(getenv)
	var cerr *config.Error
	var problems []string
	if errors.As(err, &cerr) {
		problems = cerr.Problems
	} else if err != nil {
		return err
	}
	cred, err := newCredential(cfg, log)
	switch {
	case len(problems) > 0:
		if err != nil {
			problems = append(slices.Clip(problems), err.Error())
		}
		p.step("credential", verdictFail, "the configuration has problems; the function would not start:", problems...)
		return p.skipRest("token", "graph", "permission")
	case err != nil:
		p.step("credential", verdictFail, err.Error())
		return p.skipRest("token", "graph", "permission")
	}
	p.step("credential", verdictOK, describeCredential(cfg))

	// token
	scope := cfg.Cloud.Scope
	tk, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
	if err != nil {
		var ie *identity.Error
		if errors.As(err, &ie) {
			p.step("token", verdictFail, fmt.Sprintf("%s: %s failed %s", ie.Mode, ie.Step, paren(ie.Code)),
				ie.Summary, "fix: "+ie.Fix)
		} else {
			p.step("token", verdictFail, err.Error())
		}
		return p.skipRest("graph", "permission")
	}
	p.step("token", verdictOK, fmt.Sprintf("for %s, valid until %s", scope, tk.ExpiresOn.UTC().Format(time.RFC3339)))
	roles, isJWT := tokenRoles(tk.Token)

	// graph and permission: one read of the configuration's assignments.
	gc, err := graph.NewClient(cfg.GraphBaseURL, cred, scope, &graph.Options{
		MaxRetries:        1,
		InsecureAllowHTTP: cfg.GraphInsecureHTTP,
		Logger:            log,
	})
	if err != nil {
		p.step("graph", verdictFail, err.Error())
		return p.skipRest("permission")
	}
	items, res, err := gc.ListAssignments(ctx, configurationID)
	var re *graph.ResponseError
	errors.As(err, &re)
	switch code := change.ErrorCode(err); {
	case err == nil:
		p.step("graph", verdictOK, fmt.Sprintf("%s answered (request-id %s)", cfg.GraphBaseURL, res.RequestID))
		p.step("permission", verdictOK, fmt.Sprintf("read %d assignment(s) of %s", len(items), configurationID))
	case code == change.CodeGraphPermission && re != nil && re.StatusCode == 401:
		p.step("graph", verdictOK, fmt.Sprintf("%s answered (request-id %s)", cfg.GraphBaseURL, re.RequestID))
		p.step("permission", verdictFail, "Graph refused the token (401 "+re.ErrorCode+")",
			"fix: the token is for another cloud or tenant: ENROLLHOOK_GRAPH_CLOUD ("+cfg.Cloud.Name+") must be the cloud the tenant lives in")
		return p.done()
	case code == change.CodeGraphPermission:
		p.step("graph", verdictOK, fmt.Sprintf("%s answered (request-id %s)", cfg.GraphBaseURL, requestID(re)))
		p.step("permission", verdictFail, "Graph answered 403: the identity may not read enrollment configurations",
			"fix: grant "+graphPermissionFix(cfg))
		return p.done()
	case code == change.CodeNotFound:
		p.step("graph", verdictOK, fmt.Sprintf("%s answered (request-id %s)", cfg.GraphBaseURL, requestID(re)))
		p.step("permission", verdictFail, "Intune has no enrollment configuration "+configurationID,
			"fix: pass the id of an existing one (GET /deviceManagement/deviceEnrollmentConfigurations lists them)")
		return p.done()
	case code == change.CodeGraphRefused:
		p.step("graph", verdictFail, fmt.Sprintf("Graph refused the read (%d %s)", re.StatusCode, re.ErrorCode),
			"fix: check ENROLLHOOK_GRAPH_VERSION and ENROLLHOOK_GRAPH_URL")
		return p.skipRest("permission")
	default:
		var ce *change.Error
		msg := err.Error()
		if errors.As(err, &ce) {
			msg = ce.Message
			if re != nil {
				msg += fmt.Sprintf(" (status %d %s, request-id %s)", re.StatusCode, re.ErrorCode, re.RequestID)
			}
		}
		p.step("graph", verdictFail, msg,
			"fix: check that "+cfg.GraphBaseURL+" is reachable from here (egress, proxy, DNS); if Graph failed, try again later")
		return p.skipRest("permission")
	}

	// Writing needs more than reading. The preflight changes nothing, so it
	// reads the roles the token carries instead, when Entra issued a JWT.
	switch {
	case !isJWT:
		p.step("permission", verdictWarn, "write permission not verified: the token is not a JWT whose roles can be read")
	case slices.Contains(roles, graph.PermissionName) || slices.Contains(roles, "DeviceManagementConfiguration.ReadWrite.All"):
		p.step("permission", verdictOK, "the token grants "+strings.Join(roles, ", "))
	default:
		p.step("permission", verdictFail, "the token lacks a write permission, so every change would answer 502 graph-permission-denied",
			"fix: grant "+graphPermissionFix(cfg))
	}
	return p.done()
}

func (p *preflight) skipRest(steps ...string) error {
	for _, s := range steps {
		p.step(s, verdictSkip, "not checked: an earlier step failed")
	}
	return p.done()
}

func (p *preflight) done() error {
	if p.failed > 0 {
		return ErrFailed
	}
	return nil
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return "(" + s + ")"
}

func requestID(re *graph.ResponseError) string {
	if re == nil {
		return ""
	}
	return re.RequestID
}

func graphPermissionFix(cfg config.Config) string {
	who := "the managed identity"
	if cfg.Credential != config.CredentialManagedI {
		who = "app " + cfg.ClientID
	}
	return who + " the Microsoft Graph application permission " + graph.PermissionName +
		" with admin consent, in the tenant's own cloud (" + cfg.Cloud.Name + "); the tenant needs an Intune license"
}

func describeCredential(cfg config.Config) string {
	id := cfg.Identity
	switch cfg.Credential {
	case config.CredentialManagedI:
		switch {
		case cfg.ClientID != "":
			return "managed-identity, user-assigned, client id " + cfg.ClientID
		case id.ObjectID != "":
			return "managed-identity, user-assigned, object id " + id.ObjectID
		case id.ResourceID != "":
			return "managed-identity, user-assigned, resource id " + id.ResourceID
		}
		return "managed-identity, system-assigned"
	case config.CredentialAWS:
		return fmt.Sprintf("aws-federation: app %s in tenant %s at %s; STS in %s, audience %s", cfg.ClientID, id.TenantID, id.AuthorityHost, id.AWSRegion, id.Audience)
	case config.CredentialWorkloadI:
		return fmt.Sprintf("workload-identity: app %s in tenant %s at %s; token file %s", cfg.ClientID, id.TenantID, id.AuthorityHost, id.TokenFile)
	default:
		return fmt.Sprintf("%s: app %s in tenant %s at %s (a stored secret: labs only)", cfg.Credential, cfg.ClientID, id.TenantID, id.AuthorityHost)
	}
}

// tokenRoles reads the roles claim of an access token without verifying
// it (Graph does that); ok is false when the token is not a JWT. Nothing of
// the token is printed.
func tokenRoles(token string) (roles []string, ok bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, false
	}
	var claims struct {
		Roles []string `json:"roles"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return nil, false
	}
	return claims.Roles, true
}

// Request is the preflight's invoke payload on Lambda, the value of
// "enrollhookCheck".
type Request struct {
	ConfigurationID string `json:"configurationId"`
}

// Result is the answer to a Request.
type Result struct {
	Ready  bool     `json:"ready"`
	Report []string `json:"report"`
}

// Invoke runs the preflight for a Request and returns its report line by
// line.
func Invoke(ctx context.Context, getenv func(string) string, req Request, log *slog.Logger, newCredential NewCredential) Result {
	res := Result{Report: []string{}}
	if !change.ValidKey(req.ConfigurationID) {
		res.Report = append(res.Report, "enrollhookCheck.configurationId must be an enrollment configuration id")
		return res
	}
	var b strings.Builder
	err := Run(ctx, getenv, req.ConfigurationID, &b, log, newCredential)
	res.Ready = err == nil
	for _, line := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		res.Report = append(res.Report, strings.TrimRight(line, " "))
	}
	return res
}
