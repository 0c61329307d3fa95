package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wxlogin/wxlogin/token"
)

// report is what the load-balancer role found, for the driver.
type report struct {
	Complete    bool     // the whole plan ran before the load ended
	Windows     []window // each replacement, from SIGTERM to the new replica ready
	Tokens      int      // tokens held and checked at the end
	Checks      int      // token checks made (two calls each)
	Expired     int      // checks left out: the token had expired, or nearly
	OldOnNew    int      // checks failed: a token issued before the checking replica started
	NewOnOld    int      // checks failed: a token issued by a replica started after the checking one
	Failures    []string // the first few, with their answer
	Rotated     string   // what a login through nginx shows after the rotation
	RequestLogs int      // request log lines of every replica
	EmptyIP     int      // of which with "client_ip":""
}

// window is one replacement, in Unix milliseconds.
type window struct {
	Name       string
	Start, End int64
}

// replica is one wxlogin process behind nginx; a replacement reuses its
// port, as a new pod takes the old one's place in the Service.
type replica struct {
	slot    int
	gen     int       // replacements of this slot so far
	started time.Time // ready, in fact
	port    int
	cmd     *exec.Cmd
	done    chan struct{}
	err     error
}

func (r *replica) name() string { return fmt.Sprintf("replica %d (generation %d)", r.slot, r.gen) }
func (r *replica) url() string  { return "http://127.0.0.1:" + strconv.Itoa(r.port) }

// held is a token from a direct login on one replica.
type held struct {
	tok, by string
	issued  time.Time
	expires time.Time
}

// tokenLeeway is how long after exp a token still verifies (the
// Verifier's default leeway).
const tokenLeeway = 30 * time.Second

// lb is the load-balancer role's state.
type lb struct {
	p        plan
	base     []string // the load tool's WXLOGIN_ settings, without WXLOGIN_ADDR
	replicas []*replica
	tokens   []held
	rep      report
	client   *http.Client
}

func runLB(ctx context.Context, args []string, stdout io.Writer) error {
	var p plan
	if err := json.Unmarshal([]byte(os.Getenv("ROLLING_PLAN")), &p); err != nil {
		return fmt.Errorf("ROLLING_PLAN: %w", err)
	}
	if len(args) == 1 && args[0] == "keygen" {
		// The load tool gets its keys from its -bin: wxlogin's own.
		cmd := exec.CommandContext(ctx, p.Wxlogin, "keygen")
		cmd.Stdout, cmd.Stderr = stdout, os.Stderr
		return cmd.Run()
	}
	if len(args) != 1 || args[0] != "serve" {
		return fmt.Errorf("load-balancer role: unexpected arguments %q", args)
	}
	l := &lb{p: p, client: &http.Client{Timeout: 10 * time.Second}}
	addr := os.Getenv("WXLOGIN_ADDR")
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "WXLOGIN_") && !strings.HasPrefix(kv, "WXLOGIN_ADDR=") {
			l.base = append(l.base, kv)
		}
	}
	if p.Retire {
		l.base = append(l.base, "WXLOGIN_TOKEN_TTL="+p.TTL.String())
	}
	l.base = append(l.base,
		"WXLOGIN_SHUTDOWN_DELAY="+p.ShutdownDelay.String(),
		"WXLOGIN_TRUSTED_PROXIES=127.0.0.1/32",
		"WXLOGIN_LOG_FORMAT=json",
	)
	defer l.stopAll()
	for i := range p.Replicas {
		port, err := freePort()
		if err != nil {
			return err
		}
		r := &replica{slot: i + 1, port: port}
		if err := l.start(r, l.base); err != nil {
			return err
		}
		l.replicas = append(l.replicas, r)
	}
	nginx, err := startNginx(p.Dir, addr, l.replicas)
	if err != nil {
		return err
	}
	defer stopNginx(nginx)
	fmt.Fprintf(stdout, "wxlogin listening on http://%s (nginx, %d replicas)\n", addr, p.Replicas)

	planDone := make(chan error, 1)
	go func() { planDone <- l.run(ctx, "http://"+addr) }()
	select {
	case err := <-planDone:
		if err != nil {
			l.rep.Failures = append(l.rep.Failures, "plan: "+err.Error())
		} else {
			l.rep.Complete = true
		}
		<-ctx.Done() // the load tool ends the load, then stops its server: this
	case <-ctx.Done():
		l.rep.Failures = append(l.rep.Failures, "the load ended before the plan: raise the load time")
	}
	l.stopAll()
	l.scanLogs()
	l.rep.Tokens = len(l.tokens)
	b, _ := json.MarshalIndent(l.rep, "", "  ")
	return os.WriteFile(filepath.Join(p.Dir, "report.json"), b, 0o600)
}

