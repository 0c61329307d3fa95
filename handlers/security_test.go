package handlers_test

import (
	"strings"
	"testing"

	"github.com/wxlogin/wxlogin/wechat/wechattest"
)

// longestLogLine returns the length of the longest line in logs.
func longestLogLine(logs string) int {
	n := 0
	for _, line := range strings.Split(logs, "\n") {
		n = max(n, len(line))
	}
	return n
}

// A 15,000-character method is neither echoed in the 405 problem nor
// written whole into the request's log line.
func TestLongMethodIsBounded(t *testing.T) {
	ts := newTestServer(t, testOptions{})
	method := strings.Repeat("X", 15_000)
	status, hdr, body := ts.do(t, method, "/v1/login", "", "")
	p := wantProblem(t, status, hdr, body, 405, "method_not_allowed")
	if len(body) > 1000 || strings.Contains(p.Detail, method[:100]) {
		t.Errorf("the 405 answer (%d bytes) echoes the method: detail %.80q…", len(body), p.Detail)
	}
	logs := ts.logs.waitFor(t, `"status":405`)
	if !strings.Contains(logs, `"status":405`) {
		t.Fatalf("no request line for the 405:\n%.2000s", logs)
	}
	if n := longestLogLine(logs); n > 1000 {
		t.Errorf("a log line is %d bytes long: the method is logged whole", n)
	}
	// A standard method is still named as it is.
	status, hdr, body = ts.do(t, "PUT", "/v1/login", "", "")
	if p := wantProblem(t, status, hdr, body, 405, "method_not_allowed"); !strings.Contains(p.Detail, "PUT") {
		t.Errorf("detail %q does not name PUT", p.Detail)
	}
}

// An upstream's errmsg, or an errcode that is not a number, of a megabyte
// reaches the log cut to about 200 bytes.
func TestUpstreamTextIsBoundedInLogs(t *testing.T) {
	huge := strings.Repeat("m", 1<<20-100) // just under the 1 MiB the client reads
	for name, answer := range map[string]string{
		"errmsg":            `{"errcode":40099,"errmsg":"` + huge + `"}`,
		"errcode as string": `{"errcode":"` + huge + `","errmsg":"x"}`,
	} {
		t.Run(name, func(t *testing.T) {
			ts := newTestServer(t, testOptions{})
			ts.wx.Inject(wechattest.StatusFault(200, answer))
			status, hdr, body := ts.login(t, "abc")
			wantProblem(t, status, hdr, body, 502, "upstream_error")
			logs := ts.logs.waitFor(t, "request failed")
			if !strings.Contains(logs, "request failed") || !strings.Contains(logs, "mmmmmmmmmm") {
				t.Fatalf("no error line quoting the start of the answer:\n%.2000s", logs)
			}
			if n := longestLogLine(logs); n > 1000 {
				t.Errorf("a log line is %d bytes long; want the upstream text cut to about 200", n)
			}
		})
	}
}
