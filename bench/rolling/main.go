// Command rolling replaces wxlogin replicas behind nginx one by one while
// the load tool logs users in, and reports what users saw.
//
// It puts 3 replicas of the real wxlogin binary behind Debian's nginx (its
// own configuration, in a temporary directory, on loopback ports, with
// proxy_next_upstream for connection errors and upstream keep-alive, as
// a production proxy has), and drives POST /v1/login through nginx with
// the load tool (bench/rolling/run.sh names it). The load tool starts its
// fake WeChat and what it takes for the server; here that "server" is
// this program again (the load tool's -bin), which starts nginx and the
// replicas on the address the load tool gave it. While the load runs:
//
//  1. each replica in turn is replaced: SIGTERM, wait for its exit,
//     start a new one on the same port, wait for /readyz;
//  2. a rotation of the signing key and of the session-key secret, as
//     the docs describe them (docs/tokens.md#key-rotation,
//     docs/sealing.md), is rolled out the same way: first the next key
//     and secret are published (they verify and open, they do not sign
//     or seal), then they sign and seal while the old ones still verify
//     and open; one token lifetime later (WXLOGIN_TOKEN_TTL=1m here),
//     the old ones are retired (not in -short).
//
// Before each replica stops and after each new one starts, a few users log
// in on it directly; after every replacement every token held so far is
// checked on every running replica: GET /v1/session (the signature) and
// POST /v1/session/check (the sealed session_key opens and is current).
//
// The report, from nginx's own access log: failed logins (goal 0), login
// latency p50/p99 during the replacements and outside them, requests
// nginx passed to a second replica; and tokens that failed a check (goal
// 0). It exits 1 when a login failed or a token did not check out.
//
//	bench/rolling/run.sh                 # the full run, about 3.5 minutes
//	bench/rolling/run.sh -short          # what .ci/run runs
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// roleEnv marks the process the load tool starts as its server.
const roleEnv = "ROLLING_ROLE"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if os.Getenv(roleEnv) == "lb" {
		err = runLB(ctx, os.Args[1:], os.Stdout)
	} else {
		err = runDriver(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "rolling: %v\n", err)
		os.Exit(1)
	}
}

// plan is what the load-balancer role reads from the driver, through the
// environment the load tool passes on.
type plan struct {
	Wxlogin       string        // the wxlogin binary
	Dir           string        // the run's directory: nginx's files, logs, the report
	Replicas      int           // behind nginx
	ShutdownDelay time.Duration // WXLOGIN_SHUTDOWN_DELAY of every replica
	Settle        time.Duration // steady load before the first replacement, and between replacements
	Sample        int           // direct logins per replica before it stops and after it starts
	// Retire, when set, finishes the rotation: one token lifetime (TTL)
	// plus the verifiers' leeway after the switch, the old key and
	// secret are dropped in a third rollout.
	Retire bool
	TTL    time.Duration
}

func runDriver(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rolling", flag.ContinueOnError)
	fs.SetOutput(stderr)
	loadTool := fs.String("load-tool", "", "the load tool's package (run.sh sets it)")
	short := fs.Bool("short", false, "the short form .ci/run runs: shorter pauses, lower rate")
	rate := fs.Float64("rate", 400, "logins per second through nginx")
	workers := fs.Int("c", 32, "load tool workers")
	delay := fs.Duration("shutdown-delay", 2*time.Second, "WXLOGIN_SHUTDOWN_DELAY of the replicas")
	settle := fs.Duration("settle", 3*time.Second, "steady load before the first replacement and between replacements")
	sample := fs.Int("sample", 5, "direct logins per replica before it stops and after it starts")
	keep := fs.Bool("keep", false, "keep the run's directory (nginx's access log, every replica's log)")
	retire := fs.Bool("retire", true, "finish the rotation: retire the old key and secret one token lifetime (WXLOGIN_TOKEN_TTL=1m here) after the switch")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *loadTool == "" {
		return errors.New("-load-tool is required (bench/rolling/run.sh sets it)")
	}
	if *short {
		*rate, *workers, *delay, *settle, *sample, *retire = 200, 16, time.Second, 1500*time.Millisecond, 3, false
	}
	if _, err := exec.LookPath("nginx"); err != nil {
		return errors.New("nginx not found: apt-get install nginx (bench/rolling/run.sh does)")
	}
	dir, err := os.MkdirTemp("", "wxlogin-rolling-")
	if err != nil {
		return err
	}
	if *keep {
		fmt.Fprintf(stdout, "rolling: files in %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	for _, b := range []struct{ out, pkg string }{{"wxlogin", "."}, {"load", *loadTool}} {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", filepath.Join(dir, b.out), b.pkg)
		cmd.Stdout, cmd.Stderr = stderr, stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build %s: %w", b.pkg, err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	p := plan{
		Wxlogin: filepath.Join(dir, "wxlogin"), Dir: dir, Replicas: 3,
		ShutdownDelay: *delay, Settle: *settle, Sample: *sample,
		Retire: *retire, TTL: time.Minute, // the shortest WXLOGIN_TOKEN_TTL allowed
	}
	pj, _ := json.Marshal(p)
	// The load time covers the plan: 3 rollouts of Replicas replacements,
	// each about the shutdown delay, a start and a settle; and a margin.
	steps := 3 * p.Replicas
	perStep := p.ShutdownDelay + p.Settle + 2*time.Second
	loadFor := p.Settle + time.Duration(steps)*perStep + 10*time.Second
	if p.Retire {
		loadFor += p.TTL + tokenLeeway + time.Duration(p.Replicas)*perStep
	}

	fmt.Fprintf(stdout, "rolling: %d replicas behind nginx, %.0f logins/s from %d workers for %s; shutdown delay %s\n",
		p.Replicas, *rate, *workers, loadFor.Round(time.Second), p.ShutdownDelay)
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "load"),
		"-target", "wxlogin", "-bin", self, "-d", loadFor.String(), "-warmup", "1s",
		"-rate", fmt.Sprint(*rate), "-c", fmt.Sprint(*workers), "-users", "100000", "-sign-bench", "0")
	cmd.Env = append(os.Environ(), roleEnv+"=lb", "ROLLING_PLAN="+string(pj))
	var loadOut strings.Builder
	cmd.Stdout = io.MultiWriter(stdout, &loadOut)
	cmd.Stderr = stderr
	fmt.Fprintln(stdout, "\n--- the load tool (its CPU and RSS figures are of this program's load-balancer role, not of the replicas)")
	loadErr := cmd.Run()
	fmt.Fprintln(stdout, "---")

	rep, err := readReport(dir)
	if err != nil {
		return fmt.Errorf("%w (load tool: %v)", err, loadErr)
	}
	lines, err := readAccessLog(filepath.Join(dir, "access.log"))
	if err != nil {
		return err
	}
	ok := summarize(stdout, rep, lines)
	switch {
	case loadErr != nil:
		return fmt.Errorf("load tool: %w", loadErr)
	case strings.Contains(loadOut.String(), "errors:"):
		return errors.New("the load tool counted failed logins")
	case !ok:
		return errors.New("goal missed: see above")
	}
	return nil
}

func readReport(dir string) (*report, error) {
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		return nil, fmt.Errorf("the load-balancer role wrote no report: %w", err)
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
