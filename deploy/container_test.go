package deploy

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/wxlogin/wxlogin/token"
	"github.com/wxlogin/wxlogin/wechat/wechattest"
)

// The container tests run against an image that deploy/container-test
// builds from the Dockerfile, named by WXLOGIN_TEST_IMAGE, with podman
// configured by that script (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF).
// The podman lines here are the ones docs/deployment.md shows, apart from
// what lets the container reach the fake WeChat on this machine's loopback
// (hostLoopback and WXLOGIN_WECHAT_BASE_URL).

// hostLoopback is the network mode under which a container reaches the
// host's 127.0.0.1 as 10.0.2.2, where the fake WeChat listens.
const hostLoopback = "slirp4netns:allow_host_loopback=true"

// devAppID is the AppID dev mode serves when none is set (config.go).
const devAppID = "wxdevfake000000000"

// testImage returns the image under test, or skips.
func testImage(t *testing.T) string {
	t.Helper()
	image := os.Getenv("WXLOGIN_TEST_IMAGE")
	if image == "" {
		if os.Getenv("WXLOGIN_REQUIRE_PODMAN") != "" {
			t.Fatal("WXLOGIN_TEST_IMAGE is not set, and WXLOGIN_REQUIRE_PODMAN is")
		}
		t.Skip("no image to test: run deploy/container-test, which builds one with podman")
	}
	if _, err := exec.LookPath("podman"); err != nil {
		t.Fatal("WXLOGIN_TEST_IMAGE is set but podman is not installed")
	}
	return image
}

