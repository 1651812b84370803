package graph

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// tokenCred answers every token request at once; safe for the prefetch's
// goroutine.
type tokenCred struct{ calls atomic.Int32 }

func (c *tokenCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.calls.Add(1)
	return azcore.AccessToken{Token: "t", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// connGraph is a Graph stand-in that records the connections it accepts
// and closes, and over which connection (and protocol) each request came.
type connGraph struct {
	srv      *httptest.Server
	accepted chan string // remote address of each connection accepted
	mu       sync.Mutex
	closed   map[string]bool
	requests []string // "remote proto" per request
}

func newConnGraph(t testing.TB, secure bool) *connGraph {
	return newConnGraphWith(t, secure, nil, nil)
}

// newConnGraphWith is newConnGraph with TLS settings of its own (the
// certificate is always testCert's) and a listener of its own.
func newConnGraphWith(t testing.TB, secure bool, tlsConfig *tls.Config, ln net.Listener) *connGraph {
	t.Helper()
	g := &connGraph{accepted: make(chan string, 10), closed: map[string]bool{}}
	g.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.requests = append(g.requests, r.RemoteAddr+" "+r.Proto)
		g.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"asg_2-b","target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"g"}}`))
	}))
	g.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are the point of some tests
	g.srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			select {
			case g.accepted <- c.RemoteAddr().String():
			default: // a benchmark's; the tests read the first few
			}
		case http.StateClosed, http.StateHijacked:
			g.mu.Lock()
			g.closed[c.RemoteAddr().String()] = true
			g.mu.Unlock()
		}
	}
	if ln != nil {
		g.srv.Listener.Close()
		g.srv.Listener = ln
	}
	if secure {
		if tlsConfig == nil {
			tlsConfig = &tls.Config{}
		}
		g.srv.TLS = tlsConfig.Clone()
		g.srv.TLS.Certificates = []tls.Certificate{testCert(t)}
		g.srv.EnableHTTP2 = true
		g.srv.StartTLS()
	} else {
		g.srv.Start()
	}
	t.Cleanup(g.srv.Close)
	return g
}

// client is a Client of g on a transport of its own (so no test shares the
// process's default dialer), trusting g's certificate.
func (g *connGraph) client(t testing.TB, proxy func(*http.Request) (*url.URL, error)) (*Client, *dialer) {
	return g.clientTrusting(t, proxy, true)
}

// clientTrusting is client, trusting g's certificate or only the system's
// roots.
func (g *connGraph) clientTrusting(t testing.TB, proxy func(*http.Request) (*url.URL, error), trust bool) (*Client, *dialer) {
	t.Helper()
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if cert := g.srv.Certificate(); cert != nil && trust {
		pool := x509.NewCertPool()
		pool.AddCert(cert)
		cfg.RootCAs = pool
	}
	hc, d := newTransport(cfg, proxy)
	t.Cleanup(hc.CloseIdleConnections)
	c, err := NewClient(g.srv.URL+"/beta", &tokenCred{}, "s", &Options{
		Transport: hc, dialer: d, InsecureAllowHTTP: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return c, d
}

// nextAccepted is the next connection g accepts, within 5 s.
func (g *connGraph) nextAccepted(t *testing.T, why string) string {
	t.Helper()
	select {
	case a := <-g.accepted:
		return a
	case <-time.After(5 * time.Second):
		t.Fatalf("no connection reached Graph: %s", why)
		return ""
	}
}

func (g *connGraph) recorded() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.requests...)
}

// awaitWarm waits until the connection d opens ahead for c is ready (or
// failed), within 5 s.
func awaitWarm(t testing.TB, d *dialer) {
	t.Helper()
	d.mu.Lock()
	var w *warmConn
	for _, w = range d.warm {
	}
	d.mu.Unlock()
	if w == nil {
		t.Fatal("Prefetch opened no connection ahead")
	}
	select {
	case <-w.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the connection opened ahead was not ready within 5 s")
	}
}

