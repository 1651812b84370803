package awsapi

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"
)

func config(endpoint string) aws.Config {
	return aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret", SessionToken: "session"}, nil
		})}
}

type overrides map[string]string

func (o overrides) GetServiceBaseEndpoint(_ context.Context, id string) (string, bool, error) {
	u, ok := o[id]
	return u, ok, nil
}

func TestEndpoint(t *testing.T) {
	for _, tc := range []struct {
		cfg  aws.Config
		want string
	}{
		{aws.Config{Region: "eu-west-1"}, "https://sqs.eu-west-1.amazonaws.com"},
		{aws.Config{Region: "cn-north-1"}, "https://sqs.cn-north-1.amazonaws.com.cn"},
		{aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String("http://127.0.0.1:1")}, "http://127.0.0.1:1"},
		{aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String("http://127.0.0.1:1"),
			ConfigSources: []any{overrides{"sqs": "http://127.0.0.1:2"}}}, "http://127.0.0.1:2"},
		{aws.Config{Region: "eu-west-1", ConfigSources: []any{overrides{"dynamodb": "http://127.0.0.1:3"}}}, "https://sqs.eu-west-1.amazonaws.com"},
	} {
		tc.cfg.Credentials = config("").Credentials
		c, err := New(tc.cfg, "sqs")
		if err != nil || c.endpoint != tc.want {
			t.Errorf("New(%+v) endpoint = %q, %v; want %q", tc.cfg, c.endpoint, err, tc.want)
		}
	}
	if _, err := New(aws.Config{Credentials: config("").Credentials}, "sqs"); err == nil {
		t.Error("New without a region: no error")
	}
}

// TestJSONErrorsAndRetries: a throttled call is tried again, a refusal is
// not, and the refusal's code reaches the caller as a smithy.APIError.
func TestJSONErrorsAndRetries(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.Header.Get("X-Amz-Security-Token") != "session" || !strings.Contains(r.Header.Get("Authorization"), "/eu-west-1/dynamodb/aws4_request") {
			t.Errorf("unsigned request: %v", r.Header)
		}
		b, _ := io.ReadAll(r.Body)
		switch {
		case strings.Contains(string(b), "throttle") && n == 1:
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}`)
		case strings.Contains(string(b), "refuse"):
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}`)
		default:
			_, _ = io.WriteString(w, `{"Item":{"id":{"S":"x"}}}`)
		}
	}))
	defer srv.Close()
	c, err := New(config(srv.URL), "dynamodb")
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Item map[string]map[string]string }
	if err := c.JSON(context.Background(), "DynamoDB_20120810.GetItem", map[string]string{"k": "throttle"}, &out); err != nil || out.Item["id"]["S"] != "x" || calls.Load() != 2 {
		t.Errorf("throttled call = %v, %v after %d calls; want the item after 2", err, out, calls.Load())
	}
	calls.Store(0)
	err = c.JSON(context.Background(), "DynamoDB_20120810.PutItem", map[string]string{"k": "refuse"}, nil)
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "ConditionalCheckFailedException" || calls.Load() != 1 {
		t.Errorf("refused call = %v after %d calls; want ConditionalCheckFailedException after 1", err, calls.Load())
	}
}

// TestQueryAnswerAndError: the query protocol's result element is decoded,
// and its error document gives the code.
func TestQueryAnswerAndError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.Form.Get("Action") != "GetWebIdentityToken" || r.Form.Get("Version") != "2011-06-15" {
			t.Errorf("form = %v", r.Form)
		}
		if r.Form.Get("Audience.member.1") == "refuse" {
			w.WriteHeader(403)
			_, _ = io.WriteString(w, `<ErrorResponse><Error><Type>Sender</Type><Code>OutboundWebIdentityFederationDisabledException</Code><Message>off</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`)
			return
		}
		_, _ = io.WriteString(w, `<GetWebIdentityTokenResponse><GetWebIdentityTokenResult><WebIdentityToken>jwt</WebIdentityToken></GetWebIdentityTokenResult></GetWebIdentityTokenResponse>`)
	}))
	defer srv.Close()
	c, _ := New(config(srv.URL), "sts")
	var out struct {
		WebIdentityToken string `xml:"WebIdentityToken"`
	}
	if err := c.Query(context.Background(), "GetWebIdentityToken", "2011-06-15", map[string][]string{"Audience.member.1": {"a"}}, &out); err != nil || out.WebIdentityToken != "jwt" {
		t.Errorf("Query = %v, %q", err, out.WebIdentityToken)
	}
	err := c.Query(context.Background(), "GetWebIdentityToken", "2011-06-15", map[string][]string{"Audience.member.1": {"refuse"}}, &out)
	var ae *Error
	if !errors.As(err, &ae) || ae.Code != "OutboundWebIdentityFederationDisabledException" || ae.RequestID != "r-1" || ae.StatusCode != 403 {
		t.Errorf("Query refused = %#v", err)
	}
}

