package token

import "context"

type claimsKey struct{}

// NewContext returns a copy of ctx that carries c. Middleware does this for
// every request it lets through; tests of handlers behind it can too.
func NewContext(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// FromContext returns the claims of the verified token that Middleware put
// in ctx, and whether there were any. The claims may be shared with other
// requests that carry the same token: treat them as read-only.
func FromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok && c != nil
}