// TestPrefetchOpensTheGraphConnection: at a cold start the connection to
// Graph (TCP, and for https TLS with HTTP/2) is opened while the token is
// fetched, before any call, and the first call goes over it instead of
// dialing.
func TestPrefetchOpensTheGraphConnection(t *testing.T) {
	for _, tc := range []struct {
		name   string
		secure bool
		proto  string
	}{{"https", true, "HTTP/2.0"}, {"http", false, "HTTP/1.1"}} {
		t.Run(tc.name, func(t *testing.T) {
			g := newConnGraph(t, tc.secure)
			c, d := g.client(t, nil)
			c.Prefetch(context.Background(), 5*time.Second)
			early := g.nextAccepted(t, "Prefetch opened no connection before the first call")
			awaitWarm(t, d)
			if _, err := c.GetAssignment(context.Background(), "cfg-1_A", "asg_2-b"); err != nil {
				t.Fatal(err)
			}
			if got, want := g.recorded(), []string{early + " " + tc.proto}; len(got) != 1 || got[0] != want[0] {
				t.Errorf("the first call came as %v, want over the connection opened ahead (%v)", got, want)
			}
			select {
			case a := <-g.accepted:
				t.Errorf("the first call dialed again (%s) instead of taking the connection opened ahead", a)
			default:
			}
		})
	}
}

// TestAStaleWarmConnectionIsNotTaken: a connection opened ahead and not
// taken within warmFor by the wall clock (provisioned concurrency starts functions long
// before their first invoke; Graph may have closed it) is closed, and the
// call dials its own.
func TestAStaleWarmConnectionIsNotTaken(t *testing.T) {
	g := newConnGraph(t, true)
	c, d := g.client(t, nil)
	var mu sync.Mutex
	now := time.Now()
	d.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c.Prefetch(context.Background(), 5*time.Second)
	early := g.nextAccepted(t, "Prefetch opened no connection")
	awaitWarm(t, d)
	mu.Lock()
	now = now.Add(d.warmFor + time.Second)
	mu.Unlock()
	if _, err := c.GetAssignment(context.Background(), "cfg-1_A", "asg_2-b"); err != nil {
		t.Fatal(err)
	}
	fresh := g.nextAccepted(t, "the call found no connection")
	if got := g.recorded(); len(got) != 1 || got[0] != fresh+" HTTP/2.0" {
		t.Errorf("the call came as %v, want over a fresh connection %s", got, fresh)
	}
	awaitClosed(t, g, early, "the stale connection was left open")
}

// TestAFailedWarmUpCostsNothing: when the connection opened ahead failed
// (here its time ran out), the first call dials its own and succeeds.
func TestAFailedWarmUpCostsNothing(t *testing.T) {
	g := newConnGraph(t, true)
	c, d := g.client(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c.Prefetch(ctx, 5*time.Second)
	awaitWarm(t, d)
	if _, err := c.GetAssignment(context.Background(), "cfg-1_A", "asg_2-b"); err != nil {
		t.Fatalf("after a failed warm-up: %v", err)
	}
	if got := g.recorded(); len(got) != 1 {
		t.Errorf("requests = %v, want 1", got)
	}
}

// TestNoWarmUpThroughAProxy: through a proxy the transport dials the proxy
// and speaks TLS to Graph itself, so no connection is opened ahead (one to
// Graph would never be taken).
func TestNoWarmUpThroughAProxy(t *testing.T) {
	g := newConnGraph(t, true)
	proxy := func(*http.Request) (*url.URL, error) { return url.Parse("http://proxy.invalid:3128") }
	c, d := g.client(t, proxy)
	c.Prefetch(context.Background(), 5*time.Second)
	d.mu.Lock()
	n := len(d.warm)
	d.mu.Unlock()
	if n != 0 {
		t.Fatalf("a connection was opened ahead though a proxy serves Graph")
	}
}

// BenchmarkFirstCall measures a cold client's first call over TLS (HTTP/2,
// loopback), its token already fetched: "dialed" dials and shakes hands
// within the call, "opened-ahead" takes the connection Prefetch opened. The
// difference is what the cold start's first delivery no longer waits for
// (on Lambda, DNS and the round trips to Graph come on top).
func BenchmarkFirstCall(b *testing.B) {
	g := newConnGraph(b, true)
	for _, ahead := range []bool{false, true} {
		name := "dialed"
		if ahead {
			name = "opened-ahead"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				b.StopTimer()
				c, d := g.client(b, nil)
				if !ahead {
					c.dialer = nil
				}
				c.Prefetch(ctx, 5*time.Second)
				if ahead {
					awaitWarm(b, d)
				}
				if _, err := c.tokens.get(ctx, ""); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if _, err := c.GetAssignment(ctx, "cfg-1_A", "asg_2-b"); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				c.tr.(*http.Client).CloseIdleConnections()
				b.StartTimer()
			}
		})
	}
}