// TestUnconfirmed: a call the service may have carried out (it took the
// request, then the connection dropped; or it failed with its own fault)
// is unconfirmed; a refusal it answered, throttling, or a call that never
// went out (no credentials) is not.
func TestUnconfirmed(t *testing.T) {
	var taken atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		taken.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		switch r.Header.Get("X-Amz-Target") {
		case "Test.Drop":
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close() // taken, never answered
			}
		case "Test.Fault":
			w.WriteHeader(500)
			_, _ = io.WriteString(w, `{"__type":"InternalError","message":"x"}`)
		case "Test.Throttled":
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"__type":"ThrottlingException","message":"x"}`)
		default:
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"x"}`)
		}
	}))
	defer srv.Close()
	c, err := New(config(srv.URL), "sqs")
	if err != nil {
		t.Fatal(err)
	}
	for target, want := range map[string]bool{"Test.Drop": true, "Test.Fault": true, "Test.Throttled": false, "Test.Refused": false} {
		err := c.JSON(t.Context(), target, struct{}{}, nil)
		if err == nil || Unconfirmed(err) != want {
			t.Errorf("%s: %v, Unconfirmed = %v, want %v", target, err, Unconfirmed(err), want)
		}
	}
	cfg := config(srv.URL)
	cfg.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("no credentials")
	})
	nc, err := New(cfg, "sqs")
	if err != nil {
		t.Fatal(err)
	}
	before := taken.Load()
	if err := nc.JSON(t.Context(), "Test.Drop", struct{}{}, nil); err == nil || Unconfirmed(err) || taken.Load() != before {
		t.Errorf("without credentials: %v, Unconfirmed = %v, %d requests taken; want a failure before anything was sent", err, Unconfirmed(err), taken.Load()-before)
	}
}

// TestUnconfirmedAcrossRetries: a call whose first attempt failed with the
// service's own fault (it may have been carried out) stays unconfirmed
// when the retries are then throttled; a call that never connected is not
// unconfirmed.
func TestUnconfirmedAcrossRetries(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		if n.Add(1) == 1 {
			w.WriteHeader(500)
			_, _ = io.WriteString(w, `{"__type":"InternalError","message":"x"}`)
			return
		}
		w.WriteHeader(400)
		_, _ = io.WriteString(w, `{"__type":"ThrottlingException","message":"x"}`)
	}))
	defer srv.Close()
	c, err := New(config(srv.URL), "sqs")
	if err != nil {
		t.Fatal(err)
	}
	err = c.JSON(t.Context(), "AmazonSQS.SendMessage", struct{}{}, nil)
	var ae *Error
	if n.Load() < 2 || !Unconfirmed(err) || !errors.As(err, &ae) || ae.Code != "ThrottlingException" {
		t.Errorf("%d attempts: %v, Unconfirmed = %v; want unconfirmed, the last refusal still readable", n.Load(), err, Unconfirmed(err))
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	c, err = New(config(closed), "sqs")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.JSON(t.Context(), "AmazonSQS.SendMessage", struct{}{}, nil); err == nil || Unconfirmed(err) {
		t.Errorf("a refused connection: %v, Unconfirmed = %v; want nothing sent", err, Unconfirmed(err))
	}
}

// thawed is a context past its deadline whose timer has not fired: a
// process frozen and thawed after the deadline.
type thawed struct{ context.Context }

func (thawed) Deadline() (time.Time, bool) { return time.Now().Add(-time.Second), true }

// TestNothingGoesOutPastTheDeadline: a call whose deadline has passed by
// the wall clock sends nothing, even when its context is not done yet.
func TestNothingGoesOutPastTheDeadline(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = io.WriteString(w, `{}`)
	}))
	defer srv.Close()
	c, err := New(config(srv.URL), "dynamodb")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.JSON(thawed{context.Background()}, "DynamoDB_20120810.PutItem", map[string]string{"k": "v"}, nil); err == nil || calls.Load() != 0 {
		t.Errorf("PutItem past the deadline = %v after %d calls; want an error, nothing sent", err, calls.Load())
	}
}
