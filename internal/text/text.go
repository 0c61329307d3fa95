// Package text bounds text that comes from outside (an upstream's
// message, a client's method or request id) before it is logged or
// echoed.
package text

import (
	"strconv"
	"unicode/utf8"
)

// Cut shortens s to at most n bytes, on a UTF-8 boundary.
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Clip is Cut, followed by how much it left out ("…(12 more bytes)")
// when it left anything out.
func Clip(s string, n int) string {
	c := Cut(s, n)
	if len(c) == len(s) {
		return s
	}
	return c + "…(" + strconv.Itoa(len(s)-len(c)) + " more bytes)"
}

// Ellipsis is Cut, followed by "…" when it left anything out.
func Ellipsis(s string, n int) string {
	c := Cut(s, n)
	if len(c) == len(s) {
		return s
	}
	return c + "…"
}

// MaxIDLen bounds a request id worth logging (see IsID).
const MaxIDLen = 128

// IsID reports whether id is a request id worth logging and echoing:
// 1 to MaxIDLen letters, digits and ._:/+=- (UUIDs, trace ids, chi's
// form). Anything else would let its sender write what they like into
// the logs.
func IsID(id string) bool {
	if id == "" || len(id) > MaxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '_', c == ':', c == '/', c == '+', c == '=', c == '-':
		default:
			return false
		}
	}
	return true
}
