package token

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"golang.org/x/time/rate"
)

const (
	// jwksFetchTimeout bounds one fetch of the JWKS in the background or
	// at start-up.
	jwksFetchTimeout = 10 * time.Second
	// jwksRefetchWait bounds how long a request that names an unknown kid
	// waits for the JWKS to be fetched again, rate limit included: past
	// it, the token is refused as signed by an unknown key.
	jwksRefetchWait = 3 * time.Second
	// maxJWKSSize bounds the JWKS body read; wxlogin's is under 1 KiB.
	maxJWKSSize = 1 << 20
)

// remoteKeys are the keys of a JWKS fetched over HTTP by keyfunc, which
// refreshes them in the background and refetches, rate-limited, when a
// token names a kid it does not hold.
type remoteKeys struct {
	store jwkset.Storage
	close context.CancelFunc
}

func newRemoteKeys(cfg VerifierConfig) (*remoteKeys, error) {
	u, err := url.Parse(cfg.JWKSURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("token: JWKS URL must be an absolute http(s) URL")
	}
	client := &http.Client{Timeout: jwksFetchTimeout}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		client = &c
	}
	client.Transport = limitBody{base: client.Transport}
	refresh := cfg.RefreshInterval
	if refresh <= 0 {
		refresh = KeysMaxAge
	}
	refetch := cfg.RefetchInterval
	if refetch <= 0 {
		refetch = 30 * time.Second
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{cfg.JWKSURL}, keyfunc.Override{
		Client:            client,
		HTTPTimeout:       jwksFetchTimeout,
		RefreshInterval:   refresh,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(refetch), 1),
		RateLimitWaitMax:  jwksRefetchWait,
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(ctx context.Context, err error) {
				logger.WarnContext(ctx, "token: cannot fetch the JWKS; keeping the keys already known", "url", u, "err", err)
			}
		},
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("token: JWKS client: %w", err)
	}
	return &remoteKeys{store: kf.Storage(), close: cancel}, nil
}

func (r *remoteKeys) key(ctx context.Context, kid, alg string) (crypto.PublicKey, error) {
	jwk, err := r.store.KeyRead(ctx, kid)
	if err != nil {
		// Not in the set, or the set could not be fetched again in time.
		return nil, ErrUnknownKey
	}
	m := jwk.Marshal()
	if m.USE != "" && m.USE != jwkset.UseSig {
		return nil, ErrUnknownKey
	}
	pub := jwk.Key()
	if p, ok := pub.(interface{ Public() crypto.PublicKey }); ok {
		pub = p.Public()
	}
	keyAlg, err := algOf(pub)
	if err != nil {
		return nil, ErrUnknownKey // a key of a type wxlogin never signs with
	}
	// The key's type decides its algorithm; a JWK alg, when present, must
	// agree, and so must the token's.
	if (m.ALG != "" && m.ALG.String() != keyAlg) || alg != keyAlg {
		return nil, ErrSignature
	}
	return pub, nil
}

// limitBody caps the size of every response body, so a broken or hostile
// JWKS endpoint cannot make the verifier read without end.
type limitBody struct{ base http.RoundTripper }

func (l limitBody) RoundTrip(req *http.Request) (*http.Response, error) {
	base := l.base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.LimitReader(resp.Body, maxJWKSSize), resp.Body}
	return resp, nil
}
