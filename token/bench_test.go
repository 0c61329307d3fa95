package token_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wxlogin/wxlogin/token"
	"github.com/wxlogin/wxlogin/token/tokentest"
)

// BenchmarkVerify compares a full verification with one served by the
// cache, for each algorithm.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range algs {
		s := tokentest.New(alg, testIssuer, testAudience)
		v := staticVerifier(b, s.PublicKey())
		tok := s.Token("oAbcdefghijklmnopqrstuvwxyz0")
		b.Run(alg+"/uncached", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(alg+"/cached", func(b *testing.B) {
			c := token.NewCache(v, 0)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Verify(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(alg+"/cached-parallel", func(b *testing.B) {
			c := token.NewCache(v, 0)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.Verify(tok); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkMiddleware is a whole protected request, minus the network.
func BenchmarkMiddleware(b *testing.B) {
	s := tokentest.New(token.ES256, testIssuer, testAudience)
	v := staticVerifier(b, s.PublicKey())
	req := httptest.NewRequest(http.MethodGet, "/hello", nil)
	req.Header.Set("Authorization", "Bearer "+s.Token("oAbcdefghijklmnopqrstuvwxyz0"))
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	for name, size := range map[string]int{"uncached": 0, "cached": token.DefaultCacheSize} {
		b.Run(name, func(b *testing.B) {
			h := token.Middleware(v, token.WithCacheSize(size))(ok)
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, req)
			}
		})
	}
}
