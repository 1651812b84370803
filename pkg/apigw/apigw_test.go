package apigw

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

type seen struct {
	method, path, rawQuery, body, sig, host, remote, cookie string
	ctxValue                                                any
}

type key struct{}

func echo(s *seen) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		*s = seen{r.Method, r.URL.Path, r.URL.RawQuery, string(b), r.Header.Get("Webhook-Signature"), r.Host, r.RemoteAddr, r.Header.Get("Cookie"), r.Context().Value(key{})}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		w.Header().Add("Vary", "Accept")
		w.Header().Add("Vary", "Origin")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
}

func event(body string, b64 bool) events.APIGatewayV2HTTPRequest {
	ev := events.APIGatewayV2HTTPRequest{
		RawPath: "/hooks/generic", RawQueryString: "dryRun=true",
		Headers: map[string]string{"webhook-signature": "v1,abc", "content-type": "application/x-www-form-urlencoded"},
		Cookies: []string{"c=3", "d=4"},
		Body:    body, IsBase64Encoded: b64,
	}
	ev.RequestContext.HTTP.Method = "POST"
	ev.RequestContext.HTTP.SourceIP = "203.0.113.10"
	ev.RequestContext.DomainName = "abc.execute-api.eu-west-1.amazonaws.com"
	ev.RequestContext.RequestID = "gw-1"
	return ev
}

func TestWrap(t *testing.T) {
	form := "token=x&text=%2Fintune+help"
	for _, tt := range []struct {
		name string
		ev   events.APIGatewayV2HTTPRequest
	}{
		{"plain body", event(form, false)},
		{"base64 body is decoded before the handler sees it", event(base64.StdEncoding.EncodeToString([]byte(form)), true)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var s seen
			h := Wrap(echo(&s), &Options{Context: func(ctx context.Context, ev *events.APIGatewayV2HTTPRequest) context.Context {
				return context.WithValue(ctx, key{}, ev.RequestContext.RequestID)
			}})
			resp, err := h(context.Background(), tt.ev)
			if err != nil {
				t.Fatal(err)
			}
			if s.body != form || s.method != "POST" || s.path != "/hooks/generic" || s.rawQuery != "dryRun=true" {
				t.Errorf("handler saw %+v", s)
			}
			if s.sig != "v1,abc" || s.host != "abc.execute-api.eu-west-1.amazonaws.com" || s.remote != "203.0.113.10" || s.cookie != "c=3; d=4" {
				t.Errorf("headers seen: %+v", s)
			}
			if s.ctxValue != "gw-1" {
				t.Errorf("context value = %v", s.ctxValue)
			}
			if resp.StatusCode != 202 || resp.Body != `{"ok":true}` || resp.IsBase64Encoded {
				t.Errorf("response = %+v", resp)
			}
			if resp.Headers["Content-Type"] != "application/json" || resp.Headers["Vary"] != "Accept, Origin" {
				t.Errorf("headers = %v", resp.Headers)
			}
			if strings.Join(resp.Cookies, ";") != "a=1;b=2" {
				t.Errorf("cookies = %v", resp.Cookies)
			}
		})
	}
}

func TestWrapRefusesBadBase64(t *testing.T) {
	var s seen
	resp, err := Wrap(echo(&s), nil)(context.Background(), event("%%%not base64", true))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 400 || resp.Headers["Content-Type"] != "application/problem+json" || s.method != "" {
		t.Fatalf("response = %+v, handler saw %+v", resp, s)
	}
}

func TestWrapEncodesBinaryAnswers(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte{0xff, 0xfe, 0x00}) })
	resp, _ := Wrap(h, nil)(context.Background(), event("", false))
	if !resp.IsBase64Encoded || resp.Body != base64.StdEncoding.EncodeToString([]byte{0xff, 0xfe, 0x00}) || resp.StatusCode != 200 {
		t.Fatalf("response = %+v", resp)
	}
}

func TestFunctionURLEventWithoutRawPath(t *testing.T) {
	var s seen
	ev := event(`{}`, false)
	ev.RawPath = ""
	ev.RequestContext.HTTP.Path = "/hooks/generic"
	if _, err := Wrap(echo(&s), nil)(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if s.path != "/hooks/generic" {
		t.Fatalf("path = %q", s.path)
	}
}
