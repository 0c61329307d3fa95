package claims_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wxlogin/wxlogin/claims"
)

const docPath = "../docs/claims-hook.md"

func readDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The signed request shown in docs/claims-hook.md verifies with the
// secret it names, at its timestamp.
func TestDocsExampleSignature(t *testing.T) {
	doc := readDoc(t)
	block := regexp.MustCompile("(?s)```http\n(POST /claims.*?)\n```").FindStringSubmatch(doc)
	if block == nil {
		t.Fatal("no example request in the doc")
	}
	head, body, ok := strings.Cut(block[1], "\n\n")
	if !ok {
		t.Fatal("the example request has no body")
	}
	var header string
	for line := range strings.SplitSeq(head, "\n") {
		if v, ok := strings.CutPrefix(line, claims.SignatureHeader+": "); ok {
			header = v
		}
	}
	secret := regexp.MustCompile("secret `([A-Za-z0-9+/=]+)`").FindStringSubmatch(doc)
	if secret == nil {
		t.Fatal("the doc names no secret for its example")
	}
	key, err := claims.DecodeKey(secret[1])
	if err != nil {
		t.Fatal(err)
	}
	v := claims.Verifier{Keys: [][]byte{key}, Now: func() time.Time { return time.Unix(1764614400, 0) }}
	if _, err := v.ConstructEvent([]byte(body), header); err != nil {
		t.Errorf("the doc's example does not verify: %v", err)
	}
	if want := "Content-Length: " + strconv.Itoa(len(body)); !strings.Contains(head, want) {
		t.Errorf("the example's headers do not say %q", want)
	}
}

// The Node verifier in docs/claims-hook.md, run exactly as written,
// accepts what this package signs and refuses what it must.
func TestDocsNodeVerifier(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("WXLOGIN_REQUIRE_NODE") != "" {
			t.Fatal("node is not installed, and WXLOGIN_REQUIRE_NODE is set")
		}
		t.Skip("node is not installed: skipping the test of the doc's Node verifier (install Node 20+ to run it)")
	}
	m := regexp.MustCompile("(?s)<!-- node-verify:begin -->\n```js\n(.*?)```\n<!-- node-verify:end -->").FindStringSubmatch(readDoc(t))
	if m == nil {
		t.Fatal("no Node verifier between the node-verify markers in the doc")
	}
	snippet := m[1]

	key := bytes.Repeat([]byte{0xa5}, 32)
	secret := base64.StdEncoding.EncodeToString(key)
	req := claims.Request{Event: claims.EventPhone, AppID: "wx1", OpenID: "o-é-1", PhoneNumber: "+8613800138000",
		Sub: "10042", Claims: map[string]any{"name": "张三", "roles": []any{"member"}}}
	body, _ := json.Marshal(req)
	now := time.Now()
	type testCase struct {
		Name   string `json:"name"`
		Body   string `json:"body"` // base64, so that the bytes are exact
		Header string `json:"header"`
		Secret string `json:"secret"`
		Now    int64  `json:"now,omitempty"` // unix seconds; the real clock when 0
		want   string // "" for accepted, else a word of the error
	}
	b64 := base64.StdEncoding.EncodeToString
	cases := []testCase{
		{Name: "signed now", Body: b64(body), Header: claims.Sign(key, body, now), Secret: secret},
		{Name: "signed 4 minutes ago", Body: b64(body), Header: claims.Sign(key, body, now.Add(-4*time.Minute)), Secret: secret},
		{Name: "signed with the openssl vector", Body: b64([]byte(`{"event":"login","appid":"wx1","openid":"o1"}`)),
			Header: "t=1700000000,v1=1dc7da9001dfdfd1d9d0b1060bdec4647fde2056f94b313771a71d0a20c38b7d",
			Secret: base64.StdEncoding.EncodeToString(testKey), Now: 1700000000},
		{Name: "body changed", Body: b64(bytes.Replace(body, []byte("10042"), []byte("10043"), 1)), Header: claims.Sign(key, body, now), Secret: secret, want: "does not match"},
		{Name: "other secret", Body: b64(body), Header: claims.Sign(bytes.Repeat([]byte{1}, 32), body, now), Secret: secret, want: "does not match"},
		{Name: "6 minutes old", Body: b64(body), Header: claims.Sign(key, body, now.Add(-6*time.Minute)), Secret: secret, want: "out of range"},
		{Name: "2 minutes ahead", Body: b64(body), Header: claims.Sign(key, body, now.Add(2*time.Minute)), Secret: secret, want: "out of range"},
		{Name: "not signed", Body: b64(body), Header: "", Secret: secret, want: "malformed"},
		{Name: "v1 not hex", Body: b64(body), Header: "t=" + strconv.Itoa(int(now.Unix())) + ",v1=zz", Secret: secret, want: "does not match"},
		{Name: "no secret configured", Body: b64(body), Header: claims.Sign(nil, body, now), Secret: "", want: "secret"},
	}
	input, _ := json.Marshal(cases)

	harness := snippet + `
const cases = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
const realNow = Date.now;
const results = cases.map((c) => {
  Date.now = c.now ? () => c.now * 1000 : realNow;
  try {
    return { request: verifyWxlogin(Buffer.from(c.body, 'base64'), c.header, c.secret) };
  } catch (err) {
    return { error: err.message };
  }
});
process.stdout.write(JSON.stringify(results));
`
	file := filepath.Join(t.TempDir(), "verify.js")
	if err := os.WriteFile(file, []byte(harness), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, file)
	cmd.Stdin = bytes.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	var results []struct {
		Request map[string]any `json:"request"`
		Error   string         `json:"error"`
	}
	if err := json.Unmarshal(out, &results); err != nil || len(results) != len(cases) {
		t.Fatalf("node printed %s (%v)", out, err)
	}
	for i, c := range cases {
		r := results[i]
		switch {
		case c.want == "" && r.Error != "":
			t.Errorf("%s: refused: %s", c.Name, r.Error)
		case c.want != "" && !strings.Contains(r.Error, c.want):
			t.Errorf("%s: got error %q, request %v; want an error saying %q", c.Name, r.Error, r.Request, c.want)
		}
	}
	var want map[string]any
	json.Unmarshal(body, &want)
	if g, w := mustJSON(t, results[0].Request), mustJSON(t, want); g != w {
		t.Errorf("node decoded %s, want %s", g, w)
	}
}

// Every answer the doc shows (the Hasura claims and the PostgREST role
// among them) passes the checks wxlogin makes.
func TestDocsAnswersPass(t *testing.T) {
	doc := readDoc(t)
	blocks := regexp.MustCompile("(?s)```json\n(\\{\\s*\"sub\".*?)\n```").FindAllStringSubmatch(doc, -1)
	if len(blocks) < 3 {
		t.Fatalf("found %d example answers in the doc, want the plain, Hasura and PostgREST ones", len(blocks))
	}
	var names []string
	for _, b := range blocks {
		a, err := claims.ParseAnswer([]byte(b[1]))
		if err != nil {
			t.Errorf("the doc's answer %s: %v", b[1], err)
			continue
		}
		for name := range a.Claims {
			names = append(names, name)
		}
	}
	for _, want := range []string{"https://hasura.io/jwt/claims", "role"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("no example answer gives the claim %q", want)
		}
	}
}
