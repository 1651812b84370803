package graph

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// The header values every request shares. They are read-only: net/http
// never writes into a request's header values, and Header.Set and Add
// replace or copy a slice rather than write into it.
var (
	acceptJSON      = []string{"application/json"}
	contentTypeJSON = []string{"application/json"}
	// userAgent names enrollhook, the client and the platform ("enrollhook
	// azsdk-go-enrollhook-graph/v0.1.0 (go1.26.8; linux)"): the value
	// azcore's telemetry policy sent when the client ran on its pipeline,
	// kept so that Graph's request logs see the same client.
	userAgent = []string{"enrollhook azsdk-go-" + moduleName + "/" + moduleVersion + " " + platformInfo()}
)

func platformInfo() string {
	osName := runtime.GOOS
	if osName == "windows" {
		osName = os.Getenv("OS")
	}
	return "(" + runtime.Version() + "; " + osName + ")"
}

// errNonTLS refuses to put the token on a request that is not https unless
// Options.InsecureAllowHTTP said so.
var errNonTLS = errors.New("authorized requests are not permitted for non-TLS protected (https) endpoints")

// defaultTransport is the HTTP client of every Client built without
// Options.Transport, shared so that they share connections, and its dialer,
// which can open the connection to Graph ahead of the first call
// (Client.Prefetch): TLS 1.2 or later, HTTP/2 with pings on idle
// connections, the proxy of the environment, bounded dial and handshake
// times.
var defaultTransport = sync.OnceValues(func() (*http.Client, *dialer) {
	return newTransport(&tls.Config{MinVersion: tls.VersionTLS12, Renegotiation: tls.RenegotiateFreelyAsClient}, http.ProxyFromEnvironment)
})

// refuseRedirect keeps a redirect as Graph's answer, an error status,
// rather than following it: Graph does not redirect these calls, and the
// answer of wherever a redirect pointed is not the assignment.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// newTransport is defaultTransport with the given TLS settings and proxy.
func newTransport(tlsConfig *tls.Config, proxy func(*http.Request) (*url.URL, error)) (*http.Client, *dialer) {
	const handshake = 10 * time.Second
	d := newDialer(tlsConfig, handshake, proxy)
	return &http.Client{CheckRedirect: refuseRedirect, Transport: &http.Transport{
		Proxy:       proxy,
		DialContext: d.DialContext,
		// Dials Graph without a proxy, or an https proxy; to Graph through
		// a proxy the transport speaks TLS itself, with TLSClientConfig.
		DialTLSContext:        d.DialTLSContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   10,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   handshake,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       tlsConfig,
		HTTP2:                 &http.HTTP2Config{SendPingTimeout: 10 * time.Second, PingTimeout: 5 * time.Second},
	}}, d
}

// newRequest builds one attempt of call k: a request of its own (headers and
// URL included) on every attempt, so that nothing a transport does to one
// attempt's request reaches the next.
func (c *Client) newRequest(ctx context.Context, k *call, clientRequestID []string, tok *cachedToken, body []byte, attempt int) (*http.Request, error) {
	// An empty URL spares NewRequest a parse; its URL is filled in below.
	req, err := http.NewRequestWithContext(ctx, k.method, "", nil)
	if err != nil {
		return nil, err
	}
	*req.URL = k.url
	req.Host = c.reqHost
	h := req.Header
	// Canonical keys assigned directly spare a canonicalization each.
	h["Accept"] = acceptJSON
	h["Authorization"] = tok.header
	h["Client-Request-Id"] = clientRequestID
	h["User-Agent"] = userAgent
	if attempt > 0 {
		h["Retry-Attempt"] = []string{strconv.Itoa(attempt)}
	}
	if body != nil {
		h["Content-Type"] = contentTypeJSON
		b := &requestBody{data: body}
		req.Body, req.GetBody, req.ContentLength = b, b.again, int64(len(body))
	}
	return req, nil
}

// requestBody sends a marshalled body; again gives net/http a fresh copy
// when it must send the request anew (a dead kept-alive connection, a
// redirect).
type requestBody struct {
	data []byte
	off  int
}

func (b *requestBody) Read(p []byte) (int, error) {
	if b.off >= len(b.data) {
		return 0, io.EOF
	}
	n := copy(p, b.data[b.off:])
	b.off += n
	return n, nil
}

func (*requestBody) Close() error { return nil }

func (b *requestBody) again() (io.ReadCloser, error) { return &requestBody{data: b.data}, nil }

// roundTrip sends req on tr, which may answer neither a response nor an
// error only by mistake.
func roundTrip(tr policy.Transporter, req *http.Request) (*http.Response, error) {
	resp, err := tr.Do(req)
	switch {
	case err != nil:
		return nil, err
	case resp == nil:
		return nil, errors.New("received nil response")
	}
	return resp, nil
}

// maxAnswer bounds what is read of one Graph answer: an assignment is a
// few hundred bytes, a configuration's list of them a few hundred KB; a
// larger answer is not Graph's, and is refused rather than held in memory
// and passed on.
const maxAnswer = 4 << 20

// errAnswerTooLarge is the cause of a refused answer past maxAnswer.
var errAnswerTooLarge = errors.New("graph: the answer is larger than 4 MiB")

// readBody reads and closes resp's body, up to maxAnswer. A body of a known
// length is read into one buffer of that length.
func readBody(resp *http.Response) ([]byte, error) {
	if resp.Body == nil {
		return nil, nil
	}
	defer resp.Body.Close()
	n := resp.ContentLength
	if n > maxAnswer {
		return nil, errAnswerTooLarge
	}
	if n < 0 || n > 1<<20 {
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
		if err == nil && len(b) > maxAnswer {
			return nil, errAnswerTooLarge
		}
		return b, err
	}
	// One byte more than announced, so that the read finding EOF has room.
	b := make([]byte, 0, n+1)
	for {
		m, err := resp.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// downloadError is a response whose body broke off. A PATCH or POST whose
// answer was lost is not sent again: Graph may have applied it, and every
// write spends the tenant's budget. A GET is retried like a dropped
// connection.
type downloadError struct{ err error }

func (e *downloadError) Error() string { return "read the response body: " + e.err.Error() }
func (e *downloadError) Unwrap() error { return e.err }
func (e *downloadError) NonRetriable() {}

func bodyReadError(method string, err error) error {
	if method == http.MethodGet {
		return err
	}
	return &downloadError{err: err}
}

// newClientRequestID returns a random (version 4) GUID for the
// client-request-id header, as one slice ready for the header map.
func newClientRequestID() []string {
	var u [16]byte
	_, _ = rand.Read(u[:])  // never fails: since Go 1.24 it crashes the program instead
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:], u[10:])
	return []string{string(s[:])}
}

// configurationURL returns the URL of base + configurationsPath + cfg +
// rest + asg (asg may be empty). ValidKey ids leave nothing to escape, so
// the path is one string; should the key rule ever widen, the URL keeps the
// escaped form too, as url.Parse would have.
func (c *Client) configurationURL(cfg, rest, asg string) url.URL {
	u := url.URL{Scheme: c.baseU.Scheme, Host: c.baseU.Host, Path: c.basePath + configurationsPath + cfg + rest + asg}
	if ec, ea := url.PathEscape(cfg), url.PathEscape(asg); c.baseEscaped != c.basePath || ec != cfg || ea != asg {
		u.RawPath = c.baseEscaped + configurationsPath + ec + rest + ea
	}
	return u
}