var (
	testCertOnce sync.Once
	testCertVal  tls.Certificate
	testCertErr  error
)

// testCert is a self-signed certificate for 127.0.0.1 only (httptest's
// own also names example.com, which would let a dial that sends the wrong
// server name pass).
func testCert(t testing.TB) tls.Certificate {
	t.Helper()
	testCertOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
		if err != nil {
			testCertErr = err
			return
		}
		now := time.Now()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "graph-test"},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
			KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			BasicConstraintsValid: true, IsCA: true}
		der, err := x509.CreateCertificate(crand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			testCertErr = err
			return
		}
		testCertVal = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	})
	if testCertErr != nil {
		t.Fatal(testCertErr)
	}
	return testCertVal
}

// warmOf is the connection d is opening or has opened ahead, or nil.
func warmOf(d *dialer) *warmConn {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, w := range d.warm {
		return w
	}
	return nil
}

// TestTheFirstCallRightAfterPrefetch: the first call may come while the
// connection is still opening; it succeeds either way (and under -race the
// two dials share no state they write).
func TestTheFirstCallRightAfterPrefetch(t *testing.T) {
	for range 20 {
		g := newConnGraph(t, true)
		c, _ := g.client(t, nil)
		c.Prefetch(context.Background(), 5*time.Second)
		if _, err := c.GetAssignment(context.Background(), "cfg-1_A", "asg_2-b"); err != nil {
			t.Fatal(err)
		}
		if got := g.recorded(); len(got) != 1 || !strings.HasSuffix(got[0], "HTTP/2.0") {
			t.Fatalf("requests = %v, want one over HTTP/2", got)
		}
	}
}

// TestAWarmConnectionIsTakenOnce: the connection opened ahead goes to one
// dial; the next dial of the address opens its own.
func TestAWarmConnectionIsTakenOnce(t *testing.T) {
	g := newConnGraph(t, true)
	c, d := g.client(t, nil)
	c.Prefetch(context.Background(), 5*time.Second)
	early := g.nextAccepted(t, "Prefetch opened no connection")
	awaitWarm(t, d)
	addr := strings.TrimPrefix(g.srv.URL, "https://")
	first, err := d.DialTLSContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	second, err := d.DialTLSContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if first.LocalAddr().String() != early || second.LocalAddr().String() == early {
		t.Errorf("dials got %s and %s; want the connection opened ahead (%s) once", first.LocalAddr(), second.LocalAddr(), early)
	}
}

// TestAWarmConnectionNotTakenIsClosed: a connection opened ahead that no
// call takes within warmFor is closed rather than left open.
func TestAWarmConnectionNotTakenIsClosed(t *testing.T) {
	g := newConnGraph(t, true)
	c, d := g.client(t, nil)
	d.warmFor = 50 * time.Millisecond
	c.Prefetch(context.Background(), 5*time.Second)
	early := g.nextAccepted(t, "Prefetch opened no connection")
	awaitClosed(t, g, early, "the connection no call took was left open")
}

