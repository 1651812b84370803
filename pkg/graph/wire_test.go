package graph

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/uuid"

	"github.com/enrollhook/enrollhook/pkg/change"
)

type staticCred struct{ calls int }

func (c *staticCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.calls++
	return azcore.AccessToken{Token: "t", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

type countingTransport struct{ calls int }

func (t *countingTransport) Do(r *http.Request) (*http.Response, error) {
	t.calls++
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(`{}`)), Request: r}, nil
}

// TestNoTokenOverPlainHTTP: NewClient refuses an http base URL without
// InsecureAllowHTTP, and every request checks the rule again before the
// token is fetched, so no later path (a next link, a future URL) can put
// the token on plain http.
func TestNoTokenOverPlainHTTP(t *testing.T) {
	cred, tr := &staticCred{}, &countingTransport{}
	c, err := NewClient("https://graph.example/beta", cred, "s", &Options{Transport: tr, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	u := c.configurationURL("cfg", "/assignments/", "asg")
	u.Scheme = "http"
	_, err = c.send(context.Background(), &call{op: OpGetAssignment, method: http.MethodGet, url: u, cfg: "cfg", asg: "asg"})
	if !errors.Is(err, errNonTLS) || change.ErrorCode(err) != change.CodeUnavailable {
		t.Errorf("send(http) = %v, want CodeUnavailable wrapping errNonTLS", err)
	}
	if cred.calls != 0 || tr.calls != 0 {
		t.Errorf("GetToken calls %d, transport calls %d; want none", cred.calls, tr.calls)
	}

	c.allowHTTP = true // as Options.InsecureAllowHTTP sets it
	if _, err := c.send(context.Background(), &call{op: OpGetAssignment, method: http.MethodGet, url: u, cfg: "cfg", asg: "asg"}); err != nil || tr.calls != 1 {
		t.Errorf("send(http, allowed) = %v after %d transport calls", err, tr.calls)
	}
}

func TestConfigurationURL(t *testing.T) {
	for _, tc := range []struct {
		base, cfg, rest, asg, want string
	}{
		{"https://graph.microsoft.com/beta", "cfg-1_A", "/assignments/", "asg_2-b",
			"https://graph.microsoft.com/beta/deviceManagement/deviceEnrollmentConfigurations/cfg-1_A/assignments/asg_2-b"},
		{"https://graph.microsoft.com/v1.0/", "c", "/assign", "",
			"https://graph.microsoft.com/v1.0/deviceManagement/deviceEnrollmentConfigurations/c/assign"},
		{"https://graph.microsoft.com", "c", "/assignments", "",
			"https://graph.microsoft.com/deviceManagement/deviceEnrollmentConfigurations/c/assignments"},
		{"http://127.0.0.1:8080/a%20b/beta", "c", "/assignments", "",
			"http://127.0.0.1:8080/a%20b/beta/deviceManagement/deviceEnrollmentConfigurations/c/assignments"},
		{"https://h/x%2Fy/beta", "c", "/assignments", "",
			"https://h/x%2Fy/beta/deviceManagement/deviceEnrollmentConfigurations/c/assignments"},
		// Ids that ValidKey refuses today: escaped should the rule widen.
		{"https://h/beta", "a/b", "/assignments/", "c d",
			"https://h/beta/deviceManagement/deviceEnrollmentConfigurations/a%2Fb/assignments/c%20d"},
	} {
		c, err := NewClient(tc.base, &staticCred{}, "s", &Options{InsecureAllowHTTP: true})
		if err != nil {
			t.Fatal(err)
		}
		u := c.configurationURL(tc.cfg, tc.rest, tc.asg)
		if got := u.String(); got != tc.want {
			t.Errorf("configurationURL(%s, %q, %q, %q) = %s, want %s", tc.base, tc.cfg, tc.rest, tc.asg, got, tc.want)
		}
	}
}

func TestNewClientRequestID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s := newClientRequestID()[0]
		id, err := uuid.Parse(s)
		if err != nil || id.Version() != 4 || id.Variant() != uuid.RFC4122 || id.String() != s || seen[s] {
			t.Fatalf("newClientRequestID() = %q (%v), want a fresh lower-case version 4 GUID", s, err)
		}
		seen[s] = true
	}
}

func TestDefaultTransport(t *testing.T) {
	c, err := NewClient("https://graph.microsoft.com/beta", &staticCred{}, "s", nil)
	if err != nil {
		t.Fatal(err)
	}
	def, d := defaultTransport()
	hc, ok := c.tr.(*http.Client)
	if !ok || hc != def || c.dialer != d {
		t.Fatalf("Transport = %T, want the shared default client and its dialer", c.tr)
	}
	tr := hc.Transport.(*http.Transport)
	if tr.TLSClientConfig.MinVersion != tls.VersionTLS12 || !tr.ForceAttemptHTTP2 || tr.Proxy == nil ||
		tr.TLSHandshakeTimeout != 10*time.Second || tr.HTTP2 == nil || tr.HTTP2.SendPingTimeout != 10*time.Second ||
		tr.DialTLSContext == nil || d.handshake != tr.TLSHandshakeTimeout {
		t.Errorf("default transport = %+v", tr)
	}
	// The dialer's own copy of the TLS settings (net/http writes to the
	// transport's as it starts), with HTTP/2 offered first.
	if d.tls == tr.TLSClientConfig || d.tls.MinVersion != tls.VersionTLS12 || d.tls.Renegotiation != tr.TLSClientConfig.Renegotiation ||
		len(d.tls.NextProtos) != 2 || d.tls.NextProtos[0] != "h2" || d.tls.InsecureSkipVerify || d.tls.RootCAs != nil {
		t.Errorf("the dialer's TLS settings = %+v", d.tls)
	}
}

func TestReadBody(t *testing.T) {
	body := strings.Repeat("x", 1000)
	for _, cl := range []int64{-1, 0, 10, 1000, 5000} {
		resp := &http.Response{Body: io.NopCloser(strings.NewReader(body)), ContentLength: cl}
		got, err := readBody(resp)
		if err != nil || string(got) != body {
			t.Errorf("readBody(ContentLength %d) = %d bytes, %v; want all 1000", cl, len(got), err)
		}
	}
}
