package loopback

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"time"
)

// ServeHTTPS serves h over TLS with cfg on l in the background, its errors
// (aborted handshakes, which tests provoke) discarded, and returns the
// function that stops it: a second for requests in flight, then closed.
func ServeHTTPS(l net.Listener, cfg *tls.Config, h http.Handler) (stop func()) {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
		TLSConfig:         cfg,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeTLS(l, "", "")
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = srv.Close()
		<-done
	}
}
