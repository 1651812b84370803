package wiring

import (
	"context"
	"strings"
	"testing"
)

// TestAWSFromEnvEndpoints: an endpoint override carries signed requests and
// the session token, so only https or loopback http is taken, and
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS turns the per-service ones off too.
func TestAWSFromEnvEndpoints(t *testing.T) {
	base := map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_REGION": "eu-west-1"}
	env := func(extra map[string]string) func(string) string {
		return func(k string) string {
			if v, ok := extra[k]; ok {
				return v
			}
			return base[k]
		}
	}
	for _, tt := range []struct {
		name, key, url string
		ok             bool
	}{
		{"https", "AWS_ENDPOINT_URL_DYNAMODB", "https://dynamodb.example.com", true},
		{"loopback http", "AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000", true},
		{"localhost http", "AWS_ENDPOINT_URL", "http://localhost:4566", true},
		{"remote http", "AWS_ENDPOINT_URL_SQS", "http://sqs.example.com", false},
		{"remote http scheduler", "AWS_ENDPOINT_URL_SCHEDULER", "http://scheduler.example.com", false},
		{"remote http dynamodb", "AWS_ENDPOINT_URL_DYNAMODB", "http://dynamodb.example.com", false},
		{"remote http base", "AWS_ENDPOINT_URL", "http://10.0.0.8:4566", false},
		{"not a URL", "AWS_ENDPOINT_URL_STS", "sts", false},
	} {
		_, err := AWSFromEnv(env(map[string]string{tt.key: tt.url}))
		if tt.ok != (err == nil) {
			t.Errorf("%s: AWSFromEnv(%s=%s) = %v, want ok=%v", tt.name, tt.key, tt.url, err, tt.ok)
		}
		if err != nil && strings.Contains(err.Error(), tt.url) {
			t.Errorf("%s: the error quotes the URL: %v", tt.name, err)
		}
	}
	e := endpoints(env(map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": "https://dynamodb.example.com", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}))
	if u, found, _ := e.GetServiceBaseEndpoint(context.Background(), "DynamoDB"); found || u != "" {
		t.Errorf("with AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true the DynamoDB override is still %q", u)
	}
}
