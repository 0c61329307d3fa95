package claims_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wxlogin/wxlogin/claims"
)

var (
	testKey = bytes.Repeat([]byte("k"), 32)
	t0      = time.Unix(1700000000, 0)
)

// The signature is the one the contract spells out; the expected value
// comes from openssl:
//
//	printf '1700000000.{"event":"login","appid":"wx1","openid":"o1"}' |
//	  openssl dgst -sha256 -hmac kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk
func TestSignMatchesOpenSSL(t *testing.T) {
	body := []byte(`{"event":"login","appid":"wx1","openid":"o1"}`)
	want := "t=1700000000,v1=1dc7da9001dfdfd1d9d0b1060bdec4647fde2056f94b313771a71d0a20c38b7d"
	if got := claims.Sign(testKey, body, t0); got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"event":"login","appid":"wx1","openid":"o1"}`)
	good := claims.Sign(testKey, body, t0)
	otherKey := bytes.Repeat([]byte("o"), 32)
	at := func(d time.Duration) func() time.Time { return func() time.Time { return t0.Add(d) } }

	tests := []struct {
		name   string
		keys   [][]byte
		body   []byte
		header string
		now    func() time.Time
		want   error
	}{
		{name: "good", header: good},
		{name: "4m59s old", header: good, now: at(5*time.Minute - time.Second)},
		{name: "5m old", header: good, now: at(5 * time.Minute)},
		{name: "5m1s old", header: good, now: at(5*time.Minute + time.Second), want: claims.ErrTooOld},
		{name: "an hour old", header: good, now: at(time.Hour), want: claims.ErrTooOld},
		{name: "a minute ahead", header: good, now: at(-time.Minute)},
		{name: "61s ahead", header: good, now: at(-61 * time.Second), want: claims.ErrTooNew},
		{name: "body changed", header: good, body: []byte(`{"event":"login","appid":"wx1","openid":"o2"}`), want: claims.ErrNoValidSignature},
		{name: "body with a trailing newline", header: good, body: append(bytes.Clone(body), '\n'), want: claims.ErrNoValidSignature},
		{name: "other key", header: good, keys: [][]byte{otherKey}, want: claims.ErrNoValidSignature},
		{name: "rotation: old and new key", header: good, keys: [][]byte{otherKey, testKey}},
		{name: "timestamp changed", header: strings.Replace(good, "t=1700000000", "t=1700000001", 1), want: claims.ErrNoValidSignature},
		{name: "two signatures, one good", header: "t=1700000000,v1=" + strings.Repeat("0", 64) + "," + good[len("t=1700000000,"):]},
		{name: "unknown scheme beside v1", header: good + ",v0=abc"},
		{name: "not signed", header: "", want: claims.ErrNotSigned},
		{name: "no v1", header: "t=1700000000", want: claims.ErrInvalidHeader},
		{name: "no t", header: good[len("t=1700000000,"):], want: claims.ErrInvalidHeader},
		{name: "two t", header: "t=1700000000," + good, want: claims.ErrInvalidHeader},
		{name: "t not a number", header: strings.Replace(good, "t=1700000000", "t=17e8", 1), want: claims.ErrInvalidHeader},
		{name: "negative t", header: strings.Replace(good, "t=1700000000", "t=-1", 1), want: claims.ErrInvalidHeader},
		{name: "v1 not hex", header: "t=1700000000,v1=" + strings.Repeat("z", 64), want: claims.ErrInvalidHeader},
		{name: "v1 short", header: good[:len(good)-2], want: claims.ErrInvalidHeader},
		{name: "v1 in uppercase hex", header: "t=1700000000,v1=" + strings.ToUpper(good[len("t=1700000000,v1="):])},
		{name: "part without =", header: good + ",junk", want: claims.ErrInvalidHeader},
		{name: "no key", keys: [][]byte{}, header: good, want: claims.ErrShortKey},
		{name: "empty key", keys: [][]byte{nil}, header: claims.Sign(nil, body, t0), want: claims.ErrShortKey},
		{name: "short key", keys: [][]byte{testKey[:31]}, header: claims.Sign(testKey[:31], body, t0), want: claims.ErrShortKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := claims.Verifier{Keys: [][]byte{testKey}, Now: at(0)}
			if tt.keys != nil {
				v.Keys = tt.keys
			}
			if tt.now != nil {
				v.Now = tt.now
			}
			b := body
			if tt.body != nil {
				b = tt.body
			}
			if err := v.Verify(b, tt.header); !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestConstructEvent(t *testing.T) {
	body := []byte(`{"event":"phone","appid":"wx1","openid":"o1","unionid":"u1","phone_number":"+8613800138000","sub":"42","claims":{"roles":["visitor"]}}`)
	v := claims.Verifier{Keys: [][]byte{testKey}, Now: func() time.Time { return t0 }}
	got, err := v.ConstructEvent(body, claims.Sign(testKey, body, t0))
	if err != nil {
		t.Fatal(err)
	}
	want := claims.Request{Event: claims.EventPhone, AppID: "wx1", OpenID: "o1", UnionID: "u1", PhoneNumber: "+8613800138000", Sub: "42",
		Claims: map[string]any{"roles": []any{"visitor"}}}
	if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
		t.Errorf("got %s, want %s", g, w)
	}
	// Numbers come as json.Number, digit for digit, for the hook to
	// answer them back unchanged.
	big := []byte(`{"event":"phone","appid":"wx1","openid":"o1","sub":"42","claims":{"id":12345678901234567890}}`)
	got, err = v.ConstructEvent(big, claims.Sign(testKey, big, t0))
	if err != nil || got.Claims["id"] != json.Number("12345678901234567890") {
		t.Errorf("claims %#v, %v; want id as json.Number 12345678901234567890", got.Claims, err)
	}
	// Nothing may follow the one JSON object.
	trailing := append(append([]byte{}, body...), []byte(` {}`)...)
	if _, err := v.ConstructEvent(trailing, claims.Sign(testKey, trailing, t0)); err == nil {
		t.Error("a request with trailing data was decoded")
	}
	// A body that does not verify is not decoded.
	if _, err := v.ConstructEvent(body, claims.Sign(bytes.Repeat([]byte("o"), 32), body, t0)); !errors.Is(err, claims.ErrNoValidSignature) {
		t.Errorf("wrong key: %v", err)
	}
	// The package-level function uses the real clock: a signature made
	// now verifies, one from t0 is too old.
	if _, err := claims.ConstructEvent(body, claims.Sign(testKey, body, time.Now()), testKey); err != nil {
		t.Errorf("ConstructEvent now: %v", err)
	}
	if _, err := claims.ConstructEvent(body, claims.Sign(testKey, body, t0), testKey); !errors.Is(err, claims.ErrTooOld) {
		t.Errorf("ConstructEvent of 2023: %v, want ErrTooOld", err)
	}
}

func TestDecodeKey(t *testing.T) {
	for _, s := range []string{
		"a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s=", // standard, padded
		"a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s",  // unpadded
		"  a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s=\n",
	} {
		k, err := claims.DecodeKey(s)
		if err != nil || !bytes.Equal(k, testKey) {
			t.Errorf("DecodeKey(%q) = %q, %v", s, k, err)
		}
	}
	if _, err := claims.DecodeKey("c2hvcnQ="); err == nil || !strings.Contains(err.Error(), "5 bytes") {
		t.Errorf("short secret: %v", err)
	}
	if _, err := claims.DecodeKey("not base64 at all!"); err == nil || strings.Contains(err.Error(), "at all") {
		t.Errorf("bad secret: %v (must not echo it)", err)
	}
}
