package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wxlogin/wxlogin/claims"
	"github.com/wxlogin/wxlogin/wechat/wechattest"
)

// fakeAppID is the AppID the fake WeChat and the servers agree on, and
// secondAppID the other app of the two-app server (-target apps).
const (
	fakeAppID   = "wxload000000000000"
	secondAppID = "wxload000000000001"
)

// twoApps names the target that serves fakeAppID and secondAppID.
const twoApps = "wxlogin-2apps"

// withHook names the target that calls a claims hook at every login
// (-target hook).
const withHook = "wxlogin-hook"

// lab is one run's fixtures: the fake WeChat, the binaries, the keys,
// and the servers under test.
type lab struct {
	o       *options
	stderr  io.Writer
	tmp     string
	fake    *wechattest.Server
	hook    *http.Server // the claims hook of -target hook; nil otherwise
	env     []string     // the production configuration both servers share
	servers map[string]*process
	// appids are the apps each target's logins name in turn; none for
	// the targets of -target wxlogin, yardstick and both, whose logins
	// send the code alone.
	appids map[string][]string
}

func newLab(ctx context.Context, o *options, stderr io.Writer) (_ *lab, err error) {
	l := &lab{o: o, stderr: stderr, servers: map[string]*process{}, appids: map[string][]string{}}
	defer func() {
		if err != nil {
			l.close()
		}
	}()
	if l.tmp, err = os.MkdirTemp("", "wxload-"); err != nil {
		return nil, err
	}
	secret, secret2 := make([]byte, 16), make([]byte, 16)
	rand.Read(secret)
	rand.Read(secret2)
	l.fake = wechattest.NewServer(wechattest.Options{AppID: fakeAppID, Secret: hex.EncodeToString(secret), UnionID: true,
		Apps: []wechattest.AppConfig{{AppID: secondAppID, Secret: hex.EncodeToString(secret2), UnionID: true}}})
	if o.target == "apps" {
		l.appids["wxlogin"] = []string{fakeAppID}
		l.appids[twoApps] = []string{fakeAppID, secondAppID}
	}

	if o.bin == "" {
		if o.bin, err = l.build(ctx, "wxlogin", "."); err != nil {
			return nil, err
		}
	}
	keys, err := keygen(ctx, o.bin)
	if err != nil {
		return nil, err
	}
	l.env = append(keys,
		"WXLOGIN_APPID="+fakeAppID,
		"WXLOGIN_SECRET="+hex.EncodeToString(secret),
		"WXLOGIN_WECHAT_BASE_URL="+l.fake.URL,
		"WXLOGIN_RATE_LIMIT=0",
	)
	l.env = append(l.env, o.env...) // later settings win
	for _, name := range l.targets() {
		bin := o.bin
		if name == "yardstick" {
			if o.yardstickBin == "" {
				if o.yardstickBin, err = l.build(ctx, "yardstick", "./bench/yardstick"); err != nil {
					return nil, err
				}
			}
			bin = o.yardstickBin
		}
		env := l.env
		if name == twoApps {
			env = append(env[:len(env):len(env)], "WXLOGIN_APPS="+secondAppID+":"+hex.EncodeToString(secret2))
		}
		if name == withHook {
			hookEnv, err := l.startHook()
			if err != nil {
				return nil, err
			}
			env = append(env[:len(env):len(env)], hookEnv...)
		}
		p, err := startServer(ctx, name, bin, env, o.serverCPUs)
		if err != nil {
			return nil, err
		}
		l.servers[name] = p
	}
	return l, nil
}

// targets lists the servers this run measures, in order.
func (l *lab) targets() []string {
	switch l.o.target {
	case "both":
		return []string{"wxlogin", "yardstick"}
	case "apps":
		return []string{"wxlogin", twoApps}
	case "hook":
		return []string{"wxlogin", withHook}
	}
	return []string{l.o.target}
}

func (l *lab) close() {
	for name, p := range l.servers {
		if err := p.stop(); err != nil {
			fmt.Fprintf(l.stderr, "wxload: %s: %v\n", name, err)
		}
	}
	if l.fake != nil {
		l.fake.Close()
	}
	if l.hook != nil {
		l.hook.Close()
	}
	if l.tmp != "" {
		os.RemoveAll(l.tmp)
	}
}

