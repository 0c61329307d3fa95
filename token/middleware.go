package token

import "net/http"

// Option configures Middleware.
type Option func(*middlewareOptions)

type middlewareOptions struct {
	cacheSize int
	onError   func(http.ResponseWriter, *http.Request, error)
}

// WithCacheSize sets how many verified tokens Middleware remembers (see
// Cache); zero or less turns the cache off. The default is
// DefaultCacheSize.
func WithCacheSize(n int) Option {
	return func(o *middlewareOptions) { o.cacheSize = n }
}

// WithErrorHandler replaces WriteError as the answer to a request whose
// token is missing or refused, for example to log the reason first. err
// wraps ErrInvalid and a reason (see Reason).
func WithErrorHandler(f func(w http.ResponseWriter, r *http.Request, err error)) Option {
	return func(o *middlewareOptions) { o.onError = f }
}

// Middleware returns net/http middleware, for chi's Use or any router,
// that lets a request through only with a token v accepts in its
// `Authorization: Bearer` header, and puts the token's claims in the
// request's context (see FromContext). Other requests are answered by
// WriteError. Verified tokens are cached (see Cache, WithCacheSize).
func Middleware(v *Verifier, opts ...Option) func(http.Handler) http.Handler {
	o := middlewareOptions{cacheSize: DefaultCacheSize, onError: WriteError}
	for _, opt := range opts {
		opt(&o)
	}
	verify := v.VerifyContext
	if o.cacheSize > 0 {
		verify = NewCache(v, o.cacheSize).VerifyContext
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, err := BearerToken(r)
			var c *Claims
			if err == nil {
				c, err = verify(r.Context(), tok)
			}
			if err != nil {
				o.onError(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), c)))
		})
	}
}
