package awsapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go"
)

// Client calls one AWS service in one region.
type Client struct {
	service  string // the signing name and endpoint prefix: dynamodb, sqs, sts
	region   string
	endpoint string
	creds    aws.CredentialsProvider
	http     aws.HTTPClient
	signer   *v4.Signer
}

// maxAttempts is how often a call is tried: a throttled or failed call is
// tried again after a short jittered pause, as the SDK's standard retryer
// does, within the caller's context.
const maxAttempts = 3

// maxResponse caps a response body read into memory.
const maxResponse = 1 << 20

// New returns a client of service (dynamodb, sqs, sts) in cfg's region.
// The endpoint is, in order: the per-service override among
// cfg.ConfigSources (AWS_ENDPOINT_URL_<SERVICE>), cfg.BaseEndpoint
// (AWS_ENDPOINT_URL), or https://<service>.<region>.amazonaws.com (.com.cn
// in the China regions).
func New(cfg aws.Config, service string) (*Client, error) {
	if cfg.Region == "" {
		return nil, fmt.Errorf("awsapi: %s: no AWS region", service)
	}
	if cfg.Credentials == nil {
		return nil, fmt.Errorf("awsapi: %s: no AWS credentials", service)
	}
	c := &Client{service: service, region: cfg.Region, creds: cfg.Credentials, signer: v4.NewSigner()}
	c.http = cfg.HTTPClient
	if c.http == nil {
		c.http = &http.Client{Timeout: 30 * time.Second}
	}
	type serviceEndpoint interface {
		GetServiceBaseEndpoint(ctx context.Context, sdkID string) (string, bool, error)
	}
	for _, src := range cfg.ConfigSources {
		if p, ok := src.(serviceEndpoint); ok {
			if u, found, err := p.GetServiceBaseEndpoint(context.Background(), service); err == nil && found {
				c.endpoint = u
				break
			}
		}
	}
	switch {
	case c.endpoint != "":
	case cfg.BaseEndpoint != nil && *cfg.BaseEndpoint != "":
		c.endpoint = *cfg.BaseEndpoint
	default:
		suffix := "amazonaws.com"
		if strings.HasPrefix(cfg.Region, "cn-") {
			suffix = "amazonaws.com.cn"
		}
		c.endpoint = "https://" + service + "." + cfg.Region + "." + suffix
	}
	if _, err := url.Parse(c.endpoint); err != nil {
		return nil, fmt.Errorf("awsapi: %s endpoint: %w", service, err)
	}
	return c, nil
}

// Region is the client's region.
func (c *Client) Region() string { return c.region }

// JSON calls target (X-Amz-Target, "DynamoDB_20120810.PutItem") in the JSON
// 1.0 protocol with in as the body, and decodes the answer into out (nil:
// discarded).
func (c *Client) JSON(ctx context.Context, target string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	h := http.Header{"Content-Type": {"application/x-amz-json-1.0"}, "X-Amz-Target": {target}}
	raw, err := c.do(ctx, http.MethodPost, c.endpoint, h, body, jsonError)
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("awsapi: %s: decode the answer: %w", target, err)
	}
	return nil
}

// Query calls action in the query protocol (form parameters, XML answer)
// and decodes the answer's <ActionResult> element into out.
func (c *Client) Query(ctx context.Context, action, version string, params url.Values, out any) error {
	form := url.Values{"Action": {action}, "Version": {version}}
	for k, v := range params {
		form[k] = v
	}
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}}
	raw, err := c.do(ctx, http.MethodPost, c.endpoint, h, []byte(form.Encode()), xmlError)
	if err != nil {
		return err
	}
	// <ActionResponse><ActionResult>...</ActionResult></ActionResponse>
	dec := xml.NewDecoder(bytes.NewReader(raw))
	for {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("awsapi: %s: no %sResult in the answer", action, action)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == action+"Result" {
			if err := dec.DecodeElement(out, &se); err != nil {
				return fmt.Errorf("awsapi: %s: decode the answer: %w", action, err)
			}
			return nil
		}
	}
}

// REST calls a REST-JSON API (EventBridge Scheduler): method on path (its
// segments escaped by the caller) with query, in as the JSON body (nil:
// none), and decodes the answer into out (nil: discarded). Errors are
// *Error, their code from the X-Amzn-Errortype header or the body.
func (c *Client) REST(ctx context.Context, method, path string, query url.Values, in, out any) error {
	var body []byte
	h := http.Header{}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = b
		h.Set("Content-Type", "application/json")
	}
	target := strings.TrimSuffix(c.endpoint, "/") + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	raw, err := c.do(ctx, method, target, h, body, jsonError)
	if err != nil || out == nil || len(raw) == 0 {
		return err
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("awsapi: %s %s: decode the answer: %w", method, path, err)
	}
	return nil
}

// do sends body to target, signed, trying again on throttling, server
// errors and failed connections.
func (c *Client) do(ctx context.Context, method, target string, h http.Header, body []byte, parse func(status int, raw []byte, h http.Header) *Error) ([]byte, error) {
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	var last error
	unconfirmed := false // an attempt that may have been carried out
	for attempt := 1; ; attempt++ {
		if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			// Past the deadline (a process frozen and thawed after it,
			// its timers not fired yet): nothing more goes out.
			if last == nil {
				return nil, fmt.Errorf("awsapi: %s: %w", method, context.DeadlineExceeded)
			}
			return nil, last
		}
		raw, err := c.once(ctx, method, target, h, body, hash, parse)
		if err == nil {
			return raw, nil
		}
		last = err
		unconfirmed = unconfirmed || Unconfirmed(err)
		if unconfirmed && !errors.Is(last, errNoAnswer) {
			// A later attempt's refusal does not undo an earlier one
			// the service may have carried out.
			last = fmt.Errorf("%w (an earlier attempt: %w)", last, errNoAnswer)
		}
		var ae *Error
		retry := !errors.As(err, &ae) || ae.retryable()
		if !retry || attempt == maxAttempts || ctx.Err() != nil {
			return nil, last
		}
		// 50-100 ms, then 100-200 ms.
		pause := time.Duration(50<<(attempt-1))*time.Millisecond + rand.N(time.Duration(50<<(attempt-1))*time.Millisecond)
		select {
		case <-ctx.Done():
			return nil, last
		case <-time.After(pause):
		}
	}
}

