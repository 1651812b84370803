package apigw

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// Options tune Wrap. A nil *Options means the defaults.
type Options struct {
	// Context, when set, derives the request context from the invoke
	// context and the event, for example to carry the gateway's request id.
	Context func(ctx context.Context, ev *events.APIGatewayV2HTTPRequest) context.Context
}

// HandlerFunc is what lambda.Start accepts for HTTP API events.
type HandlerFunc func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Wrap turns h into a Lambda handler for payload 2.0 events. A body marked
// isBase64Encoded is decoded before h sees it, so signature checks run over
// the bytes the sender signed. Wrap never returns an error: a returned
// error's text would reach the invoker.
func Wrap(h http.Handler, opts *Options) HandlerFunc {
	if opts == nil {
		opts = &Options{}
	}
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		if opts.Context != nil {
			ctx = opts.Context(ctx, &ev)
		}
		req, ok := Request(ctx, &ev)
		if !ok {
			id, _ := json.Marshal(ev.RequestContext.RequestID)
			return events.APIGatewayV2HTTPResponse{
				StatusCode: http.StatusBadRequest,
				Headers:    map[string]string{"Content-Type": "application/problem+json", "X-Request-Id": ev.RequestContext.RequestID},
				Body: `{"type":"urn:enrollhook:problem:malformed-request","title":"Malformed request","status":400,` +
					`"detail":"the event's body is marked base64 but does not decode, or its method is invalid","instance":` + string(id) + `}`,
			}, nil
		}
		rec := &recorder{header: http.Header{}}
		h.ServeHTTP(rec, req)
		return rec.response(), nil
	}
}

// Request builds the http.Request an event describes. It reports false when
// the body is marked base64 but does not decode, or the method is not a
// valid token.
func Request(ctx context.Context, ev *events.APIGatewayV2HTTPRequest) (*http.Request, bool) {
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(ev.Body)
		if err != nil {
			return nil, false
		}
		body = b
	}
	method := ev.RequestContext.HTTP.Method
	if method == "" {
		method = http.MethodGet
	}
	path := ev.RawPath
	if path == "" {
		path = ev.RequestContext.HTTP.Path
	}
	if path == "" {
		path = "/"
	}
	u := &url.URL{Scheme: "https", Host: ev.RequestContext.DomainName, RawQuery: ev.RawQueryString}
	if p, err := url.PathUnescape(path); err == nil {
		u.Path, u.RawPath = p, path
	} else {
		u.Path = path
	}
	req, err := http.NewRequestWithContext(ctx, method, "/", bytes.NewReader(body))
	if err != nil {
		return nil, false // not a valid method token
	}
	req.URL = u
	for k, v := range ev.Headers {
		// API Gateway lower-cases names and joins repeats with commas.
		req.Header.Set(k, v)
	}
	if len(ev.Cookies) > 0 {
		req.Header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	req.ContentLength = int64(len(body))
	req.RemoteAddr = ev.RequestContext.HTTP.SourceIP
	req.RequestURI = u.RequestURI()
	req.Host = ev.RequestContext.DomainName
	return req, true
}

type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

func (r *recorder) response() events.APIGatewayV2HTTPResponse {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	resp := events.APIGatewayV2HTTPResponse{StatusCode: r.status, Headers: make(map[string]string, len(r.header))}
	for k, v := range r.header {
		if k == "Set-Cookie" {
			resp.Cookies = append(resp.Cookies, v...)
			continue
		}
		resp.Headers[k] = strings.Join(v, ", ")
	}
	if utf8.Valid(r.body.Bytes()) {
		resp.Body = r.body.String()
	} else {
		resp.Body = base64.StdEncoding.EncodeToString(r.body.Bytes())
		resp.IsBase64Encoded = true
	}
	return resp
}
