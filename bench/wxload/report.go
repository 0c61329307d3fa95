package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	"maps"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wxlogin/wxlogin/token"
)

// The performance targets of issue 5, as ratios.
const (
	targetThroughput = 0.90 // wxlogin logins/s ≥ 90% of the yardstick's
	targetP99        = 1.20 // wxlogin p99 ≤ 1.2× the yardstick's
	targetCPU        = 1.50 // wxlogin CPU per login < 1.5× one ES256 signature
	targetRSS        = 2.00 // wxlogin peak RSS ≤ 2× the yardstick's
)

// compare measures every target, -rounds times, alternating the order
// from round to round so that neither always runs first, and prints the
// results side by side.
func (l *lab) compare(ctx context.Context, w io.Writer) error {
	o := l.o
	fmt.Fprintf(w, "wxload: %d workers, %s per target and round (at most %d logins), %d round(s), warm-up %s, %d CPUs, server CPUs %q\n",
		o.concurrency, o.duration, o.maxLogins, o.rounds, o.warmup, runtime.NumCPU(), o.serverCPUs)

	var sign signCost
	if o.signBench > 0 {
		sign = measureSign(o.signBench)
		fmt.Fprintf(w, "one ES256 signature (golang-jwt, in process, one thread): %s CPU, %s wall, %d samples\n",
			formatDuration(sign.cpu), formatDuration(sign.wall), sign.n)
	}

	totals := map[string]*result{}
	var tpRatios, p99Ratios []float64        // wxlogin/yardstick, one per round (a pair)
	perRound := map[string][]float64{}       // logins/s of each round, by target
	p50Round := map[string][]time.Duration{} // median latency of each round, by target
	for round := 0; round < o.rounds; round++ {
		pair := map[string]*result{}
		order := l.targets()
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, name := range order {
			p := l.servers[name]
			if o.warmup > 0 {
				if _, err := l.drive(ctx, p, loadSpec{workers: o.concurrency, duration: o.warmup, max: o.maxLogins, rate: o.rate, users: o.users}); err != nil {
					return err
				}
			}
			r, err := l.drive(ctx, p, loadSpec{workers: o.concurrency, duration: o.duration, max: o.maxLogins, rate: o.rate, users: o.users})
			if err != nil {
				return err
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if o.rounds > 1 {
				fmt.Fprintf(w, "round %d %-9s %8.0f logins/s  p50 %s  p99 %s  CPU/login %s\n",
					round+1, name, r.perSecond(), formatDuration(r.quantile(0.50)), formatDuration(r.quantile(0.99)), formatDuration(r.cpuPerLogin()))
			}
			pair[name] = r // read before a later round merges into it
			perRound[name] = append(perRound[name], r.perSecond())
			p50Round[name] = append(p50Round[name], r.quantile(0.50))
			if t, ok := totals[name]; ok {
				t.merge(r)
			} else {
				totals[name] = r
			}
		}
		if wx, ys := pair["wxlogin"], pair["yardstick"]; wx != nil && ys != nil && wx.logins > 0 && ys.logins > 0 {
			tpRatios = append(tpRatios, wx.perSecond()/ys.perSecond())
			p99Ratios = append(p99Ratios, float64(wx.quantile(0.99))/float64(ys.quantile(0.99)))
		}
	}

	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tlogins\tlogins/s\tp50\tp90\tp99\tmax\terrors\tCPU/login\tpeak RSS\tRSS now\tgoroutines\tlog B/login\t")
	for _, name := range l.targets() {
		r := totals[name]
		gor := "-"
		if r.gorAfter >= 0 {
			gor = fmt.Sprint(r.gorAfter)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%s\t%s\t%s\t%d\t%s\t%.1f MiB\t%.1f MiB\t%s\t%.0f\t\n",
			name, r.logins, r.perSecond(),
			formatDuration(r.quantile(0.50)), formatDuration(r.quantile(0.90)), formatDuration(r.quantile(0.99)), formatDuration(r.quantile(1)),
			r.sent-r.logins, formatDuration(r.cpuPerLogin()),
			float64(r.after.hwmKB)/1024, float64(r.after.rssKB)/1024, gor, float64(r.logBytes)/float64(max(r.sent, 1)))
	}
	tw.Flush()
	for _, name := range l.targets() {
		r := totals[name]
		if len(r.errors) > 0 {
			var parts []string
			for _, k := range slices.Sorted(maps.Keys(r.errors)) {
				parts = append(parts, fmt.Sprintf("%s ×%d", k, r.errors[k]))
			}
			fmt.Fprintf(w, "%s errors: %s\n", name, strings.Join(parts, ", "))
		}
	}

	if o.target == "apps" || o.target == "hook" {
		// Each round measured both, one after the other: its ratio (and
		// its difference of median latencies) is little disturbed by load
		// that comes and goes on a shared machine.
		second := l.targets()[1]
		one, two := perRound["wxlogin"], perRound[second]
		ratios := make([]float64, len(two))
		diffs := make([]float64, len(two))
		parts := make([]string, len(two))
		dparts := make([]string, len(two))
		for i := range two {
			ratios[i] = two[i] / one[i]
			diffs[i] = float64(p50Round[second][i] - p50Round["wxlogin"][i])
			parts[i] = fmt.Sprintf("%.3f", ratios[i])
			dparts[i] = formatDuration(time.Duration(diffs[i]))
		}
		fmt.Fprintf(w, "\n%s/wxlogin throughput by round: %s; median %s\n", second, strings.Join(parts, " "), medianSpread(ratios, func(v float64) string { return fmt.Sprintf("%.3f", v) }))
		fmt.Fprintf(w, "%s − wxlogin p50 latency by round: %s; median %s\n", second, strings.Join(dparts, " "), medianSpread(diffs, func(v float64) string { return formatDuration(time.Duration(v)) }))
	}

	wx, ys := totals["wxlogin"], totals["yardstick"]
	if wx != nil && ys != nil && ys.logins > 0 && wx.logins > 0 {
		fmt.Fprintln(w)
		tp := wx.perSecond() / ys.perSecond()
		p99 := float64(wx.quantile(0.99)) / float64(ys.quantile(0.99))
		fmt.Fprintf(w, "wxlogin/yardstick: throughput %.2f (target ≥ %.2f: %s), p99 %.2f (target ≤ %.2f: %s), CPU/login %.2f\n",
			tp, targetThroughput, verdict(tp >= targetThroughput), p99, targetP99, verdict(p99 <= targetP99),
			float64(wx.cpuPerLogin())/float64(ys.cpuPerLogin()))
		rss := float64(wx.after.hwmKB) / float64(ys.after.hwmKB)
		fmt.Fprintf(w, "peak RSS wxlogin/yardstick %.2f (target ≤ %.2f: %s)\n", rss, targetRSS, verdict(rss <= targetRSS))
	}
	if len(tpRatios) > 1 {
		tp, p99 := median(tpRatios), median(p99Ratios)
		fmt.Fprintf(w, "median of %d paired rounds: throughput %.3f (target ≥ %.2f: %s), p99 %.3f (target ≤ %.2f: %s); per round: %s\n",
			len(tpRatios), tp, targetThroughput, verdict(tp >= targetThroughput), p99, targetP99, verdict(p99 <= targetP99), formatRatios(tpRatios, p99Ratios))
	}
	if sign.cpu > 0 {
		for _, name := range l.targets() {
			r := totals[name]
			if r.logins == 0 {
				continue
			}
			ratio := float64(r.cpuPerLogin()) / float64(sign.cpu)
			line := fmt.Sprintf("%s server CPU per login = %.1f× one ES256 signature", name, ratio)
			if name == "wxlogin" {
				line += fmt.Sprintf(" (target < %.1f×: %s)", targetCPU, verdict(ratio < targetCPU))
			}
			fmt.Fprintln(w, line)
		}
	}
	return nil
}

// medianSpread prints the median of vs, with the min and max.
func medianSpread(vs []float64, format func(float64) string) string {
	return fmt.Sprintf("%s (min %s, max %s)", format(median(vs)), format(slices.Min(vs)), format(slices.Max(vs)))
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// soak runs one target for -d, printing the server's vital signs every
// -interval, then judges whether they stayed flat.
func (l *lab) soak(ctx context.Context, w io.Writer) error {
	o := l.o
	p := l.servers[o.target]
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	fmt.Fprintf(w, "wxload soak: %s, %d workers, %s (at most %d logins), rate %s, sample every %s\n",
		o.target, o.concurrency, o.duration, o.maxLogins, rateString(o.rate), o.interval)

	if o.warmup > 0 {
		if _, err := l.drive(ctx, p, loadSpec{workers: o.concurrency, duration: o.warmup, max: o.maxLogins, rate: o.rate, users: o.users}); err != nil {
			return err
		}
	}
	type sample struct {
		at   time.Duration
		ps   procStats
		gor  int
		sent int64
	}
	var samples []sample
	take := func(at time.Duration, sent int64) {
		ps, err := readProc(p.pid)
		if err != nil {
			fmt.Fprintf(w, "%8s  %v\n", at.Round(time.Second), err)
			return
		}
		s := sample{at: at, ps: ps, gor: goroutines(ctx, client, p.url), sent: sent}
		rate := "-"
		if n := len(samples); n > 0 && s.at-samples[n-1].at >= time.Second {
			prev := samples[n-1]
			rate = fmt.Sprintf("%.0f", float64(s.sent-prev.sent)/(s.at-prev.at).Seconds())
		}
		samples = append(samples, s)
		fmt.Fprintf(w, "%8s  sent %8d  %6s/s  RSS %6.1f MiB  peak %6.1f MiB  goroutines %4s  threads %3d  fds %4d  CPU %s\n",
			s.at.Round(time.Second), s.sent, rate, float64(ps.rssKB)/1024, float64(ps.hwmKB)/1024, gorString(s.gor), ps.threads, ps.fds, ps.cpu)
	}
	take(0, 0)
	r, err := l.drive(ctx, p, loadSpec{
		workers: o.concurrency, duration: o.duration, max: o.maxLogins, rate: o.rate, users: o.users,
		tick: take, interval: o.interval,
	})
	if err != nil {
		return err
	}
	take(r.elapsed, int64(r.sent))

	fmt.Fprintf(w, "\n%d logins in %s (%.0f/s), %d errors, p50 %s, p99 %s, CPU/login %s\n",
		r.logins, r.elapsed.Round(time.Second), r.perSecond(), r.sent-r.logins,
		formatDuration(r.quantile(0.5)), formatDuration(r.quantile(0.99)), formatDuration(r.cpuPerLogin()))
	for _, k := range slices.Sorted(maps.Keys(r.errors)) {
		fmt.Fprintf(w, "  %s ×%d\n", k, r.errors[k])
	}
	if len(samples) < 4 {
		fmt.Fprintln(w, "too few samples to judge flatness; make -d a few times -interval")
		return nil
	}
	// Judge from the first sample after -settle (when pools, the heap and
	// time-windowed caches have grown to their working size) to the last.
	// Goroutines and open files may differ by the connections open at
	// either moment: per worker, one from the load (a goroutine and a file)
	// and one to WeChat (its read and write loops and a file).
	first, last := samples[1], samples[len(samples)-1]
	for _, s := range samples[1:] {
		if s.at >= o.settle {
			first = s
			break
		}
	}
	peak := first
	for _, s := range samples {
		if s.at >= first.at && s.ps.rssKB > peak.ps.rssKB {
			peak = s
		}
	}
	fmt.Fprintf(w, "judged from %s on; highest RSS since then %.1f MiB at %s\n",
		first.at.Round(time.Second), float64(peak.ps.rssKB)/1024, peak.at.Round(time.Second))
	rssGrowth := float64(last.ps.rssKB-first.ps.rssKB) / float64(first.ps.rssKB)
	flatRSS := last.ps.rssKB <= first.ps.rssKB+first.ps.rssKB/5+4096
	flatGor := first.gor < 0 || last.gor <= first.gor+3*o.concurrency
	flatFDs := last.ps.fds <= first.ps.fds+2*o.concurrency
	fmt.Fprintf(w, "RSS %.1f → %.1f MiB (%+.0f%%; flat means at most +20%% + 4 MiB): %s\n",
		float64(first.ps.rssKB)/1024, float64(last.ps.rssKB)/1024, 100*rssGrowth, flatVerdict(flatRSS))
	fmt.Fprintf(w, "goroutines %s → %s (flat means at most +3 per worker): %s\n", gorString(first.gor), gorString(last.gor), flatVerdict(flatGor))
	fmt.Fprintf(w, "open files %d → %d (flat means at most +2 per worker): %s\n", first.ps.fds, last.ps.fds, flatVerdict(flatFDs))
	if !flatRSS || !flatGor || !flatFDs {
		return fmt.Errorf("soak: %s did not stay flat", o.target)
	}
	return nil
}

func flatVerdict(ok bool) string {
	if ok {
		return "flat"
	}
	return "GROWING"
}

func gorString(n int) string {
	if n < 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

func rateString(r float64) string {
	if r == 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%.0f/s", r)
}

// signCost is the cost of one ES256 signature.
type signCost struct {
	cpu, wall time.Duration
	n         int
}

// signMethod is the ES256 the issuer signs with: golang-jwt's, its
// signatures rewritten to low-s.
var signMethod = token.SigningMethodES256

// measureSign signs a real wxlogin token's signing input with
// signMethod, as the issuer does, on one locked OS thread for about d (and at most 200 000 times), and returns the mean CPU and wall
// time per signature. Thread CPU time leaves out whatever else the
// machine runs meanwhile.
func measureSign(d time.Duration) signCost {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	input := signingInput(key)
	for range 50 { // warm up
		signMethod.Sign(input, key)
	}
	c0, t0 := threadCPU(), time.Now()
	n := 0
	for n < 200_000 && time.Since(t0) < d {
		if _, err := signMethod.Sign(input, key); err != nil {
			return signCost{}
		}
		n++
	}
	return signCost{cpu: (threadCPU() - c0) / time.Duration(n), wall: time.Since(t0) / time.Duration(n), n: n}
}

// signingInput is header.payload of a token as wxlogin issues it, so the
// hash runs over the same number of bytes.
func signingInput(key *ecdsa.PrivateKey) string {
	secret := make([]byte, token.SecretSize)
	rand.Read(secret)
	sealer, _ := token.NewSealer(secret)
	iss, err := token.NewIssuer(token.IssuerConfig{
		Key: key, Issuer: "http://127.0.0.1:8080", Audience: fakeAppID, AppID: fakeAppID,
		TTL: 2 * time.Hour, Sealer: sealer,
	})
	if err != nil {
		return strings.Repeat("x", 600)
	}
	t, err := iss.Issue("oAbcdefghijklmnopqrstuvwxyz0", "uAbcdefghijklmnopqrstuvwxyz0", "c2Vzc2lvbmtleTEyMzQ1Ng==")
	if err != nil {
		return strings.Repeat("x", 600)
	}
	return t.Token[:strings.LastIndexByte(t.Token, '.')]
}

// median returns the median of xs and leaves xs in its order.
func median(xs []float64) float64 {
	xs = slices.Sorted(slices.Values(xs))
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// formatRatios lists each round's throughput and p99 ratios.
func formatRatios(tp, p99 []float64) string {
	parts := make([]string, len(tp))
	for i := range tp {
		parts[i] = fmt.Sprintf("%.3f/%.3f", tp[i], p99[i])
	}
	return strings.Join(parts, " ")
}
