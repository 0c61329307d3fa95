package token

import (
	"context"
	"strings"
	"sync"
	"time"
)

// DefaultCacheSize is how many verified tokens Middleware remembers unless
// told otherwise. A wxlogin token without hook claims is about 700
// bytes, so a full cache holds about 10 MB; with a claims hook's largest
// claims (tokens up to MaxTokenSize, and their decoded Extra) it can be
// ten times that, and WithCacheSize is the knob.
const DefaultCacheSize = 10_000

// cacheMaxAge bounds how long a verified token is served from the cache,
// even before it expires, so that a key withdrawn from the JWKS stops
// being trusted soon after a Verifier learns of it.
const cacheMaxAge = 10 * time.Minute

// Cache remembers tokens a Verifier accepted, so that a mini program that
// sends the same token for hours pays for one signature check, not one per
// request. It holds at most a fixed number of tokens, keyed by the whole
// token, serves none past its exp (nor more than ten minutes after it was
// verified), and never remembers a refusal. It is safe for concurrent use.
type Cache struct {
	v   *Verifier
	max int

	mu sync.RWMutex
	m  map[string]cacheEntry
}

type cacheEntry struct {
	claims *Claims
	until  time.Time // min(exp, verified + cacheMaxAge)
}

// NewCache returns a Cache in front of v that holds at most maxEntries
// tokens; DefaultCacheSize when maxEntries is not positive.
func NewCache(v *Verifier, maxEntries int) *Cache {
	if maxEntries <= 0 {
		maxEntries = DefaultCacheSize
	}
	return &Cache{v: v, max: maxEntries, m: make(map[string]cacheEntry)}
}

// Verify is Verifier.Verify, answered from the cache when it can be.
func (c *Cache) Verify(tokenString string) (*Claims, error) {
	return c.VerifyContext(context.Background(), tokenString)
}

// VerifyContext is Verifier.VerifyContext, answered from the cache when it
// can be. The claims it returns may be shared: treat them as read-only.
func (c *Cache) VerifyContext(ctx context.Context, tokenString string) (*Claims, error) {
	now := c.v.now()
	c.mu.RLock()
	e, ok := c.m[tokenString]
	c.mu.RUnlock()
	if ok && now.Before(e.until) {
		return e.claims, nil
	}
	claims, err := c.v.VerifyContext(ctx, tokenString)
	if err != nil {
		if ok {
			c.forget(tokenString)
		}
		return nil, err
	}
	until := claims.ExpiresAt.Time // required by the Verifier
	if limit := now.Add(cacheMaxAge); limit.Before(until) {
		until = limit
	}
	if now.Before(until) {
		c.put(tokenString, cacheEntry{claims: claims, until: until}, now)
	}
	return claims, nil
}

// Len returns how many tokens the cache holds, stale ones included.
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

func (c *Cache) forget(tokenString string) {
	c.mu.Lock()
	delete(c.m, tokenString)
	c.mu.Unlock()
}

// put adds e, first making room when the cache is full: it drops the
// stale entries among a few it looks at, or else one at random (Go map
// iteration starts at a random place). Random eviction needs no
// bookkeeping on the read path, which stays a read lock and a map lookup.
func (c *Cache) put(tokenString string, e cacheEntry, now time.Time) {
	key := strings.Clone(tokenString) // do not pin the caller's buffer
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; !ok && len(c.m) >= c.max {
		const look = 8
		seen, dropped := 0, 0
		var victim string
		for k, old := range c.m {
			if !now.Before(old.until) {
				delete(c.m, k)
				dropped++
			} else if victim == "" {
				victim = k
			}
			if seen++; seen == look {
				break
			}
		}
		if dropped == 0 {
			delete(c.m, victim)
		}
	}
	c.m[key] = e
}
