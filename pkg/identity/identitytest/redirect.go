package identitytest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// Redirect is an HTTP transport (a policy.Transporter and an
// http.RoundTripper) that sends every request to a local server while
// keeping the original Host header, and records the URLs as the client
// built them: a test can then use a cloud's real Entra authority or Graph
// root and assert what was called. Only the hosts named are redirected;
// any other host is refused, so nothing leaves the machine.
type Redirect struct {
	mu     sync.Mutex
	routes map[string]*httptest.Server
	seen   []string
}

// NewRedirect returns an empty Redirect; add routes with Route.
func NewRedirect() *Redirect { return &Redirect{routes: map[string]*httptest.Server{}} }

// Route sends requests for host (e.g. login.microsoftonline.us) to srv.
func (r *Redirect) Route(host string, srv *httptest.Server) *Redirect {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.routes[strings.ToLower(host)] = srv
	return r
}

// Seen returns the URLs requested, oldest first.
func (r *Redirect) Seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seen)
}

// Do implements policy.Transporter.
func (r *Redirect) Do(req *http.Request) (*http.Response, error) { return r.RoundTrip(req) }

// RoundTrip implements http.RoundTripper.
func (r *Redirect) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.seen = append(r.seen, req.URL.String())
	srv := r.routes[strings.ToLower(req.URL.Hostname())]
	r.mu.Unlock()
	if srv == nil {
		return nil, fmt.Errorf("identitytest: no route for host %s", req.URL.Host)
	}
	target, _ := url.Parse(srv.URL)
	out := req.Clone(req.Context())
	out.Host = req.URL.Host
	out.URL.Scheme, out.URL.Host = target.Scheme, target.Host
	return srv.Client().Transport.RoundTrip(out)
}

// EmulatorMint returns an EntraOptions.Mint that has a Graph emulator's
// managed-identity endpoint (h, at tokenPath, expecting header value
// identityHeader) issue the token, so that the emulator accepts it as the
// bearer of Graph calls.
func EmulatorMint(h http.Handler, tokenPath, identityHeader string) func(resource string) (string, error) {
	return func(resource string) (string, error) {
		q := url.Values{"api-version": {"2019-08-01"}, "resource": {resource}}
		req := httptest.NewRequest(http.MethodGet, tokenPath+"?"+q.Encode(), nil)
		req.Header.Set("X-IDENTITY-HEADER", identityHeader)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			return "", fmt.Errorf("emulator token endpoint answered %d", rec.Code)
		}
		var body struct {
			AccessToken string `json:"access_token"`
		}
		if err := jsonDecode(rec.Body.Bytes(), &body); err != nil || body.AccessToken == "" {
			return "", fmt.Errorf("emulator token endpoint: no access_token")
		}
		return body.AccessToken, nil
	}
}
