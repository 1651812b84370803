package identitytest

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/uuid"
)

// Defaults of STSOptions: an account issuer of the form AWS documents and a
// Lambda execution role.
const (
	DefaultAWSIssuer = "https://7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f.tokens.sts.global.api.aws"
	DefaultRoleARN   = "arn:aws:iam::123456789012:role/enrollhook-WebhookFunctionRole-1A2B3C4D5E6F"
)

// STSOptions configure an STS. A nil *STSOptions means the defaults.
type STSOptions struct {
	// Issuer and RoleARN become iss and sub of the tokens.
	Issuer, RoleARN string
}

// STSRequest is one GetWebIdentityToken request as received.
type STSRequest struct {
	Action, Version  string
	Audience         []string
	SigningAlgorithm string
	DurationSeconds  int
	// Region and Service come from the SigV4 credential scope; Signed
	// reports whether the request carried a SigV4 Authorization.
	Region, Service string
	Signed          bool
	Status          int
}

type stsFault struct {
	status        int
	code, message string
}

// STS is a plain-http fake of the AWS STS GetWebIdentityToken API in the
// query protocol (form request, XML answer).
type STS struct {
	srv    *httptest.Server
	issuer *Issuer

	mu       sync.Mutex
	requests []STSRequest
	faults   []stsFault
}

// NewSTS starts a fake STS on 127.0.0.1.
func NewSTS(opts *STSOptions) *STS {
	var o STSOptions
	if opts != nil {
		o = *opts
	}
	if o.Issuer == "" {
		o.Issuer = DefaultAWSIssuer
	}
	if o.RoleARN == "" {
		o.RoleARN = DefaultRoleARN
	}
	s := &STS{issuer: NewIssuer(o.Issuer, o.RoleARN)}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the endpoint, http://127.0.0.1:port.
func (s *STS) URL() string { return s.srv.URL }

// Close stops the server.
func (s *STS) Close() { s.srv.Close() }

// Issuer is the account issuer that signs the tokens.
func (s *STS) Issuer() *Issuer { return s.issuer }

// Federated is the federated identity credential an app needs to trust
// this STS's tokens for audience.
func (s *STS) Federated(audience string) FederatedCredential {
	return FederatedCredential{Issuer: s.issuer.URL, Subject: s.issuer.Subject, Audience: audience, Key: s.issuer.PublicKey()}
}

// AWSConfig is an AWS configuration for region with static test
// credentials, pointed at this STS, without retries.
func (s *STS) AWSConfig(region string) *aws.Config {
	return &aws.Config{
		Region: region,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIAIDENTITYTEST", SecretAccessKey: "identitytest-secret-key",
				SessionToken: "identitytest-session", Source: "identitytest"}, nil
		}),
		BaseEndpoint:     aws.String(s.srv.URL),
		RetryMaxAttempts: 1,
	}
}

// Fail makes the next n requests answer an STS error: status with the
// error code (OutboundWebIdentityFederationDisabledException, AccessDenied,
// ...) and message.
func (s *STS) Fail(n, status int, code, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
	for i := 0; i < n; i++ {
		s.faults = append(s.faults, stsFault{status, code, message})
	}
}

// Requests returns the requests received so far.
func (s *STS) Requests() []STSRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

var scopeRE = regexp.MustCompile(`Credential=[^/]+/[0-9]{8}/([^/]+)/([^/]+)/aws4_request`)

func (s *STS) serve(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	f := r.PostForm
	req := STSRequest{Action: f.Get("Action"), Version: f.Get("Version"), SigningAlgorithm: f.Get("SigningAlgorithm")}
	req.DurationSeconds, _ = strconv.Atoi(f.Get("DurationSeconds"))
	for i := 1; f.Has(fmt.Sprintf("Audience.member.%d", i)); i++ {
		req.Audience = append(req.Audience, f.Get(fmt.Sprintf("Audience.member.%d", i)))
	}
	auth := r.Header.Get("Authorization")
	if m := scopeRE.FindStringSubmatch(auth); strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") && m != nil {
		req.Signed, req.Region, req.Service = true, m[1], m[2]
	}

	s.mu.Lock()
	var fault *stsFault
	if len(s.faults) > 0 {
		fault = &s.faults[0]
		s.faults = s.faults[1:]
	}
	s.mu.Unlock()
	switch {
	case fault != nil:
	case r.Method != http.MethodPost || req.Action != "GetWebIdentityToken" || req.Version != "2011-06-15":
		fault = &stsFault{400, "InvalidAction", "Could not find operation " + req.Action + " for version " + req.Version}
	case !req.Signed || req.Service != "sts":
		fault = &stsFault{403, "IncompleteSignature", "Request must contain a signature that conforms to AWS standards"}
	case len(req.Audience) == 0:
		fault = &stsFault{400, "ValidationError", "1 validation error detected: Value null at 'audience' failed to satisfy constraint"}
	case req.SigningAlgorithm != "RS256" && req.SigningAlgorithm != "ES384":
		fault = &stsFault{400, "ValidationError", "signingAlgorithm must be RS256 or ES384"}
	case req.DurationSeconds != 0 && (req.DurationSeconds < 60 || req.DurationSeconds > 3600):
		fault = &stsFault{400, "ValidationError", "durationSeconds must be between 60 and 3600"}
	}
	if fault != nil {
		req.Status = fault.status
		s.record(req)
		writeXML(w, fault.status, stsError{Xmlns: stsNS, Error: stsErrorBody{Type: "Sender", Code: fault.code, Message: fault.message}, RequestID: uuid.NewString()})
		return
	}
	ttl := 300 * time.Second
	if req.DurationSeconds != 0 {
		ttl = time.Duration(req.DurationSeconds) * time.Second
	}
	var aud any = req.Audience
	if len(req.Audience) == 1 {
		aud = req.Audience[0]
	}
	tok := s.issuer.Token("", ttl, map[string]any{"aud": aud, "https://sts.amazonaws.com/": map[string]any{
		"aws_account": "123456789012", "source_region": req.Region}})
	req.Status = http.StatusOK
	s.record(req)
	writeXML(w, http.StatusOK, stsResponse{Xmlns: stsNS,
		Result:    stsResult{WebIdentityToken: tok, Expiration: time.Now().Add(ttl).UTC().Format(time.RFC3339)},
		RequestID: uuid.NewString()})
}

func (s *STS) record(req STSRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, req)
}

const stsNS = "https://sts.amazonaws.com/doc/2011-06-15/"

type stsResponse struct {
	XMLName   xml.Name  `xml:"GetWebIdentityTokenResponse"`
	Xmlns     string    `xml:"xmlns,attr"`
	Result    stsResult `xml:"GetWebIdentityTokenResult"`
	RequestID string    `xml:"ResponseMetadata>RequestId"`
}

type stsResult struct {
	WebIdentityToken string
	Expiration       string
}

type stsError struct {
	XMLName   xml.Name     `xml:"ErrorResponse"`
	Xmlns     string       `xml:"xmlns,attr"`
	Error     stsErrorBody `xml:"Error"`
	RequestID string       `xml:"RequestId"`
}

type stsErrorBody struct {
	Type, Code, Message string
}

func writeXML(w http.ResponseWriter, status int, v any) {
	b, _ := xml.Marshal(v)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", uuid.NewString())
	w.WriteHeader(status)
	_, _ = w.Write(append([]byte(xml.Header), b...))
}