// podman runs podman with args and returns its standard output; the
// error carries its standard error.
func podman(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "podman", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("podman %s: %w\n%s", strings.Join(args, " "), err, quiet(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), err
}

// quiet drops podman's complaints that it cannot reach systemd to run
// health checks on a timer; `podman healthcheck run` needs no timer.
func quiet(stderr string) string {
	var keep []string
	for _, line := range strings.Split(stderr, "\n") {
		if !strings.Contains(line, "unable to get systemd connection") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

func mustPodman(t *testing.T, args ...string) string {
	t.Helper()
	out, err := podman(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startContainer runs `podman run -d` with args, removes the container at
// the end of the test, and returns its name and when podman was started.
func startContainer(t *testing.T, args ...string) (string, time.Time) {
	t.Helper()
	name := fmt.Sprintf("wxlogin-test-%d", time.Now().UnixNano())
	started := time.Now()
	mustPodman(t, append([]string{"run", "-d", "--name", name}, args...)...)
	t.Logf("podman run -d returned after %v", time.Since(started).Round(time.Millisecond))
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := podman("logs", name)
			t.Logf("logs of %s:\n%s", name, logs)
		}
		podman("rm", "--force", "--time", "0", name)
	})
	return name, started
}

// waitHealthy polls base's /healthz until it answers 200.
func waitHealthy(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if status(base+"/healthz") == http.StatusOK {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s/healthz did not answer 200 within 30s", base)
}

// status is the status of a GET of url, 0 when there is no answer.
func status(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// login posts code to base's /v1/login and returns the token and openid.
func login(t *testing.T, base, code string) (tok, openid string) {
	t.Helper()
	resp, err := http.Post(base+"/v1/login", "application/json", strings.NewReader(`{"code":"`+code+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: got %d %s, want 200", resp.StatusCode, body)
	}
	var ans struct{ Token, OpenID string }
	if err := json.Unmarshal(body, &ans); err != nil || ans.Token == "" {
		t.Fatalf("login answer %s: %v", body, err)
	}
	return ans.Token, ans.OpenID
}

// verify checks tok as a downstream service does, with the JWKS the
// container serves, and returns its subject.
func verify(t *testing.T, base, issuer, audience, tok string) string {
	t.Helper()
	v, err := token.NewVerifier(token.VerifierConfig{JWKSURL: base + "/.well-known/jwks.json", Issuer: issuer, Audience: audience})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	claims, err := v.Verify(tok)
	if err != nil {
		t.Fatalf("the token does not verify against the served JWKS: %v", err)
	}
	return claims.Subject
}

// process is what the kernel says of a container's main process.
type process struct {
	uid, gid, capEff, noNewPrivs string
	rootReadOnly                 bool
	mounts                       map[string]bool // mount point → read-only
}

func inspectProcess(t *testing.T, name string) process {
	t.Helper()
	pid := mustPodman(t, "inspect", "--format", "{{.State.Pid}}", name)
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	p := process{mounts: map[string]bool{}}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, _ := strings.Cut(line, ":")
		switch f := strings.Fields(v); k {
		case "Uid":
			p.uid = strings.Join(f, " ")
		case "Gid":
			p.gid = strings.Join(f, " ")
		case "CapEff":
			p.capEff = strings.Join(f, " ")
		case "NoNewPrivs":
			p.noNewPrivs = strings.Join(f, " ")
		}
	}
	// mountinfo: id parent major:minor root mountpoint options …
	mountinfo, err := os.ReadFile("/proc/" + pid + "/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mountinfo), "\n") {
		f := strings.Fields(line)
		if len(f) > 5 {
			p.mounts[f[4]] = strings.HasPrefix(f[5], "ro")
		}
	}
	p.rootReadOnly = p.mounts["/"]
	return p
}

// checkLockedDown checks the container's process as the kernel sees it:
// nonroot, no capabilities, no privilege gain, the root read-only.
func checkLockedDown(t *testing.T, name string, readOnly bool) {
	t.Helper()
	p := inspectProcess(t, name)
	if p.uid != "65532 65532 65532 65532" || p.gid != "65532 65532 65532 65532" {
		t.Errorf("process uids %q, gids %q: want 65532 (nonroot) for all", p.uid, p.gid)
	}
	if p.capEff != "0000000000000000" {
		t.Errorf("effective capabilities %s, want none", p.capEff)
	}
	if readOnly && (p.noNewPrivs != "1" || !p.rootReadOnly) {
		t.Errorf("NoNewPrivs %s, root read-only %v: want 1 and true", p.noNewPrivs, p.rootReadOnly)
	}
}

// stopCleanly sends SIGTERM with `podman stop` and wants exit status 0:
// had the server not exited within the container's stop timeout, podman
// would have killed it (137); had the drain overrun
// WXLOGIN_SHUTDOWN_TIMEOUT, the server would have exited 1.
func stopCleanly(t *testing.T, name string) {
	t.Helper()
	start := time.Now()
	mustPodman(t, "stop", name)
	took := time.Since(start)
	if code := mustPodman(t, "inspect", "--format", "{{.State.ExitCode}}", name); code != "0" {
		t.Errorf("exit status after SIGTERM: got %s, want 0", code)
	}
	t.Logf("podman stop: exited in %v", took.Round(time.Millisecond))
}

func TestImageContents(t *testing.T) {
	image := testImage(t)
	user := mustPodman(t, "image", "inspect", "--format", "{{.Config.User}}", image)
	if user != "65532:65532" {
		t.Errorf("image user %q, want 65532:65532", user)
	}
	var labels map[string]string
	if err := json.Unmarshal([]byte(mustPodman(t, "image", "inspect", "--format", "{{json .Config.Labels}}", image)), &labels); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"org.opencontainers.image.source", "org.opencontainers.image.version", "org.opencontainers.image.revision"} {
		if labels[l] == "" || labels[l] == "unknown" {
			t.Errorf("label %s = %q, want it set", l, labels[l])
		}
	}
	var hc struct{ Test []string }
	json.Unmarshal([]byte(mustPodman(t, "image", "inspect", "--format", "{{json .Config.Healthcheck}}", image)), &hc)
	if fmt.Sprint(hc.Test) != "[CMD /wxlogin healthcheck]" {
		t.Errorf("HEALTHCHECK %q, want the exec form of /wxlogin healthcheck", hc.Test)
	}

	root := mustPodman(t, "image", "mount", image)
	defer podman("image", "unmount", image)
	// The one program in the image is wxlogin: no shell, no busybox,
	// nothing to run in an exploited container.
	var programs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch d.Name() {
		case "sh", "bash", "dash", "ash", "busybox":
			programs = append(programs, strings.TrimPrefix(p, root))
			return nil
		}
		if info.Mode().IsRegular() && info.Mode()&0o111 != 0 {
			programs = append(programs, strings.TrimPrefix(p, root))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(programs) != "[/wxlogin]" {
		t.Errorf("programs in the image: got %v, want only /wxlogin", programs)
	}
	passwd, err := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if err != nil || !strings.Contains(string(passwd), "\nnonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd has no nonroot user 65532 (%v):\n%s", err, passwd)
	}
	for _, f := range []string{"etc/ssl/certs/ca-certificates.crt", "usr/share/zoneinfo/Asia/Shanghai"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("the image lacks /%s: %v", f, err)
		}
	}
	if _, err := podman("run", "--rm", "--entrypoint", "/bin/sh", image, "-c", "true"); err == nil {
		t.Error("the image ran /bin/sh")
	}
}

// TestCrossBuild checks that TARGETARCH reaches the compiler: the image
// built with TARGETARCH=arm64 holds an arm64 binary, and the other one a
// binary for this machine.
func TestCrossBuild(t *testing.T) {
	images := map[string]elf.Machine{testImage(t): map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[runtime.GOARCH]}
	arm64 := os.Getenv("WXLOGIN_TEST_IMAGE_ARM64")
	if arm64 == "" {
		if os.Getenv("WXLOGIN_REQUIRE_PODMAN") != "" {
			t.Fatal("WXLOGIN_TEST_IMAGE_ARM64 is not set, and WXLOGIN_REQUIRE_PODMAN is")
		}
		t.Skip("no arm64 image: run deploy/container-test")
	}
	images[arm64] = elf.EM_AARCH64
	for image, want := range images {
		root := mustPodman(t, "image", "mount", image)
		f, err := elf.Open(filepath.Join(root, "wxlogin"))
		if err != nil {
			t.Fatal(err)
		}
		if f.Machine != want {
			t.Errorf("%s: /wxlogin is for %v, want %v", image, f.Machine, want)
		}
		f.Close()
		podman("image", "unmount", image)
	}
}

func TestDevMode(t *testing.T) {
	image := testImage(t)
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	name, started := startContainer(t, "-p", fmt.Sprintf("127.0.0.1:%d:8080", port), "-e", "WXLOGIN_DEV=true", image)
	waitHealthy(t, base)
	t.Logf("first /healthz answer %v after podman run", time.Since(started).Round(time.Millisecond))

	tok, openid := login(t, base, "any-code-you-like")
	if sub := verify(t, base, "http://localhost:8080", devAppID, tok); sub != openid {
		t.Errorf("token subject %q, want the openid %q", sub, openid)
	}
	mustPodman(t, "healthcheck", "run", name)
	checkLockedDown(t, name, false)
	stopCleanly(t, name)
}

// productionSecrets writes the files a production run mounts: keys from
// the image's own `wxlogin keygen`, and the AppSecret.
func productionSecrets(t *testing.T, image, appSecret string) (dir string, keys map[string]string) {
	t.Helper()
	out := mustPodman(t, "run", "--rm", image, "keygen")
	keys = map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "WXLOGIN_") {
			keys[k] = v
		}
	}
	if keys["WXLOGIN_SIGNING_KEY"] == "" || keys["WXLOGIN_SESSION_KEY_SECRET"] == "" {
		t.Fatalf("wxlogin keygen printed no keys:\n%s", out)
	}
	dir = t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil { // the mount point, entered by 65532
		t.Fatal(err)
	}
	for file, value := range map[string]string{
		"appsecret":          appSecret,
		"signing-key":        keys["WXLOGIN_SIGNING_KEY"],
		"session-key-secret": keys["WXLOGIN_SESSION_KEY_SECRET"],
	} {
		p := filepath.Join(dir, file)
		if err := os.WriteFile(p, []byte(value), 0o400); err != nil {
			t.Fatal(err)
		}
		// Readable by the container's user only, as a Docker secret is.
		if err := os.Chown(p, 65532, 65532); err != nil {
			t.Fatal(err)
		}
	}
	return dir, keys
}

