// Command wxload measures wxlogin under load, on this machine only.
//
// It starts the fake WeChat (wechattest) in its own process on 127.0.0.1,
// starts the real wxlogin binary against it with a production
// configuration (fresh keys from `wxlogin keygen`, JSON logs, the rate
// limit off), waits for /healthz, and drives POST /v1/login with fresh
// codes from -c workers until -d has passed or -n logins were sent,
// whichever comes first. It reports logins/s, latency percentiles, errors
// by status, the server's peak RSS and its CPU time per login.
//
// With -target both (the default) it does the same against the yardstick
// (bench/yardstick, a minimal net/http + golang-jwt program doing the
// same exchange) in the same run, alternating the two, and prints them
// side by side with the ratios the performance targets are stated in,
// including server CPU per login against the CPU cost of one ES256
// signature measured in process.
//
// With -target apps it compares wxlogin serving one app with the same
// binary serving two (WXLOGIN_APPS), alternating the two round by round:
// every login names its app, as the client kit does, and the two-app
// server's logins alternate between the apps. It prints each round's
// ratio and the median of the per-round ratios, which a shared, noisy
// machine disturbs less than the totals.
//
// With -target hook it compares wxlogin with the same binary calling a
// claims hook at every login (WXLOGIN_CLAIMS_URL): a hook served in this
// process on loopback, which checks the signature and answers a sub and
// roles without a database, so the difference is what the call itself
// adds. It prints each round's throughput ratio and difference of median
// latencies, and the medians of both; -c 1 measures the added latency of
// one login, unqueued.
//
// With -soak it runs one target for -d and prints the server's RSS,
// goroutines, threads and open files every -interval, to show they stay
// flat.
//
//	go run ./bench/wxload                          # both targets, 10s each
//	go run ./bench/wxload -c 16 -d 30s -rounds 3   # a steadier comparison
//	go run ./bench/wxload -target apps -rounds 9   # one app against two
//	go run ./bench/wxload -target hook -c 1 -rounds 9   # a claims hook's added latency
//	go run ./bench/wxload -soak -d 10m -rate 500 -interval 30s
//
// All traffic stays on the loopback interface. Every loop is bounded in
// count and time, and the tool stops by itself.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "wxload: %v\n", err)
		os.Exit(1)
	}
}

// options are the command-line settings.
type options struct {
	target       string
	bin          string
	yardstickBin string
	concurrency  int
	duration     time.Duration
	maxLogins    int
	warmup       time.Duration
	rounds       int
	users        int
	rate         float64
	soak         bool
	interval     time.Duration
	settle       time.Duration
	serverCPUs   string
	signBench    time.Duration
	env          []string
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("wxload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.target, "target", "both", "wxlogin, yardstick, both (side by side), apps (wxlogin serving one app against two), or hook (wxlogin without a claims hook against with one)")
	fs.StringVar(&o.bin, "bin", "", "wxlogin binary (default: go build the wxlogin module wxload runs in)")
	fs.StringVar(&o.yardstickBin, "yardstick-bin", "", "yardstick binary (default: go build ./bench/yardstick)")
	fs.IntVar(&o.concurrency, "c", 8, "concurrent workers, each with its own keep-alive connection")
	fs.DurationVar(&o.duration, "d", 10*time.Second, "how long to measure each target (per round)")
	fs.IntVar(&o.maxLogins, "n", 1_000_000, "stop after this many logins per target and round, even before -d")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load before each measurement")
	fs.IntVar(&o.rounds, "rounds", 1, "measure each target this many times (with -target both, alternating the order)")
	fs.IntVar(&o.users, "users", 1000, "distinct WeChat users the codes belong to")
	fs.Float64Var(&o.rate, "rate", 0, "at most this many logins per second in total; 0: as fast as the server answers")
	fs.BoolVar(&o.soak, "soak", false, "soak: one target for -d, sampling RSS and goroutines every -interval")
	fs.DurationVar(&o.interval, "interval", 30*time.Second, "with -soak: sampling interval")
	fs.DurationVar(&o.settle, "settle", 2*time.Minute, "with -soak: judge flatness from the first sample this long into the load (caches such as the 60s duplicate-code window fill first)")
	fs.StringVar(&o.serverCPUs, "server-cpus", "", "run the server under taskset on this CPU `list` (such as 0), to keep it off the load's core")
	fs.DurationVar(&o.signBench, "sign-bench", time.Second, "how long to measure one ES256 signature in process; 0 skips it")
	fs.Func("env", "extra `WXLOGIN_NAME=value` for the servers, such as WXLOGIN_CODE_REUSE_WINDOW=0 (repeatable)", func(kv string) error {
		if k, _, ok := strings.Cut(kv, "="); !ok || !strings.HasPrefix(k, "WXLOGIN_") {
			return errors.New("want WXLOGIN_NAME=value")
		}
		o.env = append(o.env, kv)
		return nil
	})
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: wxload [flags]   (run from the wxlogin module, or pass -bin and -yardstick-bin)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch o.target {
	case "wxlogin", "yardstick", "both", "apps", "hook":
	default:
		return nil, fmt.Errorf("-target %q: want wxlogin, yardstick, both, apps or hook", o.target)
	}
	if o.soak && (o.target == "both" || o.target == "apps" || o.target == "hook") {
		o.target = "wxlogin"
	}
	switch {
	case o.concurrency < 1 || o.concurrency > 1024:
		return nil, errors.New("-c must be 1 to 1024")
	case o.duration <= 0 || o.duration > 24*time.Hour:
		return nil, errors.New("-d must be positive and at most 24h")
	case o.maxLogins < 1:
		return nil, errors.New("-n must be positive")
	case o.warmup < 0 || o.rounds < 1 || o.rounds > 100 || o.users < 1:
		return nil, errors.New("-warmup must not be negative, -rounds must be 1 to 100, -users positive")
	case o.rate < 0:
		return nil, errors.New("-rate must not be negative")
	case o.soak && o.interval <= 0:
		return nil, errors.New("-interval must be positive")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	l, err := newLab(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer l.close()

	if o.soak {
		return l.soak(ctx, stdout)
	}
	return l.compare(ctx, stdout)
}