// startHook serves a claims hook on a loopback port in this process, as
// a team's hook on the same host would answer: the signature checked,
// the request decoded, a sub and roles derived from it without a
// database. It returns the variables that point wxlogin at it.
func (l *lab) startHook() ([]string, error) {
	key := make([]byte, 32)
	rand.Read(key)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l.hook = &http.Server{Handler: &claims.Handler{
		Verifier: claims.Verifier{Keys: [][]byte{key}},
		Func: func(_ context.Context, r claims.Request) (claims.Answer, error) {
			return claims.Answer{Sub: "user-" + r.OpenID, Claims: map[string]any{"roles": []string{"member"}}}, nil
		},
	}, ReadHeaderTimeout: 5 * time.Second}
	go l.hook.Serve(ln)
	return []string{
		"WXLOGIN_CLAIMS_URL=http://" + ln.Addr().String() + "/claims",
		"WXLOGIN_CLAIMS_SECRET=" + base64.StdEncoding.EncodeToString(key),
	}, nil
}

// build compiles pkg (relative to the root of the module the current
// directory is in, which must be wxlogin's).
func (l *lab) build(ctx context.Context, name, pkg string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	if err != nil || root == "." || strings.TrimSpace(string(gomod)) == os.DevNull {
		return "", fmt.Errorf("cannot build %s: run wxload inside the wxlogin module, or pass -bin and -yardstick-bin", name)
	}
	out := filepath.Join(l.tmp, name)
	fmt.Fprintf(l.stderr, "wxload: building %s (%s)\n", name, pkg)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = l.stderr, l.stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build %s (run wxload from the wxlogin module, or pass -bin): %w", pkg, err)
	}
	return out, nil
}

// keygen asks the wxlogin binary for fresh key material, as an operator
// would, and returns its WXLOGIN_… lines.
func keygen(ctx context.Context, bin string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "keygen").Output()
	if err != nil {
		return nil, fmt.Errorf("%s keygen: %w", bin, err)
	}
	var env []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "WXLOGIN_") {
			env = append(env, line)
		}
	}
	if len(env) < 2 {
		return nil, errors.New("wxlogin keygen printed no WXLOGIN_ lines")
	}
	return env, nil
}

// process is a server under test.
type process struct {
	name string
	url  string
	cmd  *exec.Cmd
	pid  int
	out  *tailWriter
	done chan struct{}
	err  error // of Wait, once done is closed
}

// startServer runs bin on a free loopback port with env (and nothing of
// the caller's WXLOGIN_ variables) and waits until /healthz answers 200.
func startServer(ctx context.Context, name, bin string, env []string, cpus string) (*process, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	p := &process{name: name, url: "http://" + addr, out: &tailWriter{max: 16 << 10}, done: make(chan struct{})}

	args := []string{bin, "serve"}
	if name == "yardstick" {
		args = args[:1]
	}
	if cpus != "" {
		args = append([]string{"taskset", "-c", cpus}, args...)
	}
	p.cmd = exec.Command(args[0], args[1:]...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WXLOGIN_") {
			p.cmd.Env = append(p.cmd.Env, kv)
		}
	}
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.Env = append(p.cmd.Env, "WXLOGIN_ADDR="+addr, "WXLOGIN_ISSUER="+p.url)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p.pid = p.cmd.Process.Pid // taskset execs the server in place: same pid
	go func() { p.err = p.cmd.Wait(); close(p.done) }()

	deadline := time.Now().Add(15 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for {
		if resp, err := client.Get(p.url + "/healthz"); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				client.CloseIdleConnections()
				return p, nil
			}
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("%s exited at start-up (%v); its output ends:\n%s", name, p.err, p.out.String())
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s: /healthz not ready after 15s; its output ends:\n%s", name, p.out.String())
		}
	}
}

// stop sends SIGTERM, as Kubernetes does, and waits for a clean exit;
// after 30s it kills the process and says so.
func (p *process) stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			return fmt.Errorf("exit after SIGTERM: %v; output ends:\n%s", p.err, p.out.String())
		}
		return nil
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		return errors.New("did not exit within 30s of SIGTERM; killed")
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// tailWriter keeps the last max bytes written to it (the server's log,
// for diagnosing a failed start) in a ring, and counts them all.
type tailWriter struct {
	mu    sync.Mutex
	max   int
	ring  []byte
	total int64
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ring == nil {
		t.ring = make([]byte, t.max)
	}
	n := len(p)
	if len(p) > t.max {
		t.total += int64(len(p) - t.max)
		p = p[len(p)-t.max:]
	}
	at := int(t.total % int64(t.max))
	k := copy(t.ring[at:], p)
	copy(t.ring, p[k:])
	t.total += int64(len(p))
	return n, nil
}

func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.total <= int64(t.max) {
		return string(t.ring[:t.total])
	}
	at := int(t.total % int64(t.max))
	return string(t.ring[at:]) + string(t.ring[:at])
}

// Total returns how many bytes the server has written.
func (t *tailWriter) Total() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.total
}
