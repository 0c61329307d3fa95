package main

// Server-level tests of what downstream services rely on: key rotation by
// configuration alone, attacks refused by GET /v1/session, and tokens
// verified by JOSE libraries wxlogin did not write (go-jose here, Node's
// jose through interop/node).

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/wxlogin/wxlogin/token"
	"github.com/wxlogin/wxlogin/token/tokentest"
)

// keyMaterial is one run of `wxlogin keygen`: the env lines, and the public
// key from its comment line, in the one-line form WXLOGIN_VERIFY_KEYS takes.
type keyMaterial struct {
	signingKey, sessionSecret, publicKey string
}

func newKeyMaterial(t *testing.T, args ...string) keyMaterial {
	t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), append([]string{"wxlogin", "keygen"}, args...), &out, io.Discard); err != nil {
		t.Fatalf("keygen: %v", err)
	}
	var km keyMaterial
	for _, line := range strings.Split(out.String(), "\n") {
		switch {
		case strings.HasPrefix(line, "#") && strings.Contains(line, "WXLOGIN_VERIFY_KEYS"):
			_, pub, _ := strings.Cut(line, ": ")
			km.publicKey = pub
		case strings.HasPrefix(line, "WXLOGIN_SIGNING_KEY="):
			km.signingKey = strings.TrimPrefix(line, "WXLOGIN_SIGNING_KEY=")
		case strings.HasPrefix(line, "WXLOGIN_SESSION_KEY_SECRET="):
			km.sessionSecret = strings.TrimPrefix(line, "WXLOGIN_SESSION_KEY_SECRET=")
		}
	}
	if km.signingKey == "" || km.sessionSecret == "" || !strings.HasPrefix(km.publicKey, "-----BEGIN PUBLIC KEY-----") {
		t.Fatalf("keygen printed %q; want the signing key, the secret and the public key in a comment", out.String())
	}
	return km
}

