package handlers_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuffer collects log output from concurrent requests.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitFor returns the logs once they contain s. The request log line is
// written after the answer is sent, so a test may see the answer first.
func (l *logBuffer) waitFor(t *testing.T, s string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := l.String()
		if strings.Contains(got, s) || time.Now().After(deadline) {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// lastLogLine returns the last line of logs that holds s.
func lastLogLine(t *testing.T, logs, s string) string {
	t.Helper()
	lines := strings.Split(logs, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], s) {
			return lines[i]
		}
	}
	t.Fatalf("no log line holds %s:\n%s", s, logs)
	return ""
}