func (c *Client) once(ctx context.Context, method, target string, h http.Header, body []byte, hash string, parse func(int, []byte, http.Header) *Error) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("awsapi: %s: credentials: %w", c.service, err)
	}
	if err := c.signer.SignHTTP(ctx, creds, req, hash, c.service, c.region, time.Now().UTC()); err != nil {
		return nil, fmt.Errorf("awsapi: %s: sign: %w", c.service, err)
	}
	resp, err := c.http.Do(req)
	if oe, ok := errors.AsType[*net.OpError](err); ok && oe.Op == "dial" {
		return nil, fmt.Errorf("awsapi: %s: %w", c.service, err) // no connection: nothing was sent
	}
	if err != nil {
		return nil, fmt.Errorf("awsapi: %s: %w (%w)", c.service, err, errNoAnswer)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, fmt.Errorf("awsapi: %s: read the answer: %w (%w)", c.service, err, errNoAnswer)
	}
	if resp.StatusCode/100 != 2 {
		return nil, parse(resp.StatusCode, raw, resp.Header)
	}
	return raw, nil
}

// errNoAnswer marks a call whose request may have gone out and that got no
// (whole) answer: a timeout, a dropped connection.
var errNoAnswer = errors.New("awsapi: no answer")

// Unconfirmed reports whether a call that failed with err may all the
// same have been carried out by the service: it got no answer (a timeout,
// a dropped connection), or the service's own fault (5xx) that is not
// throttling. A refusal the service answered (4xx, throttling) or a
// failure before anything was sent (credentials, signing) is not.
func Unconfirmed(err error) bool {
	if errors.Is(err, errNoAnswer) {
		return true
	}
	ae, ok := errors.AsType[*Error](err)
	return ok && ae.StatusCode >= 500 && !throttling[ae.Code]
}

// Error is an AWS service's refusal. It implements smithy.APIError.
type Error struct {
	StatusCode int
	Code       string
	Message    string
	RequestID  string
}

var _ smithy.APIError = (*Error)(nil)

func (e *Error) Error() string {
	return fmt.Sprintf("api error %s: %s (HTTP %d, request id %s)", e.Code, e.Message, e.StatusCode, e.RequestID)
}

// ErrorCode is the service's error code ("ConditionalCheckFailedException").
func (e *Error) ErrorCode() string { return e.Code }

// ErrorMessage is the service's message.
func (e *Error) ErrorMessage() string { return e.Message }

// ErrorFault says whose fault it is: the server's for a 5xx.
func (e *Error) ErrorFault() smithy.ErrorFault {
	if e.StatusCode >= 500 {
		return smithy.FaultServer
	}
	return smithy.FaultClient
}

// throttling are the codes the SDK's retryer treats as throttling.
var throttling = map[string]bool{
	"Throttling": true, "ThrottlingException": true, "ThrottledException": true, "RequestThrottledException": true,
	"TooManyRequestsException": true, "ProvisionedThroughputExceededException": true, "TransactionInProgressException": true,
	"RequestLimitExceeded": true, "BandwidthLimitExceeded": true, "LimitExceededException": true, "RequestThrottled": true,
	"SlowDown": true, "PriorRequestNotComplete": true, "EC2ThrottledException": true, "RequestTimeout": true, "RequestTimeoutException": true,
}

func (e *Error) retryable() bool {
	return e.StatusCode >= 500 || e.StatusCode == http.StatusTooManyRequests || throttling[e.Code]
}

// jsonError reads a JSON 1.0 error: {"__type": "prefix#Code", "message": ...}.
func jsonError(status int, raw []byte, h http.Header) *Error {
	var body struct {
		Type     string `json:"__type"`
		Code     string `json:"code"`
		Message  string `json:"message"`
		MessageU string `json:"Message"`
	}
	_ = json.Unmarshal(raw, &body)
	code := body.Type
	if code == "" {
		code = body.Code
	}
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	if code == "" {
		code = strings.SplitN(h.Get("X-Amzn-Errortype"), ":", 2)[0]
	}
	if code == "" {
		code = http.StatusText(status)
	}
	msg := body.Message
	if msg == "" {
		msg = body.MessageU
	}
	return &Error{StatusCode: status, Code: code, Message: msg, RequestID: requestID(h)}
}

// xmlError reads a query-protocol error:
// <ErrorResponse><Error><Code/><Message/></Error><RequestId/></ErrorResponse>.
func xmlError(status int, raw []byte, h http.Header) *Error {
	var body struct {
		Error struct {
			Code    string `xml:"Code"`
			Message string `xml:"Message"`
		} `xml:"Error"`
		RequestID string `xml:"RequestId"`
	}
	_ = xml.Unmarshal(raw, &body)
	e := &Error{StatusCode: status, Code: body.Error.Code, Message: body.Error.Message, RequestID: body.RequestID}
	if e.Code == "" {
		e.Code = http.StatusText(status)
	}
	if e.RequestID == "" {
		e.RequestID = requestID(h)
	}
	return e
}

func requestID(h http.Header) string {
	if id := h.Get("X-Amzn-Requestid"); id != "" {
		return id
	}
	return h.Get("X-Amz-Request-Id")
}
