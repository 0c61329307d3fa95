package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// serveMetrics serves h as GET /metrics, and nothing else, on a listener
// of its own at addr (WXLOGIN_METRICS_ADDR): a loopback or admin port that
// the public never reaches, so that the counts of logins, refusals and
// WeChat's errors are not published to every client. A failure to serve
// goes to errc, as the main listener's does. Close the server to stop it.
func serveMetrics(addr string, h http.Handler, logger *slog.Logger, errc chan<- error) (*http.Server, net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen on %s (WXLOGIN_METRICS_ADDR): %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: connTimeouts.readHeader,
		ReadTimeout:       connTimeouts.read,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       connTimeouts.idle,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := srv.Serve(ln); err != http.ErrServerClosed {
			errc <- fmt.Errorf("metrics listener: %w", err)
		}
	}()
	logger.Info("serving /metrics on its own listener", "addr", ln.Addr().String())
	return srv, ln.Addr(), nil
}
