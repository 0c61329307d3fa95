package handlers

import (
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"github.com/wxlogin/wxlogin/internal/text"
)

// Request ids keep the form chi's middleware.RequestID gives them, are
// unique, and a valid X-Request-Id claimed by a trusted proxy is kept.
func TestRequestIDs(t *testing.T) {
	ids := newRequestIDs()
	form := regexp.MustCompile(`^[^/]+/[0-9a-f]{10}-[0-9]{6,}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := ids.next("")
		if !form.MatchString(id) {
			t.Fatalf("id %q, want host/tag-000001", id)
		}
		if seen[id] {
			t.Fatalf("id %q given twice", id)
		}
		seen[id] = true
	}
	ids.n.Store(1234567 - 1)
	if id := ids.next(""); id != ids.prefix+"1234567" {
		t.Errorf("id %q, want %q", id, ids.prefix+"1234567")
	}
	if id := ids.next("from-the-proxy"); id != "from-the-proxy" {
		t.Errorf("id %q, want the X-Request-Id sent", id)
	}
	// An X-Request-Id that is not an id is not written into logs and
	// answers: the request gets an id of ours.
	for _, bad := range []string{
		"line\nbreak", `{"level":"ERROR"}`, "with space", "code=0a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6\u0000",
		strings.Repeat("a", text.MaxIDLen+1), "ünïcode",
	} {
		if id := ids.next(bad); id == bad || !form.MatchString(id) {
			t.Errorf("X-Request-Id %q: id %q, want one of ours", bad, id)
		}
	}
}

// A trusted peer is trusted the same way for its X-Forwarded-For and for
// its X-Request-Id: an IPv6 link-local proxy, whose address carries a
// zone, included.
func TestTrustedPeerOneRule(t *testing.T) {
	s := &server{Deps: Deps{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("fe80::/10"), netip.MustParsePrefix("10.0.0.0/8")}}}
	for _, tc := range []struct {
		peer    string
		trusted bool
	}{
		{"[fe80::1%eth0]:4431", true},
		{"[fe80::1]:4431", true},
		{"[::ffff:10.1.2.3]:4431", true},
		{"10.1.2.3:4431", true},
		{"[2001:db8::1%eth0]:4431", false},
		{"192.0.2.1:4431", false},
		{"not an address", false},
	} {
		r := httptest.NewRequest("POST", "/v1/login", nil)
		r.RemoteAddr = tc.peer
		r.Header.Set("X-Forwarded-For", "203.0.113.7")
		if got := s.fromTrustedProxy(r); got != tc.trusted {
			t.Errorf("peer %s: fromTrustedProxy = %v, want %v", tc.peer, got, tc.trusted)
		}
		xffBelieved := findClientIP(r, s.TrustedProxies) == netip.MustParseAddr("203.0.113.7")
		if xffBelieved != tc.trusted {
			t.Errorf("peer %s: X-Forwarded-For believed = %v, want %v", tc.peer, xffBelieved, tc.trusted)
		}
	}
}
