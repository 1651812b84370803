package graph

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
	"unicode/utf8"
)

// defaultWarmFor is how long a connection opened ahead of the first call
// waits to be taken: an older one may have been closed by Graph as idle (a
// function with provisioned concurrency starts long before its first
// invoke), so it is closed and the call dials afresh.
const defaultWarmFor = 30 * time.Second

// dialer is the default transport's: it opens the connection to Graph ahead
// of the first call when asked (preconnect, from Client.Prefetch) and hands
// it to the transport's first dial of that address, if it is open by then.
// On a cold start the DNS look-up, TCP and TLS handshakes then run while
// the token is fetched, rather than after it.
type dialer struct {
	net *net.Dialer
	// tls is the dialer's own copy of the transport's TLS settings, HTTP/2
	// offered first (net/http writes to the transport's copy as it starts).
	tls       *tls.Config
	handshake time.Duration
	proxy     func(*http.Request) (*url.URL, error)
	// now is the wall clock: a connection's age is read by it, not by the
	// monotonic clock, which stands still while Lambda has the function
	// frozen.
	now     func() time.Time
	warmFor time.Duration

	mu   sync.Mutex
	warm map[string]*warmConn // by dialKey
}

// warmConn is a connection being opened, or opened, ahead of its call.
type warmConn struct {
	done chan struct{} // closed once conn or err is set
	conn net.Conn
	err  error
	at   time.Time // when conn was ready, by the wall clock
	// taken says a dial or the drop has claimed it (under dialer.mu).
	taken bool
}

func newDialer(tlsConfig *tls.Config, handshake time.Duration, proxy func(*http.Request) (*url.URL, error)) *dialer {
	own := tlsConfig.Clone()
	if len(own.NextProtos) == 0 {
		own.NextProtos = []string{"h2", "http/1.1"}
	}
	return &dialer{
		net:       &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second},
		tls:       own,
		handshake: handshake,
		proxy:     proxy,
		now:       func() time.Time { return time.Now().Round(0) },
		warmFor:   defaultWarmFor,
		warm:      map[string]*warmConn{},
	}
}

// dialKey says which of the transport's dials a connection is for: TLS
// (DialTLSContext) or plain TCP (DialContext).
func dialKey(secure bool, addr string) string {
	if secure {
		return "tls " + addr
	}
	return "tcp " + addr
}

// preconnect opens, in the background and within the given time, the
// connection the transport will want for a request to u, unless one is
// already open or opening. It does nothing when a proxy serves u (the
// transport then dials the proxy), for a scheme other than http and https,
// or for a host name that is not ASCII (the transport asks for its
// punycode).
func (d *dialer) preconnect(ctx context.Context, within time.Duration, u *url.URL) {
	secure := u.Scheme == "https"
	host := u.Hostname()
	if !secure && u.Scheme != "http" || !isASCII(host) {
		return
	}
	if d.proxy != nil {
		if p, err := d.proxy(&http.Request{Method: http.MethodGet, URL: u, Header: http.Header{}}); err != nil || p != nil {
			return
		}
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if secure {
			port = "443"
		}
	}
	addr := net.JoinHostPort(host, port)
	key := dialKey(secure, addr)
	d.mu.Lock()
	if _, ok := d.warm[key]; ok {
		d.mu.Unlock()
		return
	}
	w := &warmConn{done: make(chan struct{})}
	d.warm[key] = w
	d.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(ctx, within)
		defer cancel()
		if secure {
			w.conn, w.err = d.dialTLS(ctx, "tcp", addr)
		} else {
			w.conn, w.err = d.net.DialContext(ctx, "tcp", addr)
		}
		w.at = d.now()
		close(w.done)
		// Not taken in time: closed, so that no socket lingers (after a
		// freeze, at the latest when the function thaws).
		time.AfterFunc(d.warmFor, func() { d.drop(key, w) })
	}()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// drop forgets w and closes its connection unless a dial took it.
func (d *dialer) drop(key string, w *warmConn) {
	d.mu.Lock()
	mine := !w.taken
	w.taken = true
	if d.warm[key] == w {
		delete(d.warm, key)
	}
	d.mu.Unlock()
	if mine && w.conn != nil {
		w.conn.Close()
	}
}

// take returns the connection opened ahead for key if it is open now; nil
// when there is none, it is still opening (the call does not wait for a
// dial that may have stalled: it dials its own, and the other is closed
// once done), it failed, or it waited too long to be taken. Each is taken
// once.
func (d *dialer) take(key string) net.Conn {
	d.mu.Lock()
	w, ok := d.warm[key]
	if ok {
		w.taken = true
		delete(d.warm, key)
	}
	d.mu.Unlock()
	if !ok {
		return nil
	}
	select {
	case <-w.done:
	default:
		go func() {
			<-w.done
			if w.conn != nil {
				w.conn.Close()
			}
		}()
		return nil
	}
	if w.err != nil {
		return nil
	}
	if d.now().Sub(w.at) > d.warmFor {
		w.conn.Close()
		return nil
	}
	return w.conn
}

// DialContext is the transport's TCP dial (http, and a proxy's connection).
func (d *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if c := d.take(dialKey(false, addr)); c != nil {
		return c, nil
	}
	return d.net.DialContext(ctx, network, addr)
}

// DialTLSContext is the transport's dial of an https address (Graph's
// without a proxy, or an https proxy's): TCP, then the TLS handshake with
// the transport's settings (HTTP/2 offered first), within the handshake
// timeout.
func (d *dialer) DialTLSContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if c := d.take(dialKey(true, addr)); c != nil {
		return c, nil
	}
	return d.dialTLS(ctx, network, addr)
}

func (d *dialer) dialTLS(ctx context.Context, network, addr string) (net.Conn, error) {
	raw, err := d.net.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	cfg := d.tls
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			raw.Close()
			return nil, err
		}
		cfg = cfg.Clone()
		cfg.ServerName = host
	}
	hctx, cancel := context.WithTimeout(ctx, d.handshake)
	defer cancel()
	conn := tls.Client(raw, cfg)
	if err := conn.HandshakeContext(hctx); err != nil {
		raw.Close()
		return nil, err
	}
	return conn, nil
}