// signer returns a tokentest.Signer holding the same private key as km,
// to make tokens the server must refuse.
func (km keyMaterial) signer(t *testing.T, issuer, audience string) *tokentest.Signer {
	t.Helper()
	key, _, err := token.ParsePrivateKey([]byte(strings.ReplaceAll(km.signingKey, `\n`, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	return &tokentest.Signer{Key: key, Issuer: issuer, Audience: audience, AppID: audience}
}

// deployment is one stable address whose server can be replaced, as a
// rolling deploy replaces a service behind its hostname: the issuer URL
// stays, the configuration changes.
type deployment struct {
	*httptest.Server
	current atomic.Pointer[http.Handler]
}

func newDeployment(t *testing.T) *deployment {
	t.Helper()
	d := &deployment{}
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*d.current.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(d.Close)
	return d
}

// deploy configures a new server from env, exactly as `wxlogin serve`
// reads it (with WXLOGIN_ISSUER set to d's URL and the fake WeChat of dev
// mode), and puts it behind d.
func (d *deployment) deploy(t *testing.T, env map[string]string) {
	t.Helper()
	vars := map[string]string{"WXLOGIN_DEV": "true", "WXLOGIN_ISSUER": d.URL}
	for k, v := range env {
		vars[k] = v
	}
	clearEnv(t, vars)
	cfg, err := configure(false)
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(cfg, slog.New(slog.DiscardHandler), d.Listener.Addr())
	if err != nil {
		t.Fatal(err)
	}
	d.current.Store(&a.handler)
}

// login logs in with code and returns the token and its kid.
func (d *deployment) login(t *testing.T, code string) (tok, kid string) {
	t.Helper()
	status, body := postLogin(t, d.URL, code)
	tok, _ = body["token"].(string)
	if status != http.StatusOK || tok == "" {
		t.Fatalf("login: %d %v", status, body)
	}
	return tok, headerOf(t, tok)["kid"].(string)
}

// session calls GET /v1/session with tok and returns the response, its
// body read.
func (d *deployment) session(t *testing.T, tok string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, d.URL+"/v1/session", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// publishedKIDs returns the kids of the JWKS the deployment serves.
func (d *deployment) publishedKIDs(t *testing.T) []string {
	t.Helper()
	var set token.JWKS
	getJSON(t, d.URL+token.JWKSPath, &set)
	var kids []string
	for _, k := range set.Keys {
		if k.Use != "sig" || k.Alg == "" || k.Kty == "" || k.X == "" {
			t.Errorf("JWK %+v lacks kty, x, alg or use sig", k)
		}
		kids = append(kids, k.KID)
	}
	return kids
}

func headerOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	seg, _, _ := strings.Cut(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

func sameSet(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	seen := map[string]int{}
	for _, k := range got {
		seen[k]++
	}
	for _, k := range want {
		if seen[k] != 1 {
			return false
		}
	}
	return true
}

// TestKeyRotation follows the README's rotation procedure step by step,
// with configuration alone, and checks that no token stops working before
// its time: above all, that a token signed before the switch still
// verifies after it, at the server and downstream.
func TestKeyRotation(t *testing.T) {
	for _, tc := range []struct{ name, nextArgs string }{{"ES256 to ES256", ""}, {"ES256 to EdDSA", "-ed25519"}} {
		t.Run(tc.name, func(t *testing.T) {
			old := newKeyMaterial(t)
			var next keyMaterial
			if tc.nextArgs != "" {
				next = newKeyMaterial(t, tc.nextArgs)
			} else {
				next = newKeyMaterial(t)
			}
			d := newDeployment(t)
			env := map[string]string{"WXLOGIN_SESSION_KEY_SECRET": old.sessionSecret}

			// Before: the old key signs.
			env["WXLOGIN_SIGNING_KEY"] = old.signingKey
			d.deploy(t, env)
			oldTok, oldKID := d.login(t, "code-before")
			// A downstream service, started now, keeps running throughout.
			downstream, err := token.NewVerifier(token.VerifierConfig{
				JWKSURL: token.JWKSURL(d.URL), Issuer: d.URL, Audience: devAppID,
				Logger: slog.New(slog.DiscardHandler),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer downstream.Close()
			if _, err := downstream.Verify(oldTok); err != nil {
				t.Fatalf("downstream, before: %v", err)
			}

			// Step 1: publish the next key as a verify key.
			env["WXLOGIN_VERIFY_KEYS"] = next.publicKey
			d.deploy(t, env)
			if tok, kid := d.login(t, "code-publish"); kid != oldKID {
				t.Errorf("step 1: signed with kid %s; want the old key %s still signing", kid, oldKID)
			} else if resp, body := d.session(t, tok); resp.StatusCode != 200 {
				t.Errorf("step 1: new token refused: %d %s", resp.StatusCode, body)
			}
			nextKID := func() string {
				k, _ := token.NewKey(next.signer(t, "", "").Key.Public())
				return k.KID
			}()
			if kids := d.publishedKIDs(t); !sameSet(kids, []string{oldKID, nextKID}) {
				t.Errorf("step 1: JWKS kids %v; want the old and the next key", kids)
			}

			// Step 2 (after the JWKS caches expire): switch signing to the
			// next key, keeping the old one as a verify key.
			env["WXLOGIN_SIGNING_KEY"] = next.signingKey
			env["WXLOGIN_VERIFY_KEYS"] = old.publicKey
			d.deploy(t, env)
			newTok, kid := d.login(t, "code-after")
			if kid != nextKID {
				t.Fatalf("step 2: signed with kid %s; want the next key %s", kid, nextKID)
			}
			for name, tok := range map[string]string{"signed before the switch": oldTok, "signed after": newTok} {
				if resp, body := d.session(t, tok); resp.StatusCode != 200 {
					t.Errorf("step 2: token %s refused by /v1/session: %d %s", name, resp.StatusCode, body)
				}
				if _, err := downstream.Verify(tok); err != nil {
					t.Errorf("step 2: token %s refused downstream: %v", name, err)
				}
			}
			if kids := d.publishedKIDs(t); !sameSet(kids, []string{oldKID, nextKID}) {
				t.Errorf("step 2: JWKS kids %v; want both keys", kids)
			}

			// Step 3 (one token lifetime later): retire the old key.
			delete(env, "WXLOGIN_VERIFY_KEYS")
			d.deploy(t, env)
			if kids := d.publishedKIDs(t); !sameSet(kids, []string{nextKID}) {
				t.Errorf("step 3: JWKS kids %v; want only the next key", kids)
			}
			if resp, body := d.session(t, newTok); resp.StatusCode != 200 {
				t.Errorf("step 3: current token refused: %d %s", resp.StatusCode, body)
			}
			resp, body := d.session(t, oldTok)
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `"invalid_token"`) {
				t.Errorf("step 3: token of the retired key: %d %s; want 401 invalid_token", resp.StatusCode, body)
			}
		})
	}
}

// TestSessionRefusesAttacks sends every forged, altered or broken token to
// GET /v1/session of a server whose signing key the attacker does not
// have (the forgeries) or does (the tokens that are validly signed but
// expired, foreign, or too big).
func TestSessionRefusesAttacks(t *testing.T) {
	for _, args := range [][]string{nil, {"-ed25519"}} {
		km := newKeyMaterial(t, args...)
		d := newDeployment(t)
		d.deploy(t, map[string]string{"WXLOGIN_SIGNING_KEY": km.signingKey, "WXLOGIN_SESSION_KEY_SECRET": km.sessionSecret})
		s := km.signer(t, d.URL, devAppID)
		alg := s.PublicKey().Alg

		// The signer is the server's: its valid token is accepted, so each
		// refusal below is for the attack, not for the key.
		if resp, body := d.session(t, s.Token("oVictim")); resp.StatusCode != 200 || !strings.Contains(string(body), `"openid":"oVictim"`) {
			t.Fatalf("%s: valid token: %d %s", alg, resp.StatusCode, body)
		}
		for _, a := range s.Attacks() {
			t.Run(alg+"/"+a.Name, func(t *testing.T) {
				resp, body := d.session(t, a.Token)
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("status %d, body %s; want 401", resp.StatusCode, body)
				}
				if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer ") || !strings.Contains(got, `error="invalid_token"`) {
					t.Errorf("WWW-Authenticate = %q; want Bearer … error=\"invalid_token\"", got)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("Content-Type = %q", ct)
				}
				var p map[string]any
				if err := json.Unmarshal(body, &p); err != nil {
					t.Fatalf("body %s: %v", body, err)
				}
				for _, k := range []string{"type", "title", "status", "detail", "code"} {
					if _, ok := p[k]; !ok {
						t.Errorf("problem body %s lacks %s", body, k)
					}
				}
				if p["code"] != "invalid_token" || p["status"] != float64(401) {
					t.Errorf("problem body %s; want status 401, code invalid_token", body)
				}
				for _, part := range append(strings.Split(a.Token, "."), a.Token) {
					if len(part) > 8 && bytes.Contains(body, []byte(part)) {
						t.Fatal("the answer echoes the token")
					}
				}
			})
		}
	}
}

// TestInteropGoJose verifies the server's tokens with go-jose, from the
// discovery document to the claims, for ES256 and EdDSA.
func TestInteropGoJose(t *testing.T) {
	for _, args := range [][]string{nil, {"-ed25519"}} {
		km := newKeyMaterial(t, args...)
		d := newDeployment(t)
		d.deploy(t, map[string]string{"WXLOGIN_SIGNING_KEY": km.signingKey, "WXLOGIN_SESSION_KEY_SECRET": km.sessionSecret})
		wantAlg := km.signer(t, "", "").PublicKey().Alg
		t.Run(wantAlg, func(t *testing.T) {
			// Discovery, as strict clients read it.
			resp, err := http.Get(d.URL + token.DiscoveryPath)
			if err != nil {
				t.Fatal(err)
			}
			var disc map[string]any
			json.NewDecoder(resp.Body).Decode(&disc)
			resp.Body.Close()
			if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=300" {
				t.Errorf("discovery Cache-Control = %q", cc)
			}
			if disc["issuer"] != d.URL || disc["jwks_uri"] != d.URL+token.JWKSPath {
				t.Errorf("discovery issuer %v, jwks_uri %v; want %s and its JWKS", disc["issuer"], disc["jwks_uri"], d.URL)
			}
			for _, k := range []string{"response_types_supported", "subject_types_supported", "id_token_signing_alg_values_supported"} {
				if l, _ := disc[k].([]any); len(l) == 0 {
					t.Errorf("discovery lacks %s, which OpenID Connect Discovery requires", k)
				}
			}
			if algs, _ := disc["id_token_signing_alg_values_supported"].([]any); len(algs) != 1 || algs[0] != wantAlg {
				t.Errorf("id_token_signing_alg_values_supported = %v; want [%s]", algs, wantAlg)
			}

			// The JWKS, parsed and thumbprinted by go-jose.
			resp, err = http.Get(disc["jwks_uri"].(string))
			if err != nil {
				t.Fatal(err)
			}
			var set jose.JSONWebKeySet
			err = json.NewDecoder(resp.Body).Decode(&set)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("go-jose cannot read the JWKS: %v", err)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=300" {
				t.Errorf("JWKS Cache-Control = %q", cc)
			}
			for _, k := range set.Keys {
				thumb, err := k.Thumbprint(crypto.SHA256)
				if err != nil {
					t.Fatal(err)
				}
				if got := base64.RawURLEncoding.EncodeToString(thumb); got != k.KeyID {
					t.Errorf("kid %s is not the RFC 7638 thumbprint %s", k.KeyID, got)
				}
				if !k.IsPublic() || k.Use != "sig" || k.Algorithm != wantAlg {
					t.Errorf("JWK %s: public %v, use %q, alg %q", k.KeyID, k.IsPublic(), k.Use, k.Algorithm)
				}
			}

			tok, _ := d.login(t, "interop-code")
			verify := func(tok string) (josejwt.Claims, error) {
				var claims josejwt.Claims
				parsed, err := josejwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA})
				if err != nil {
					return claims, err
				}
				keys := set.Key(parsed.Headers[0].KeyID)
				if len(keys) != 1 {
					return claims, errors.New("kid not in the JWKS")
				}
				if err := parsed.Claims(keys[0].Key, &claims); err != nil {
					return claims, err
				}
				return claims, claims.ValidateWithLeeway(josejwt.Expected{
					Issuer: disc["issuer"].(string), AnyAudience: josejwt.Audience{devAppID}, Time: time.Now(),
				}, 0)
			}
			claims, err := verify(tok)
			if err != nil {
				t.Fatalf("go-jose refuses the token: %v", err)
			}
			if claims.Subject == "" || claims.Expiry == nil || claims.ID == "" {
				t.Errorf("claims %+v lack sub, exp or jti", claims)
			}
			// go-jose does check: a token of another key fails.
			other := tokentest.New(wantAlg, d.URL, devAppID)
			kid, _ := headerOf(t, tok)["kid"].(string)
			if _, err := verify(other.Sign(other.Claims("o1"), map[string]any{"kid": kid})); err == nil {
				t.Error("go-jose accepted a token of another key")
			}
		})
	}
}

