package wechat_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"

	"github.com/wxlogin/wxlogin/wechat"
)

const fzODAppID = "wxfuzzopendata00"

// FuzzOpenDataRoundTrip encrypts any plaintext with any session_key and
// iv the way WeChat does (AES-128-CBC, PKCS#7) and checks DecryptOpenData
// against the specification: a JSON object whose watermark.appid is the
// AppID comes back byte for byte (less surrounding space); one for
// another AppID is ErrWatermark; anything else is ErrOpenDataContent,
// never a padding error, since the padding is right. With sign set, the
// user-info signature is added, and a wrong one is ErrSignature.
func FuzzOpenDataRoundTrip(f *testing.F) {
	for _, pt := range []string{
		`{"openId":"oABC","nickName":"Band","watermark":{"appid":"` + fzODAppID + `","timestamp":1700000000}}`,
		`{"openGId":"G1","watermark":{"appid":"wxsomeoneelse0000","timestamp":1}}`,
		` {"watermark":{"appid":"` + fzODAppID + `"}} `,
		`{"watermark":null}`, `{"watermark":"x"}`, `{}`, `[]`, `null`, ``, "\x00\x01", `{"a":1`,
		`{"stepInfoList":[{"timestamp":1,"step":100}],"watermark":{"appid":"` + fzODAppID + `","timestamp":2}}`,
	} {
		f.Add([]byte(pt), []byte("0123456789abcdef"), []byte("fedcba9876543210"), false, false)
	}
	f.Add([]byte(`{"watermark":{"appid":"`+fzODAppID+`"}}`), []byte{}, []byte{0}, true, false)
	f.Add([]byte(`{"watermark":{"appid":"`+fzODAppID+`"}}`), []byte("k"), []byte("iv"), true, true)
	f.Fuzz(func(t *testing.T, plaintext, key, iv []byte, sign, badSig bool) {
		key, iv = fit16(key), fit16(iv)
		sessionKey := base64.StdEncoding.EncodeToString(key)
		d := wechat.OpenData{EncryptedData: fzEncrypt(t, key, iv, plaintext), IV: base64.StdEncoding.EncodeToString(iv)}
		if sign {
			d.RawData = string(plaintext)
			sum := sha1.Sum(append([]byte(d.RawData), sessionKey...))
			if badSig {
				sum[0] ^= 1
			}
			d.Signature = hex.EncodeToString(sum[:])
		}
		got, err := wechat.DecryptOpenData(fzODAppID, sessionKey, d)

		var want error
		var doc struct {
			Watermark *struct {
				AppID     string `json:"appid"`
				Timestamp int64  `json:"timestamp"`
			} `json:"watermark"`
		}
		trimmed := bytes.TrimSpace(plaintext)
		switch {
		case sign && (d.RawData == "" || badSig):
			want = wechat.ErrSignature
		case len(trimmed) == 0 || trimmed[0] != '{' || json.Unmarshal(trimmed, &doc) != nil || doc.Watermark == nil:
			want = wechat.ErrOpenDataContent
		case doc.Watermark.AppID != fzODAppID:
			want = wechat.ErrWatermark
		}
		if want != nil {
			if !errors.Is(err, want) || !errors.Is(err, wechat.ErrOpenData) {
				t.Fatalf("DecryptOpenData(%q) = %q, %v; want %v", plaintext, got, err, want)
			}
			return
		}
		if err != nil || !bytes.Equal(got, trimmed) {
			t.Fatalf("DecryptOpenData(%q) = %q, %v; want it back", plaintext, got, err)
		}
	})
}

// fit16 makes b 16 bytes long, as AES-128 keys and CBC ivs are.
func fit16(b []byte) []byte {
	out := make([]byte, aes.BlockSize)
	copy(out, b)
	return out
}

// fzEncrypt is WeChat's side: PKCS#7, AES-128-CBC, base64.
func fzEncrypt(t *testing.T, key, iv, plaintext []byte) string {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	n := aes.BlockSize - len(plaintext)%aes.BlockSize
	padded := append(bytes.Clone(plaintext), bytes.Repeat([]byte{byte(n)}, n)...)
	ct := make([]byte, len(padded))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, padded)
	return base64.StdEncoding.EncodeToString(ct)
}
