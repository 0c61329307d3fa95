package text

import (
	"strings"
	"testing"
)

func TestCut(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"abc", 5, "abc"}, {"abc", 3, "abc"}, {"abcdef", 3, "abc"},
		{"aé", 2, "a"}, // é is two bytes: not split
		{"ééé", 5, "éé"}, {"é", 0, ""},
	} {
		if got := Cut(tc.s, tc.n); got != tc.want {
			t.Errorf("Cut(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}

func TestClipAndEllipsis(t *testing.T) {
	if got := Clip(strings.Repeat("x", 10), 4); got != "xxxx…(6 more bytes)" {
		t.Errorf("Clip = %q", got)
	}
	if got := Clip("short", 10); got != "short" {
		t.Errorf("Clip of a short text = %q", got)
	}
	if got := Ellipsis("PROPFINDXYZ", 4); got != "PROP…" {
		t.Errorf("Ellipsis = %q", got)
	}
	if got := Ellipsis("GET", 4); got != "GET" {
		t.Errorf("Ellipsis of a short text = %q", got)
	}
}

func TestIsID(t *testing.T) {
	for _, good := range []string{"host/0123456789-000042", "4bf92f3577b34da6a3ce929d0e0e4736", "a.b_c:d/e+f=g-h", strings.Repeat("a", MaxIDLen)} {
		if !IsID(good) {
			t.Errorf("IsID(%q) = false", good)
		}
	}
	for _, bad := range []string{"", "line\nbreak", `{"level":"ERROR"}`, "with space", "ünïcode", "nul\x00", strings.Repeat("a", MaxIDLen+1)} {
		if IsID(bad) {
			t.Errorf("IsID(%q) = true", bad)
		}
	}
}