// awaitClosed waits, 5 s at most, for g to see the connection from addr
// closed.
func awaitClosed(t *testing.T, g *connGraph, addr, why string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		g.mu.Lock()
		closed := g.closed[addr]
		g.mu.Unlock()
		if closed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(why)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stallingListener accepts connections and holds the first stall of them
// without a word (a handshake that never ends); the rest it hands on.
type stallingListener struct {
	net.Listener
	stall   int
	mu      sync.Mutex
	held    []net.Conn
	stalled chan struct{} // one value per connection held
}

func newStallingListener(t *testing.T, stall int) *stallingListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &stallingListener{Listener: ln, stall: stall, stalled: make(chan struct{}, stall)}
	t.Cleanup(func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, c := range l.held {
			c.Close()
		}
	})
	return l
}

func (l *stallingListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		hold := len(l.held) < l.stall
		if hold {
			l.held = append(l.held, c)
		}
		l.mu.Unlock()
		if !hold {
			return c, nil
		}
		l.stalled <- struct{}{}
	}
}

// TestAStalledWarmUpIsNotWaitedFor: when the connection opened ahead is
// still in its handshake as the first call dials (Graph, or the network,
// stalled), the call does not wait for it: it dials its own.
func TestAStalledWarmUpIsNotWaitedFor(t *testing.T) {
	ln := newStallingListener(t, 1)
	g := newConnGraphWith(t, true, nil, ln)
	c, _ := g.client(t, nil)
	c.Prefetch(context.Background(), time.Hour)
	select {
	case <-ln.stalled:
	case <-time.After(5 * time.Second):
		t.Fatal("Prefetch opened no connection")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.GetAssignment(ctx, "cfg-1_A", "asg_2-b"); err != nil {
		t.Fatalf("the first call waited for the stalled connection: %v", err)
	}
}

// TestTheHandshakeIsBounded: a TLS handshake that never ends fails within
// the handshake timeout, whether opened ahead or by a call.
func TestTheHandshakeIsBounded(t *testing.T) {
	ln := newStallingListener(t, 2)
	g := newConnGraphWith(t, true, nil, ln)
	c, d := g.client(t, nil)
	d.handshake = 100 * time.Millisecond
	c.Prefetch(context.Background(), time.Hour)
	awaitWarm(t, d) // fails after 5 s without the bound
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := d.DialTLSContext(ctx, "tcp", strings.TrimPrefix(g.srv.URL, "https://")); err == nil || ctx.Err() != nil {
		t.Fatalf("a call's handshake that never ends: %v (context: %v), want the handshake's timeout", err, ctx.Err())
	}
}

// TestNoWarmUpOfAGraphNotTrusted: the connection opened ahead is verified
// as a call's is: a Graph whose certificate is not trusted, or that offers
// only TLS 1.1, gets no connection and no request.
func TestNoWarmUpOfAGraphNotTrusted(t *testing.T) {
	for _, tc := range []struct {
		name   string
		server *tls.Config
		trust  bool
	}{
		{"untrusted certificate", nil, false},
		{"TLS 1.1 only", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newConnGraphWith(t, true, tc.server, nil)
			c, d := g.clientTrusting(t, nil, tc.trust)
			c.Prefetch(context.Background(), 5*time.Second)
			w := warmOf(d)
			awaitWarm(t, d)
			if w.err == nil {
				t.Fatal("the connection opened ahead was established")
			}
			if _, err := c.GetAssignment(context.Background(), "cfg-1_A", "asg_2-b"); err == nil {
				t.Error("the call succeeded")
			}
			if got := g.recorded(); len(got) != 0 {
				t.Errorf("Graph received %v", got)
			}
		})
	}
}
