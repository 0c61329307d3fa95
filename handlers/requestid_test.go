package handlers

import (
	"regexp"
	"testing"
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
		string(make([]byte, maxRequestIDLen+1)), "ünïcode",
	} {
		if id := ids.next(bad); id == bad || !form.MatchString(id) {
			t.Errorf("X-Request-Id %q: id %q, want one of ours", bad, id)
		}
	}
}
