package graphemu

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// Start serves s on addr, which must be a loopback address ("127.0.0.1:0",
// the default when addr is empty, picks a free port). It returns the root
// URL ("http://127.0.0.1:port", no version) and a shutdown function. Build
// the caller's settings from the root with GraphURL and IdentityEndpoint.
func (s *Server) Start(addr string) (rootURL string, shutdown func(context.Context) error, err error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", nil, fmt.Errorf("graphemu: start: %w", err)
	}
	if !loopback(host) {
		return "", nil, fmt.Errorf("graphemu: start: %q is not a loopback address; the emulator trusts anyone who can reach it", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("graphemu: start: %w", err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && s.opts.Logger != nil {
			s.opts.Logger.Error("graphemu: serve", "err", err)
		}
	}()
	return "http://" + ln.Addr().String(), srv.Shutdown, nil
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// GraphURL is the Graph base URL (with version, "beta" or "v1.0") of an
// emulator served at rootURL: what ENROLLHOOK_GRAPH_URL takes.
func GraphURL(rootURL, version string) string {
	return strings.TrimRight(rootURL, "/") + "/" + version
}

// IdentityEndpoint is the IDENTITY_ENDPOINT of an emulator served at
// rootURL: rootURL + TokenPath. Pair it with IDENTITY_HEADER set to
// Options.IdentityHeader (DefaultIdentityHeader by default).
func IdentityEndpoint(rootURL string) string {
	return strings.TrimRight(rootURL, "/") + TokenPath
}