func (l *lb) sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// run is the plan: restarts, then a key and secret rotation, each rolled
// out one replica at a time.
func (l *lb) run(ctx context.Context, front string) error {
	if err := l.sleep(ctx, l.p.Settle); err != nil {
		return err
	}
	if err := l.rollout(ctx, "restart", l.base); err != nil {
		return err
	}

	// The rotations of docs/tokens.md#key-rotation and docs/sealing.md,
	// together: the next key and secret
	// from `wxlogin keygen`; first published, then current.
	next, err := keygen(ctx, l.p.Wxlogin)
	if err != nil {
		return err
	}
	oldKey, oldSecret := lookup(l.base, "WXLOGIN_SIGNING_KEY"), lookup(l.base, "WXLOGIN_SESSION_KEY_SECRET")
	oldPub, err := publicPEM(oldKey)
	if err != nil {
		return err
	}
	nextPub, err := publicPEM(next["WXLOGIN_SIGNING_KEY"])
	if err != nil {
		return err
	}
	publish := with(l.base, map[string]string{
		"WXLOGIN_VERIFY_KEYS":             nextPub,
		"WXLOGIN_OLD_SESSION_KEY_SECRETS": next["WXLOGIN_SESSION_KEY_SECRET"],
	})
	if err := l.rollout(ctx, "publish the next key and secret", publish); err != nil {
		return err
	}
	switched := with(l.base, map[string]string{
		"WXLOGIN_SIGNING_KEY":             next["WXLOGIN_SIGNING_KEY"],
		"WXLOGIN_SESSION_KEY_SECRET":      next["WXLOGIN_SESSION_KEY_SECRET"],
		"WXLOGIN_VERIFY_KEYS":             oldPub,
		"WXLOGIN_OLD_SESSION_KEY_SECRETS": oldSecret,
	})
	if err := l.rollout(ctx, "switch to the next key and secret", switched); err != nil {
		return err
	}
	// Through nginx, a fresh token now carries the next key's kid.
	tok, err := l.login(front)
	if err != nil {
		return fmt.Errorf("login through nginx after the rotation: %w", err)
	}
	var hdr struct {
		KID string `json:"kid"`
	}
	seg, _, _ := strings.Cut(tok, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(seg)
	json.Unmarshal(raw, &hdr)
	nextKID, err := kidOf(nextPub)
	if err != nil {
		return err
	}
	l.rep.Rotated = fmt.Sprintf("a login through nginx after the rotation is signed with kid %s (the next key's: %v)", hdr.KID, hdr.KID == nextKID)
	if hdr.KID != nextKID {
		return errors.New(l.rep.Rotated)
	}
	if !l.p.Retire {
		return nil
	}
	// One token lifetime after the last replica switched, no live token
	// was signed or sealed with the old key and secret: retire them.
	if err := l.sleep(ctx, l.p.TTL+tokenLeeway); err != nil {
		return err
	}
	retired := with(l.base, map[string]string{
		"WXLOGIN_SIGNING_KEY":        next["WXLOGIN_SIGNING_KEY"],
		"WXLOGIN_SESSION_KEY_SECRET": next["WXLOGIN_SESSION_KEY_SECRET"],
	})
	retired = without(retired, "WXLOGIN_VERIFY_KEYS", "WXLOGIN_OLD_SESSION_KEY_SECRETS")
	return l.rollout(ctx, "retire the old key and secret", retired)
}

// rollout replaces every replica in turn with one configured by env.
func (l *lb) rollout(ctx context.Context, phase string, env []string) error {
	for _, r := range l.replicas {
		if err := l.replace(ctx, phase, r, env); err != nil {
			return err
		}
		if err := l.sleep(ctx, l.p.Settle); err != nil {
			return err
		}
	}
	return nil
}

// replace stops r (SIGTERM, then wait for it to exit) and starts its
// successor on the same port, with tokens issued on both sides of it.
func (l *lb) replace(ctx context.Context, phase string, r *replica, env []string) error {
	if err := l.sample(r); err != nil {
		return err
	}
	w := window{Name: phase + ": " + r.name(), Start: time.Now().UnixMilli()}
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(l.p.ShutdownDelay + 30*time.Second):
		return fmt.Errorf("%s did not exit after SIGTERM", r.name())
	}
	if r.err != nil {
		return fmt.Errorf("%s exited after SIGTERM: %v", r.name(), r.err)
	}
	r.gen++
	if err := l.start(r, env); err != nil {
		return err
	}
	w.End = time.Now().UnixMilli()
	l.rep.Windows = append(l.rep.Windows, w)
	if err := l.sample(r); err != nil {
		return err
	}
	l.checkTokens()
	return ctx.Err()
}

