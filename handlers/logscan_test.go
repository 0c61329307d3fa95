package handlers_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
)

// The log scan: every test server's logger also writes into logCapture
// (captureLogs), and every secret that crosses a test server's edges is
// recorded (recordTraffic on the API side, recordingClient on the WeChat
// side, recordSecret for key material). After all tests have run,
// TestMain fails the package if any recorded secret appears anywhere in
// the captured logs.

var (
	logCapture logBuffer
	secrets    = secretSet{m: map[string]string{}}
)

// secretFields are the JSON members and query parameters whose values
// must never be logged: login and phone codes, tokens and their sealed
// session keys, session keys, access tokens, the AppSecret, signatures,
// open data as sent (encrypted, its iv, and user info in the clear), and
// phone numbers (personal data).
var secretFields = map[string]string{
	"code": "code", "js_code": "code", "token": "token", "sk": "sealed session_key",
	"session_key": "session_key", "access_token": "access_token", "secret": "app secret",
	"signature": "signature", "encryptedData": "open data", "iv": "open data iv", "rawData": "user info",
	"phoneNumber": "phone number", "purePhoneNumber": "phone number",
}

// minSecretLen skips values too short to be told apart from chance
// matches (tests send codes such as "abc"); WeChat's are 32 characters.
const minSecretLen = 8

type secretSet struct {
	mu      sync.Mutex
	m       map[string]string // value → what it is
	skipped int
}

func (s *secretSet) add(kind, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(v) < minSecretLen {
		s.skipped++
		return
	}
	s.m[v] = kind
}

// recordSecret records a secret a test used, such as key material.
func recordSecret(kind, v string) { secrets.add(kind, v) }

// recordPEM records every base64 line of a PEM block.
func recordPEM(kind string, pemText []byte) {
	for _, line := range strings.Split(string(pemText), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "-----") {
			recordSecret(kind, line)
		}
	}
}

// recordBytes records a binary secret in each base64 form it might be
// printed in.
func recordBytes(kind string, b []byte) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		recordSecret(kind, enc.EncodeToString(b))
	}
	recordSecret(kind, fmt.Sprintf("%x", b))
}

// recordJSON records the secret members of a JSON document, at any depth.
// In answers, "code" is an error code, not a login code: pass answer true.
func recordJSON(b []byte, answer bool) {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return
	}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if kind, ok := secretFields[k]; ok && !(answer && k == "code") {
					if s, ok := x.(string); ok {
						recordSecret(kind, s)
					}
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
}

func recordQuery(q url.Values) {
	for k, vs := range q {
		if kind, ok := secretFields[k]; ok {
			for _, v := range vs {
				recordSecret(kind, v)
			}
		}
	}
}

// recordTraffic wraps a handler under test and records the secrets of
// every request and answer: codes, bearer tokens, issued tokens.
func recordTraffic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok {
			recordToken(strings.TrimSpace(tok))
		}
		recordQuery(r.URL.Query())
		if r.Body != nil {
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			recordJSON(b, false)
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		rw := &recordingWriter{ResponseWriter: w}
		h.ServeHTTP(rw, r)
		var ans map[string]any
		if json.Unmarshal(rw.body.Bytes(), &ans) == nil {
			if tok, ok := ans["token"].(string); ok {
				recordToken(tok)
			}
		}
		recordJSON(rw.body.Bytes(), true)
	})
}

// recordToken records a token, and its signature on its own: a log that
// cut the token short would still show that.
func recordToken(tok string) {
	recordSecret("token", tok)
	if i := strings.LastIndexByte(tok, '.'); i >= 0 {
		recordSecret("token signature", tok[i+1:])
	}
}

type recordingWriter struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	w.body.Write(p)
	return w.ResponseWriter.Write(p)
}

func (w *recordingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// recordingClient is an HTTP client for the WeChat client under test that
// records the secrets of every call to WeChat and of its answers:
// AppSecret, codes, session keys, access tokens.
func recordingClient() *http.Client {
	return &http.Client{Transport: recordingTransport{http.DefaultTransport}}
}

type recordingTransport struct{ next http.RoundTripper }

func (t recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	recordQuery(r.URL.Query())
	if r.GetBody != nil {
		if body, err := r.GetBody(); err == nil {
			b, _ := io.ReadAll(body)
			recordJSON(b, false)
		}
	}
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	recordJSON(b, true)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// captureLogs returns the writer a test server should log to: w, and the
// package-wide capture the scan reads.
func captureLogs(w io.Writer) io.Writer { return io.MultiWriter(w, &logCapture) }

func TestMain(m *testing.M) {
	code := m.Run()
	if err := scanLogs(logCapture.String()); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: log scan: %v\n", err)
		code = 1
	}
	os.Exit(code)
}

// scanLogs checks that no recorded secret appears in logs. It also fails
// when tests used secrets but no log line was captured at all: then the
// capture is not wired and the scan would prove nothing.
func scanLogs(logs string) error {
	secrets.mu.Lock()
	defer secrets.mu.Unlock()
	if len(secrets.m) > 0 && logs == "" {
		return fmt.Errorf("%d secrets were used but no log line was captured: is captureLogs wired into the test servers?", len(secrets.m))
	}
	var leaks []string
	for v, kind := range secrets.m {
		i := strings.Index(logs, v)
		if i < 0 {
			continue
		}
		start := strings.LastIndexByte(logs[:i], '\n') + 1
		end := strings.IndexByte(logs[i:], '\n')
		if end < 0 {
			end = len(logs) - i
		}
		line := strings.ReplaceAll(logs[start:i+end], v, "<"+strings.ToUpper(kind)+">")
		leaks = append(leaks, fmt.Sprintf("a %s is logged: %s", kind, line))
	}
	if len(leaks) > 0 {
		sort.Strings(leaks)
		return fmt.Errorf("%d secrets found in the logs:\n  %s", len(leaks), strings.Join(leaks, "\n  "))
	}
	if testing.Verbose() {
		fmt.Printf("log scan: %d secrets (%d values too short to scan for) checked against %d bytes of logs: none found\n",
			len(secrets.m), secrets.skipped, len(logs))
	}
	return nil
}
