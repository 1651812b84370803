package wiring

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/enrollhook/enrollhook/pkg/config"
)

// AWSFromEnv is the AWS configuration the Lambda runtime's environment
// holds: the region (AWS_REGION, else AWS_DEFAULT_REGION), the execution
// role's credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN), and endpoint overrides as the SDK's own loader reads
// them (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>,
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS). Nothing else: no shared config or
// credentials files, profiles, SSO, EC2 instance metadata or container
// credentials. The SDK's default loader links all of those, a megabyte of
// a bootstrap that never uses them on Lambda, where the runtime always sets
// the variables above for the function's lifetime.
func AWSFromEnv(getenv func(string) string) (aws.Config, error) {
	key, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if key == "" || secret == "" {
		return aws.Config{}, errors.New("no AWS credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY): Lambda sets them from the execution role")
	}
	// A signed request carries the session token: an endpoint override
	// must be https, or http to this host only (a local test server).
	// These are the services awsapi clients are made for (awsClient,
	// identity's STS), by the variable GetServiceBaseEndpoint reads.
	for _, service := range []string{"", "DYNAMODB", "SCHEDULER", "SQS", "STS"} {
		v := strings.TrimSuffix("AWS_ENDPOINT_URL_"+service, "_")
		if u := getenv(v); u != "" && !safeEndpoint(u) {
			return aws.Config{}, fmt.Errorf("%s must be an https URL, or http to a loopback host", v)
		}
	}
	region := getenv("AWS_REGION")
	if region == "" {
		region = getenv("AWS_DEFAULT_REGION")
	}
	creds := aws.Credentials{AccessKeyID: key, SecretAccessKey: secret, SessionToken: getenv("AWS_SESSION_TOKEN"), Source: "environment"}
	cfg := aws.Config{
		Region: region,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return creds, nil
		}),
		ConfigSources: []any{endpoints(getenv)},
	}
	if u := getenv("AWS_ENDPOINT_URL"); u != "" && !ignoreEndpoints(getenv) {
		cfg.BaseEndpoint = aws.String(u)
	}
	return cfg, nil
}

// endpoints gives the service clients the per-service endpoint overrides
// (the SDK's clients look for these two methods among ConfigSources).
type endpoints func(string) string

// GetServiceBaseEndpoint reads AWS_ENDPOINT_URL_<SDK ID>, the SDK ID upper
// case with spaces as underscores (DYNAMODB, SQS, STS).
func (e endpoints) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	if ignoreEndpoints(e) {
		return "", false, nil
	}
	u := e("AWS_ENDPOINT_URL_" + strings.ToUpper(strings.ReplaceAll(sdkID, " ", "_")))
	return u, u != "", nil
}

// safeEndpoint reports whether an endpoint override is https, or http to a
// loopback host.
func safeEndpoint(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return false
	}
	return u.Scheme == "https" || u.Scheme == "http" && config.Loopback(u.Hostname())
}

// GetIgnoreConfiguredEndpoints reads AWS_IGNORE_CONFIGURED_ENDPOINT_URLS.
func (e endpoints) GetIgnoreConfiguredEndpoints(context.Context) (bool, bool, error) {
	return ignoreEndpoints(e), e("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") != "", nil
}

func ignoreEndpoints(getenv func(string) string) bool {
	return strings.EqualFold(getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"), "true")
}