// start runs r with env on its port, its log to a file, and waits until
// /readyz answers 200.
func (l *lb) start(r *replica, env []string) error {
	logf, err := os.Create(filepath.Join(l.p.Dir, fmt.Sprintf("replica-%d-gen-%d.log", r.slot, r.gen)))
	if err != nil {
		return err
	}
	r.cmd = exec.Command(l.p.Wxlogin, "serve")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WXLOGIN_") {
			r.cmd.Env = append(r.cmd.Env, kv)
		}
	}
	r.cmd.Env = append(r.cmd.Env, env...)
	r.cmd.Env = append(r.cmd.Env, "WXLOGIN_ADDR=127.0.0.1:"+strconv.Itoa(r.port))
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	if err := r.cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	r.done = make(chan struct{})
	go func() { r.err = r.cmd.Wait(); logf.Close(); close(r.done) }()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := l.client.Get(r.url() + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				r.started = time.Now()
				return nil
			}
		}
		select {
		case <-r.done:
			return fmt.Errorf("%s exited at start-up: %v (log: %s)", r.name(), r.err, logf.Name())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready after 15s (log: %s)", r.name(), logf.Name())
}

func (l *lb) stopAll() {
	for _, r := range l.replicas {
		if r.cmd == nil || r.done == nil {
			continue
		}
		r.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, r := range l.replicas {
		if r.done == nil {
			continue
		}
		select {
		case <-r.done:
		case <-time.After(l.p.ShutdownDelay + 20*time.Second):
			r.cmd.Process.Kill()
			<-r.done
		}
	}
}

// sample logs Sample users in on r directly and keeps their tokens.
func (l *lb) sample(r *replica) error {
	for range l.p.Sample {
		tok, err := l.login(r.url())
		if err != nil {
			return fmt.Errorf("direct login on %s: %w", r.name(), err)
		}
		exp, err := expiry(tok)
		if err != nil {
			return err
		}
		l.tokens = append(l.tokens, held{tok: tok, by: r.name(), issued: time.Now(), expires: exp})
	}
	return nil
}

// login logs a new user in at base with a code of its own: the fake
// WeChat takes any unused code as some user's.
func (l *lb) login(base string) (string, error) {
	code := make([]byte, 16)
	rand.Read(code)
	body := `{"code":"rolling-` + hex.EncodeToString(code) + `"}`
	resp, err := l.client.Post(base+"/v1/login", "application/json", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var a struct {
		Token string `json:"token"`
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &a) != nil || a.Token == "" {
		return "", fmt.Errorf("HTTP %d %s", resp.StatusCode, b)
	}
	return a.Token, nil
}

// checkTokens checks every token held on every running replica: its
// signature (GET /v1/session) and its sealed session_key (POST
// /v1/session/check: it opens, and WeChat holds it as current).
func (l *lb) checkTokens() {
	l.client.CloseIdleConnections() // none to a replica that is gone
	for _, r := range l.replicas {
		for _, h := range l.tokens {
			if time.Until(h.expires) < 5*time.Second {
				l.rep.Expired++ // refused for that reason alone
				continue
			}
			l.rep.Checks++
			msg := l.check(r, h.tok)
			if msg == "" {
				continue
			}
			if h.issued.Before(r.started) {
				l.rep.OldOnNew++
			} else {
				l.rep.NewOnOld++
			}
			if len(l.rep.Failures) < 10 {
				l.rep.Failures = append(l.rep.Failures, fmt.Sprintf("token from %s on %s: %s", h.by, r.name(), msg))
			}
		}
	}
}

func (l *lb) check(r *replica, tok string) string {
	for _, c := range []struct{ method, path, want string }{
		{http.MethodGet, "/v1/session", `"openid":"`},
		{http.MethodPost, "/v1/session/check", `"valid":true`},
	} {
		req, _ := http.NewRequest(c.method, r.url()+c.path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := l.client.Do(req)
		if err != nil {
			return c.path + ": " + err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(c.want)) {
			return fmt.Sprintf("%s: HTTP %d %s", c.path, resp.StatusCode, b)
		}
	}
	return ""
}

// scanLogs counts the replicas' request log lines, and those that do not
// name the client (behind nginx with WXLOGIN_TRUSTED_PROXIES set, each
// must).
func (l *lb) scanLogs() {
	files, _ := filepath.Glob(filepath.Join(l.p.Dir, "replica-*.log"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, line := range bytes.Split(b, []byte("\n")) {
			if !bytes.Contains(line, []byte(`"msg":"request"`)) {
				continue
			}
			l.rep.RequestLogs++
			if bytes.Contains(line, []byte(`"client_ip":""`)) {
				l.rep.EmptyIP++
			}
		}
	}
}

// keygen runs `wxlogin keygen` and returns its variables.
func keygen(ctx context.Context, bin string) (map[string]string, error) {
	out, err := exec.CommandContext(ctx, bin, "keygen").Output()
	if err != nil {
		return nil, fmt.Errorf("wxlogin keygen: %w", err)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "WXLOGIN_") {
			vars[k] = v
		}
	}
	if vars["WXLOGIN_SIGNING_KEY"] == "" || vars["WXLOGIN_SESSION_KEY_SECRET"] == "" {
		return nil, errors.New("wxlogin keygen printed no key or secret")
	}
	return vars, nil
}

// publicPEM is the public half of a private key as WXLOGIN_SIGNING_KEY
// holds it (PEM, perhaps on one line with \n), for WXLOGIN_VERIFY_KEYS.
func publicPEM(private string) (string, error) {
	key, _, err := token.ParsePrivateKey([]byte(strings.ReplaceAll(private, `\n`, "\n")))
	if err != nil {
		return "", err
	}
	pub, err := token.EncodePublicKey(key.Public())
	return string(pub), err
}

func kidOf(publicKey string) (string, error) {
	keys, err := token.ParsePublicKeys([]byte(publicKey))
	if err != nil || len(keys) != 1 {
		return "", fmt.Errorf("public key: %v", err)
	}
	return keys[0].KID, nil
}

// expiry reads a token's exp claim.
func expiry(tok string) (time.Time, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}, errors.New("token is not a JWS")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		Exp int64 `json:"exp"`
	}
	if err != nil || json.Unmarshal(raw, &c) != nil || c.Exp == 0 {
		return time.Time{}, errors.New("token has no readable exp")
	}
	return time.Unix(c.Exp, 0), nil
}

// without returns env without the named variables.
func without(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); !slices.Contains(names, k) {
			out = append(out, kv)
		}
	}
	return out
}

func lookup(env []string, name string) string {
	for _, kv := range env {
		if k, v, _ := strings.Cut(kv, "="); k == name {
			return v
		}
	}
	return ""
}

// with returns env with the given variables set (replaced or added).
func with(env []string, set map[string]string) []string {
	var out []string
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); set[k] == "" {
			out = append(out, kv)
		}
	}
	for k, v := range set {
		out = append(out, k+"="+v)
	}
	return out
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
