package httpurl

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, good := range []string{"https://login.example.com", "http://127.0.0.1:8091/claims?x=1"} {
		if _, err := Parse(good); err != nil {
			t.Errorf("Parse(%q): %v", good, err)
		}
	}
	for s, want := range map[string]string{
		"http://[::1":                 "does not parse",
		"ftp://example.com":           "is not http or https",
		"/claims":                     "is not http or https",
		"https:///path":               "has no host",
		"https://user:hunter2@:0x/\n": "does not parse",
	} {
		_, err := Parse(s)
		if err == nil || err.Error() != want {
			t.Errorf("Parse(%q) = %v, want %q", s, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error quotes the URL: %v", err)
		}
	}
}