// productionArgs are the flags of a production `podman run`, less the
// port and the image.
func productionArgs(secrets string, fake *wechattest.Server, omit string) []string {
	env := []string{
		"WXLOGIN_APPID=" + fake.AppID(),
		"WXLOGIN_SECRET_FILE=/run/secrets/wxlogin/appsecret",
		"WXLOGIN_SIGNING_KEY_FILE=/run/secrets/wxlogin/signing-key",
		"WXLOGIN_SESSION_KEY_SECRET_FILE=/run/secrets/wxlogin/session-key-secret",
		"WXLOGIN_ISSUER=https://login.example.com",
		"WXLOGIN_WECHAT_BASE_URL=http://10.0.2.2:" + fake.URL[strings.LastIndex(fake.URL, ":")+1:],
	}
	// --stop-timeout: above WXLOGIN_SHUTDOWN_TIMEOUT (15s), so that a
	// drain is never cut short by SIGKILL (the default is 10s).
	args := []string{"--network", hostLoopback, "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
		"--stop-timeout", "20", "-v", secrets + ":/run/secrets/wxlogin:ro"}
	for _, e := range env {
		if !strings.HasPrefix(e, omit+"=") {
			args = append(args, "-e", e)
		}
	}
	return args
}

func TestProductionMode(t *testing.T) {
	image := testImage(t)
	fake := wechattest.NewServer(wechattest.Options{AppID: "wx0123456789abcdef", Secret: "container-test-appsecret"})
	defer fake.Close()
	secrets, _ := productionSecrets(t, image, "container-test-appsecret")

	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	args := append(productionArgs(secrets, fake, ""), "-p", fmt.Sprintf("127.0.0.1:%d:8080", port), image)
	name, started := startContainer(t, args...)
	waitHealthy(t, base)
	t.Logf("first /healthz answer %v after podman run", time.Since(started).Round(time.Millisecond))

	tok, openid := login(t, base, fake.Code("alice"))
	if openid != fake.OpenID("alice") {
		t.Errorf("openid %q, want the fake's %q", openid, fake.OpenID("alice"))
	}
	if sub := verify(t, base, "https://login.example.com", fake.AppID(), tok); sub != openid {
		t.Errorf("token subject %q, want the openid %q", sub, openid)
	}
	if n := fake.Calls("/sns/jscode2session"); n != 1 {
		t.Errorf("jscode2session calls: got %d, want 1", n)
	}
	mustPodman(t, "healthcheck", "run", name)
	p := inspectProcess(t, name)
	if !p.mounts["/run/secrets/wxlogin"] {
		t.Error("the secrets are not mounted read-only")
	}
	checkLockedDown(t, name, true)
	stopCleanly(t, name)
}

