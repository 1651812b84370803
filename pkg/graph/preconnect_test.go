package graph

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
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
	t.Helper()
	g := &connGraph{accepted: make(chan string, 10), closed: map[string]bool{}}
	g.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.requests = append(g.requests, r.RemoteAddr+" "+r.Proto)
		g.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"asg_2-b","target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"g"}}`))
	}))
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
	if secure {
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
	t.Helper()
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if cert := g.srv.Certificate(); cert != nil {
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
// taken within warmFor (provisioned concurrency starts functions long
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
	now = now.Add(warmFor + time.Second)
	mu.Unlock()
	if _, err := c.GetAssignment(context.Background(), "cfg-1_A", "asg_2-b"); err != nil {
		t.Fatal(err)
	}
	fresh := g.nextAccepted(t, "the call found no connection")
	if got := g.recorded(); len(got) != 1 || got[0] != fresh+" HTTP/2.0" {
		t.Errorf("the call came as %v, want over a fresh connection %s", got, fresh)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		g.mu.Lock()
		closed := g.closed[early]
		g.mu.Unlock()
		if closed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stale connection was left open")
		}
		time.Sleep(10 * time.Millisecond)
	}
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
