// Package roundtrip is what the outgoing HTTP calls (to WeChat, to the
// claims hook) share: their HTTP client, and the sorting of their
// failures for errors and metrics.
package roundtrip

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// NewHTTPClient returns a client tuned for many concurrent calls to one
// host: keep-alive with a large idle pool, idle connections closed after
// 30 s (before a server's usual keep-alive timeout, so that a call rarely
// meets a connection the server is closing), and no redirects followed (a
// redirect would resend the request, secrets and users' ids among them,
// to whatever host it names). It sets no overall timeout; each call
// carries its own deadline.
func NewHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 128
	t.IdleConnTimeout = 30 * time.Second
	return &http.Client{
		Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Failure classifies err, a round trip made under ctx that failed, as
// the metrics result "timeout", "canceled" or "unavailable", and returns
// it as an error that wraps timeout or unavailable (and context.Canceled
// when canceled), prefixed with what (such as "jscode2session: ", or
// ""). The URL of a *url.Error is dropped: it may hold a secret.
func Failure(ctx context.Context, err error, timeout, unavailable error, what string) (string, error) {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return "timeout", fmt.Errorf("%w: %sno answer in time", timeout, what)
	case errors.Is(ctx.Err(), context.Canceled):
		return "canceled", fmt.Errorf("%w: %s%w", unavailable, what, context.Canceled)
	default:
		return "unavailable", fmt.Errorf("%w: %s%v", unavailable, what, err)
	}
}
