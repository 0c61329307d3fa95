package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"math/big"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestTailWriterKeepsTheEnd(t *testing.T) {
	w := &tailWriter{max: 8}
	for _, s := range []string{"abc", "defgh", "ijklmnopqrstu", "v"} {
		w.Write([]byte(s))
	}
	if got, want := w.String(), "opqrstuv"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got := w.Total(); got != 22 {
		t.Errorf("Total() = %d, want 22", got)
	}
	short := &tailWriter{max: 8}
	short.Write([]byte("ab"))
	if got := short.String(); got != "ab" {
		t.Errorf("String() = %q, want %q", got, "ab")
	}
}

func TestQuantile(t *testing.T) {
	r := &result{}
	for i := 1; i <= 100; i++ {
		r.latencies = append(r.latencies, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := r.quantile(c.q); got != c.want {
			t.Errorf("quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
}

func TestReadProcOfItself(t *testing.T) {
	s, err := readProc(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if s.rssKB <= 0 || s.hwmKB < s.rssKB || s.threads < 1 || s.fds < 3 {
		t.Errorf("readProc = %+v, want positive RSS ≤ peak, threads and open files", s)
	}
}

func TestCheckAnswer(t *testing.T) {
	good := `{"token":"a.b.c","token_type":"Bearer","expires_in":7200,"openid":"o1","unionid":"u1"}`
	if msg := checkAnswer([]byte(good), "o1"); msg != "" {
		t.Errorf("checkAnswer(good) = %q", msg)
	}
	for _, bad := range []string{`{`, strings.Replace(good, `"o1"`, `"o2"`, 1), strings.Replace(good, "a.b.c", "abc", 1), strings.Replace(good, "Bearer", "x", 1)} {
		if checkAnswer([]byte(bad), "o1") == "" {
			t.Errorf("checkAnswer(%s) accepted it", bad)
		}
	}
}

// TestRunEndToEnd builds wxlogin and the yardstick and puts both under a
// short load, then soaks wxlogin briefly: the tool must keep working
// against the real binaries.
func TestRunEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts two servers")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, errs bytes.Buffer
	err := run(ctx, []string{"-d", "500ms", "-warmup", "100ms", "-c", "2", "-n", "300", "-sign-bench", "20ms"}, &out, &errs)
	if err != nil {
		t.Fatalf("run: %v\n%s\n%s", err, out.String(), errs.String())
	}
	for _, want := range []string{"wxlogin/yardstick: throughput", "server CPU per login", "  wxlogin", "yardstick"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "errors:") {
		t.Errorf("logins failed:\n%s", out.String())
	}

	out.Reset()
	err = run(ctx, []string{"-soak", "-d", "2s", "-interval", "400ms", "-settle", "0s", "-rate", "200", "-c", "2", "-warmup", "0s"}, &out, &errs)
	if err != nil {
		t.Fatalf("soak: %v\n%s\n%s", err, out.String(), errs.String())
	}
	for _, want := range []string{"RSS", "goroutines", "open files"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("soak output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestRunAppsTarget puts wxlogin serving one app and two apps under a
// short load, two rounds: every login of both servers must succeed, the
// two-app server's alternating between its apps, and the per-round
// ratios be printed.
func TestRunAppsTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts two servers")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, errs bytes.Buffer
	err := run(ctx, []string{"-target", "apps", "-rounds", "2", "-d", "300ms", "-warmup", "0s", "-c", "2", "-n", "200", "-sign-bench", "0"}, &out, &errs)
	if err != nil {
		t.Fatalf("run: %v\n%s\n%s", err, out.String(), errs.String())
	}
	for _, want := range []string{"round 2 wxlogin-2apps", "  wxlogin-2apps", "wxlogin-2apps/wxlogin throughput by round: ", "median "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "errors:") {
		t.Errorf("logins failed:\n%s", out.String())
	}
}

// The signatures measureSign times are the issuer's: low-s only. (With
// golang-jwt's own ES256 about half of them are high-s, and the time
// measured leaves out the issuer's rewrite.)
func TestMeasureSignSignsAsTheIssuer(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	input := signingInput(key)
	half := new(big.Int).Rsh(elliptic.P256().Params().N, 1)
	for range 32 {
		sig, err := signMethod.Sign(input, key)
		if err != nil {
			t.Fatal(err)
		}
		if s := new(big.Int).SetBytes(sig[32:]); s.Cmp(half) > 0 {
			t.Fatal("a high-s signature: measureSign does not sign as the issuer does")
		}
	}
}

// The per-round figures are printed after the median is taken, in round
// order, each ratio beside its own round's: median leaves its input alone.
func TestMedianKeepsRoundOrder(t *testing.T) {
	rounds := []float64{0.9, 0.7, 1.1, 0.8}
	if got := median(rounds); got < 0.8499 || got > 0.8501 {
		t.Errorf("median %v, want 0.85", got)
	}
	if want := []float64{0.9, 0.7, 1.1, 0.8}; !slices.Equal(rounds, want) {
		t.Errorf("rounds %v after median, want %v", rounds, want)
	}
	if got := medianSpread(rounds, func(v float64) string { return fmt.Sprintf("%.2f", v) }); got != "0.85 (min 0.70, max 1.10)" {
		t.Errorf("medianSpread %q", got)
	}
}