func TestMissingVariable(t *testing.T) {
	image := testImage(t)
	fake := wechattest.NewServer(wechattest.Options{AppID: "wx0123456789abcdef", Secret: "container-test-appsecret"})
	defer fake.Close()
	secrets, keys := productionSecrets(t, image, "container-test-appsecret")
	for _, missing := range []string{"WXLOGIN_ISSUER", "WXLOGIN_SIGNING_KEY_FILE"} {
		args := append([]string{"run", "--rm"}, productionArgs(secrets, fake, missing)...)
		cmd := exec.Command("podman", append(args, image)...)
		out, err := cmd.CombinedOutput()
		if err == nil || cmd.ProcessState.ExitCode() == 0 {
			t.Errorf("without %s: the container exited 0 (%v)\n%s", missing, err, out)
			continue
		}
		variable := strings.TrimSuffix(missing, "_FILE")
		if !strings.Contains(string(out), variable) {
			t.Errorf("without %s: the log does not name %s:\n%s", missing, variable, out)
		}
		for _, secret := range []string{keys["WXLOGIN_SESSION_KEY_SECRET"], "container-test-appsecret"} {
			if strings.Contains(string(out), secret) {
				t.Errorf("without %s: the log shows a secret", missing)
			}
		}
	}
}

// TestKubePlay runs what deploy/podman renders (the Deployment with one
// replica and a hostPort, its ConfigMap) and a Secret made like
// secret.example.yaml with `podman kube play`, as docs/deployment.md
// does. The test sets the image under test, a free port, and the fake
// WeChat's URL.
func TestKubePlay(t *testing.T) {
	image := testImage(t)
	m := decodeRendered(t, "podman")
	if len(m.deployments) != 1 || len(m.configMaps) != 1 {
		t.Fatalf("rendered %d Deployments, %d ConfigMaps: want 1 each", len(m.deployments), len(m.configMaps))
	}
	d, cm := m.deployments[0], m.configMaps[0]
	fake := wechattest.NewServer(wechattest.Options{AppID: cm.Data["WXLOGIN_APPID"], Secret: "kube-play-appsecret"})
	defer fake.Close()

	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if r := d.Spec.Replicas; r == nil || *r != 1 {
		t.Errorf("deploy/podman: replicas %v, want 1 (each replica would claim the hostPort)", r)
	}
	c := &d.Spec.Template.Spec.Containers[0]
	c.Image = image
	if c.Ports[0].HostPort == 0 || c.Ports[0].HostIP != "127.0.0.1" {
		t.Errorf("deploy/podman: port %+v, want a hostPort on 127.0.0.1", c.Ports[0])
	}
	c.Ports[0].HostPort = int32(port)
	c.Env = append(c.Env, corev1.EnvVar{Name: "WXLOGIN_WECHAT_BASE_URL", Value: "http://10.0.2.2:" + fake.URL[strings.LastIndex(fake.URL, ":")+1:]})

	// The Secret, with the keys of secret.example.yaml and values from
	// the image's keygen.
	_, keys := productionSecrets(t, image, "kube-play-appsecret")
	secret := secretTemplate(t)
	secret.StringData = map[string]string{
		"appsecret":               "kube-play-appsecret",
		"signing-key":             keys["WXLOGIN_SIGNING_KEY"],
		"session-key-secret":      keys["WXLOGIN_SESSION_KEY_SECRET"],
		"verify-keys":             "",
		"old-session-key-secrets": "",
	}
	secretFile := filepath.Join(t.TempDir(), "secret.yaml")
	if err := os.WriteFile(secretFile, podmanSecret(t, secret), 0o600); err != nil {
		t.Fatal(err)
	}
	mustPodman(t, "secret", "create", secret.Name, secretFile)
	defer podman("secret", "rm", secret.Name)

	var play bytes.Buffer
	for _, obj := range []any{cm, d} {
		b, err := yaml.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		play.WriteString("---\n")
		play.Write(b)
	}
	playFile := filepath.Join(t.TempDir(), "play.yaml")
	if err := os.WriteFile(playFile, play.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	mustPodman(t, "kube", "play", "--network", hostLoopback, playFile)
	defer func() {
		if t.Failed() {
			logs, _ := podman("logs", d.Name+"-pod-0-"+c.Name)
			t.Logf("logs:\n%s", logs)
		}
		podman("kube", "down", playFile)
		podman("volume", "rm", "--force", secret.Name)
	}()
	waitHealthy(t, base)
	t.Logf("first /healthz answer %v after podman kube play", time.Since(started).Round(time.Millisecond))

	// Podman turns an httpGet probe into curl in a shell, which the
	// image has not got; so the test asks each probe's URL itself, as the
	// kubelet would.
	for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Port.Type != intstr.String {
			t.Errorf("%s probe %+v: want an httpGet on a named port", name, p)
			continue
		}
		if _, err := containerPort(*c, p.HTTPGet.Port.StrVal); err != nil {
			t.Error(err)
		}
		if got := status(base + p.HTTPGet.Path); got != http.StatusOK {
			t.Errorf("%s probe GET %s: got %d, want 200", name, p.HTTPGet.Path, got)
		}
	}

	tok, openid := login(t, base, fake.Code("bob"))
	if sub := verify(t, base, cm.Data["WXLOGIN_ISSUER"], cm.Data["WXLOGIN_APPID"], tok); sub != openid || openid != fake.OpenID("bob") {
		t.Errorf("token subject %q, openid %q: want the fake's %q", sub, openid, fake.OpenID("bob"))
	}

	name := d.Name + "-pod-0-" + c.Name
	p := inspectProcess(t, name)
	mount := c.VolumeMounts[0].MountPath
	if ro, ok := p.mounts[mount]; !ok || !ro {
		t.Errorf("the Secret at %s: mounted %v, read-only %v; want both", mount, ok, ro)
	}
	checkLockedDown(t, name, true)
	if seccomp := mustPodman(t, "inspect", "--format", "{{json .HostConfig.SecurityOpt}}", name); strings.Contains(seccomp, "unconfined") {
		t.Errorf("security options %s: want a seccomp profile", seccomp)
	}
}

// podmanSecret is the Secret as podman kube play reads it from a podman
// secret. Podman 4.3 reads it with a plain YAML decoder: it ignores
// stringData, and takes the values of data as they are, without the
// base64 decoding Kubernetes does; later versions decode as Kubernetes
// does.
func podmanSecret(t *testing.T, s *corev1.Secret) []byte {
	t.Helper()
	version := mustPodman(t, "version", "--format", "{{.Client.Version}}")
	major, minor := 0, 0
	if f := strings.SplitN(version, ".", 3); len(f) >= 2 {
		major, _ = strconv.Atoi(f[0])
		minor, _ = strconv.Atoi(f[1])
	}
	out := s.DeepCopy()
	if major == 4 && minor <= 3 {
		b, err := yaml.Marshal(map[string]any{
			"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": s.Name},
			"type": string(s.Type), "data": s.StringData,
		})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	out.Data = map[string][]byte{}
	for k, v := range s.StringData {
		out.Data[k] = []byte(v)
	}
	out.StringData = nil
	b, err := yaml.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
