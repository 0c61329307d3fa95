package logging_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/wxlogin/wxlogin/logging"
)

// sink records what reaches the underlying writer, one entry per call.
type sink struct {
	mu     sync.Mutex
	writes []string
	fail   error
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return 0, s.fail
	}
	s.writes = append(s.writes, string(p))
	return len(p), nil
}

func (s *sink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.writes, "")
}

func (s *sink) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.writes)
}

// Info lines wait out the interval and arrive in one write. The test runs
// in a synctest bubble, on a fake clock: the timings are exact, not raced.
func TestInfoLinesWaitAndArriveTogether(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := &sink{}
		log, w := logging.New(out, logging.Options{FlushInterval: 50 * time.Millisecond})
		defer w.Close()
		log.Info("first", "n", 1)
		log.Info("second", "n", 2)
		time.Sleep(49 * time.Millisecond)
		synctest.Wait()
		if n := out.calls(); n != 0 {
			t.Fatalf("info lines written before the interval (%d writes), want them held", n)
		}
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		got := out.String()
		if !strings.Contains(got, `"msg":"first"`) || !strings.Contains(got, `"msg":"second"`) || strings.Index(got, "first") > strings.Index(got, "second") {
			t.Fatalf("after the interval, got %q", got)
		}
		if n := out.calls(); n != 1 {
			t.Errorf("two held lines took %d writes, want 1", n)
		}
		// The timer re-arms for the next line, which waits its own interval.
		log.Info("third")
		time.Sleep(49 * time.Millisecond)
		synctest.Wait()
		if strings.Contains(out.String(), "third") {
			t.Errorf("the next line was written before its interval")
		}
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		if !strings.Contains(out.String(), "third") || out.calls() != 2 {
			t.Errorf("a line after the first batch: %d writes, %q", out.calls(), out.String())
		}
	})
}

// Warnings and errors are written before the call returns, after every
// line logged before them.
func TestWarningsAreNotHeld(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelWarn, slog.LevelError} {
		out := &sink{}
		log, w := logging.New(out, logging.Options{FlushInterval: time.Hour})
		log.Info("before")
		log.With("component", "x").WithGroup("g").Log(t.Context(), level, "trouble", "k", "v")
		got := out.String()
		if !strings.Contains(got, `"msg":"before"`) || !strings.Contains(got, `"msg":"trouble"`) ||
			strings.Index(got, "before") > strings.Index(got, "trouble") {
			t.Errorf("%v: written at once: %q, want the info line then the %v line", level, got, level)
		}
		if !strings.Contains(got, `"component":"x"`) || !strings.Contains(got, `"g":{"k":"v"}`) {
			t.Errorf("%v: attributes and groups lost: %q", level, got)
		}
		w.Close()
	}
}

func TestCloseWritesTheRestAndThenPassesThrough(t *testing.T) {
	out := &sink{}
	log, w := logging.New(out, logging.Options{FlushInterval: time.Hour})
	log.Info("held")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.Contains(got, `"msg":"held"`) {
		t.Fatalf("Close lost the held line: %q", got)
	}
	log.Info("after close")
	if got := out.String(); !strings.Contains(got, `"msg":"after close"`) {
		t.Errorf("a line after Close was held: %q", got)
	}
}

func TestZeroIntervalWritesEveryLine(t *testing.T) {
	out := &sink{}
	log, w := logging.New(out, logging.Options{})
	defer w.Close()
	for i := range 3 {
		log.Info("line", "i", i)
		if n := out.calls(); n != i+1 {
			t.Fatalf("after %d lines, %d writes", i+1, n)
		}
	}
}

// However long the interval, no more than MaxBatch bytes are held, and
// every write carries whole lines.
func TestBatchesAreBounded(t *testing.T) {
	out := &sink{}
	log, w := logging.New(out, logging.Options{FlushInterval: time.Hour})
	pad := strings.Repeat("x", 1000)
	for i := range 200 { // some 200 KB
		log.Info("line", "i", i, "pad", pad)
	}
	if n := out.calls(); n < 5 {
		t.Errorf("200 KB of lines made %d writes, want at least 5 of at most %d bytes", n, logging.MaxBatch)
	}
	w.Close()
	out.mu.Lock()
	defer out.mu.Unlock()
	for i, b := range out.writes {
		if len(b) > logging.MaxBatch {
			t.Errorf("write %d holds %d bytes, over %d", i, len(b), logging.MaxBatch)
		}
		if !strings.HasSuffix(b, "\n") {
			t.Errorf("write %d ends inside a line", i)
		}
	}

	// A single line longer than a batch goes out whole, in order.
	out2 := &sink{}
	w2 := logging.NewWriter(out2, time.Hour)
	w2.Write([]byte("small\n"))
	big := strings.Repeat("y", logging.MaxBatch+10) + "\n"
	w2.Write([]byte(big))
	if got := out2.String(); got != "small\n"+big {
		t.Errorf("a long line: got %d bytes, want the held line then the long one", len(got))
	}
	w2.Close()
}

// Lines from many goroutines all arrive, intact and each exactly once.
func TestConcurrentLinesArriveIntact(t *testing.T) {
	out := &sink{}
	log, w := logging.New(out, logging.Options{FlushInterval: time.Millisecond})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				log.Info("request", "g", g, "i", i)
			}
		})
	}
	wg.Wait()
	w.Close()
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		var rec struct {
			G, I int
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("a broken line %q: %v", line, err)
		}
		key := fmt.Sprint(rec.G, "/", rec.I)
		if seen[key] {
			t.Errorf("line %s twice", key)
		}
		seen[key] = true
	}
	if len(seen) != 8*500 {
		t.Errorf("%d lines arrived, want %d", len(seen), 8*500)
	}
}

// A failing log reports the error to the write that meets it, holds no
// more than a batch, and carries on once the writer works again.
func TestWriteErrors(t *testing.T) {
	out := &sink{fail: errors.New("disk full")}
	w := logging.NewWriter(out, time.Hour)
	line := []byte(strings.Repeat("z", 999) + "\n")
	var failed int
	for range 100 {
		if _, err := w.Write(line); err != nil {
			failed++
		}
	}
	if failed == 0 {
		t.Error("100 KB into a failing writer reported no error")
	}
	w.Write([]byte("held\n"))
	if err := w.Flush(); err == nil {
		t.Error("Flush into a failing writer reported no error")
	}
	out.mu.Lock()
	out.fail = nil
	out.mu.Unlock()
	w.Write([]byte("recovered\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "recovered\n" {
		t.Errorf("after the writer recovered, got %d bytes %.40q…, want only the new line", len(got), got)
	}
}

func TestFormats(t *testing.T) {
	for format, want := range map[string]string{"": `"msg":"hello"`, "json": `"msg":"hello"`, "text": "msg=hello"} {
		var buf bytes.Buffer
		log, w := logging.New(&buf, logging.Options{Format: format})
		log.Info("hello")
		log.Debug("hidden")
		w.Close()
		if !strings.Contains(buf.String(), want) || strings.Contains(buf.String(), "hidden") {
			t.Errorf("format %q: %q, want %s and no debug line", format, buf.String(), want)
		}
	}
	var buf bytes.Buffer
	log, w := logging.New(&buf, logging.Options{Level: slog.LevelDebug})
	log.Debug("shown")
	w.Close()
	if !strings.Contains(buf.String(), "shown") {
		t.Errorf("level debug: %q", buf.String())
	}
}
