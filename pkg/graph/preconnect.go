package graph

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// warmFor is how long a connection opened ahead of the first call waits to
// be taken: an older one may have been closed by Graph as idle (a function
// with provisioned concurrency starts long before its first invoke), so it
// is closed and the call dials afresh.
const warmFor = 30 * time.Second

// dialer is the default transport's: it opens the connection to Graph ahead
// of the first call when asked (preconnect, from Client.Prefetch) and hands
// it to the transport's first dial of that address. On a cold start the DNS
// look-up, TCP and TLS handshakes then run while the token is fetched,
// rather than after it.
type dialer struct {
	net       *net.Dialer
	tls       *tls.Config
	handshake time.Duration
	proxy     func(*http.Request) (*url.URL, error)
	now       func() time.Time

	mu   sync.Mutex
	warm map[string]*warmConn // by dialKey
}

// warmConn is a connection being opened, or opened, ahead of its call.
type warmConn struct {
	done chan struct{} // closed once conn or err is set
	conn net.Conn
	err  error
	at   time.Time // when conn was ready
	// taken says a dial has claimed it (under dialer.mu).
	taken bool
}

func newDialer(tlsConfig *tls.Config, proxy func(*http.Request) (*url.URL, error)) *dialer {
	return &dialer{
		net:       &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second},
		tls:       tlsConfig,
		handshake: 10 * time.Second,
		proxy:     proxy,
		now:       time.Now,
		warm:      map[string]*warmConn{},
	}
}

// dialKey says which of the transport's dials a connection is for: TLS
// (DialTLSContext, https without a proxy) or plain TCP (DialContext).
func dialKey(secure bool, addr string) string {
	if secure {
		return "tls " + addr
	}
	return "tcp " + addr
}

// preconnect opens, in the background and within the given time, the connection the
// transport will want for a request to u, unless one is already open or
// opening. It does nothing when a proxy serves u (the transport then dials
// the proxy and speaks TLS through it itself) or for a scheme other than
// http and https.
func (d *dialer) preconnect(ctx context.Context, within time.Duration, u *url.URL) {
	secure := u.Scheme == "https"
	if !secure && u.Scheme != "http" {
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
	addr := net.JoinHostPort(u.Hostname(), port)
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
		// Not taken in time: closed, so that no socket lingers.
		time.AfterFunc(warmFor, func() { d.drop(key, w) })
	}()
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

// take returns the connection opened ahead for key, waiting for it within
// ctx; nil when there is none, it failed, or it waited too long to be
// taken. Each is taken once.
func (d *dialer) take(ctx context.Context, key string) net.Conn {
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
	case <-ctx.Done():
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
	if d.now().Sub(w.at) > warmFor {
		w.conn.Close()
		return nil
	}
	return w.conn
}

// DialContext is the transport's TCP dial (http, and a proxy's connection).
func (d *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if c := d.take(ctx, dialKey(false, addr)); c != nil {
		return c, nil
	}
	return d.net.DialContext(ctx, network, addr)
}

// DialTLSContext is the transport's dial of an https address without a
// proxy: TCP, then the TLS handshake with the transport's settings (HTTP/2
// offered first), within the handshake timeout.
func (d *dialer) DialTLSContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if c := d.take(ctx, dialKey(true, addr)); c != nil {
		return c, nil
	}
	return d.dialTLS(ctx, network, addr)
}

func (d *dialer) dialTLS(ctx context.Context, network, addr string) (net.Conn, error) {
	raw, err := d.net.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	cfg := d.tls.Clone()
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			raw.Close()
			return nil, err
		}
		cfg.ServerName = host
	}
	if len(cfg.NextProtos) == 0 {
		cfg.NextProtos = []string{"h2", "http/1.1"}
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