// TestInteropNodeJose runs interop/node's tests, which verify the
// server's tokens with the npm package jose (createRemoteJWKSet and
// jwtVerify, from the discovery document), for ES256 and EdDSA.
func TestInteropNodeJose(t *testing.T) {
	requireNodeJose(t)
	type server struct {
		Issuer   string `json:"issuer"`
		Audience string `json:"audience"`
		Alg      string `json:"alg"`
	}
	var servers []server
	for _, args := range [][]string{nil, {"-ed25519"}} {
		km := newKeyMaterial(t, args...)
		d := newDeployment(t)
		d.deploy(t, map[string]string{"WXLOGIN_SIGNING_KEY": km.signingKey, "WXLOGIN_SESSION_KEY_SECRET": km.sessionSecret})
		servers = append(servers, server{Issuer: d.URL, Audience: devAppID, Alg: km.signer(t, "", "").PublicKey().Alg})
	}
	list, _ := json.Marshal(servers)
	runNodeTest(t, "jose.test.mjs", "WXLOGIN_INTEROP_SERVERS="+string(list), 2)
}

// interopNodeDir holds the Node interop tests and their node_modules.
const interopNodeDir = "interop/node"

// requireNodeJose skips the test (fails it, with WXLOGIN_REQUIRE_NODE
// set, as in CI) unless node and interop/node's jose are installed.
func requireNodeJose(t *testing.T) {
	t.Helper()
	need := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("WXLOGIN_REQUIRE_NODE") != "" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format+" (set WXLOGIN_REQUIRE_NODE=1 to fail instead)", args...)
	}
	if _, err := exec.LookPath("node"); err != nil {
		need("node is not installed: install Node.js 20 or later to run the jose interop test")
	}
	if _, err := os.Stat(filepath.Join(interopNodeDir, "node_modules", "jose")); err != nil {
		need("jose is not installed: run `npm ci --prefix %s`", interopNodeDir)
	}
}

// runNodeTest runs `node --test` on file of interop/node with env added,
// and fails unless wantPass tests passed and none was skipped: a run that
// found no servers would pass with a skip.
func runNodeTest(t *testing.T, file, env string, wantPass int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "--test", filepath.Join(interopNodeDir, file))
	cmd.Env = append(os.Environ(), env)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
	if !regexp.MustCompile(fmt.Sprintf(`(?m)^# pass %d$`, wantPass)).Match(out) || !regexp.MustCompile(`(?m)^# skipped 0$`).Match(out) {
		t.Fatalf("node tests did not all run:\n%s", out)
	}
	t.Logf("node --test:\n%s", out)
}
