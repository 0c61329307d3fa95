package wechat_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/wxlogin/wxlogin/wechat"
)

// WeChat's published open-data sample: wx.getUserInfo's encryptedData for
// AppID wx4f4bc4dec97d474b, from the "signature and decryption" page of
// the Mini Program docs and the demo code WeChat ships with it.
const (
	sampleAppID         = "wx4f4bc4dec97d474b"
	sampleSessionKey    = "tiihtNczf5v6AKRyjwEUhQ=="
	sampleIV            = "r7BXXKkLb8qrSNn05n0qiA=="
	sampleEncryptedData = "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew=="
)

// WeChat's published signature example: rawData, the session_key, and
// sha1(rawData + session_key).
const (
	sigRawData    = `{"nickName":"Band","gender":1,"language":"zh_CN","city":"Guangzhou","province":"Guangdong","country":"CN","avatarUrl":"http://wx.qlogo.cn/mmopen/vi_32/1vZvI39NWFQ9XM4LtQpFrQJ1xlgZxx3w7bQxKARol6503Iuswjjn6nIGBiaycAjAtpujxyzYsrztuuICqIM5ibXQ/0"}`
	sigSessionKey = "HyVFkGl5F5OQWJZZaNzBBg=="
	sigSignature  = "75e81ceda165f4ffa64f4068af58c64b8f54b88c"
)

func TestDecryptOpenDataWeChatSample(t *testing.T) {
	plain, err := wechat.DecryptOpenData(sampleAppID, sampleSessionKey, wechat.OpenData{EncryptedData: sampleEncryptedData, IV: sampleIV})
	if err != nil {
		t.Fatalf("DecryptOpenData(sample) = %v, want the sample's user info", err)
	}
	var got struct {
		OpenID    string           `json:"openId"`
		NickName  string           `json:"nickName"`
		Gender    int              `json:"gender"`
		City      string           `json:"city"`
		UnionID   string           `json:"unionId"`
		Watermark wechat.Watermark `json:"watermark"`
	}
	if err := json.Unmarshal(plain, &got); err != nil {
		t.Fatalf("plaintext %s: %v", plain, err)
	}
	want := wechat.Watermark{AppID: sampleAppID, Timestamp: 1477314187}
	if got.OpenID != "oGZUI0egBJY1zhBYw2KhdUfwVJJE" || got.NickName != "Band" || got.Gender != 1 ||
		got.City != "Guangzhou" || got.UnionID != "ocMvos6NjeKLIBqg5Mr9QjxrP1FA" || got.Watermark != want {
		t.Errorf("sample decrypts to %+v", got)
	}

	// The same data presented to another mini program fails its watermark.
	_, err = wechat.DecryptOpenData("wx0000000000000000", sampleSessionKey, wechat.OpenData{EncryptedData: sampleEncryptedData, IV: sampleIV})
	if !errors.Is(err, wechat.ErrWatermark) {
		t.Errorf("sample for another AppID: err = %v, want ErrWatermark", err)
	}
}

func TestVerifySignatureWeChatSample(t *testing.T) {
	tests := []struct {
		name, raw, sig, sk string
		want               error
	}{
		{"published example", sigRawData, sigSignature, sigSessionKey, nil},
		{"upper-case hex", sigRawData, strings.ToUpper(sigSignature), sigSessionKey, nil},
		{"altered rawData", strings.Replace(sigRawData, "Band", "Bend", 1), sigSignature, sigSessionKey, wechat.ErrSignature},
		{"other session_key", sigRawData, sigSignature, sampleSessionKey, wechat.ErrSignature},
		{"truncated signature", sigRawData, sigSignature[:38], sigSessionKey, wechat.ErrSignature},
		{"not hex", sigRawData, "zz" + sigSignature[2:], sigSessionKey, wechat.ErrOpenDataEncoding},
		{"no signature", sigRawData, "", sigSessionKey, wechat.ErrSignature},
		{"no rawData", "", sigSignature, sigSessionKey, wechat.ErrSignature},
	}
	for _, tt := range tests {
		if err := wechat.VerifySignature(tt.raw, tt.sig, tt.sk); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%s: VerifySignature = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestSessionSignatureWeChatSample(t *testing.T) {
	// From WeChat's "user login-state signature" page: the key is the
	// session_key text itself, not its decoded bytes.
	got := wechat.SessionSignature("o0q0otL8aEzpcZL/FT9WsQ==", []byte(`{"foo":"bar"}`))
	if want := "654571f79995b2ce1e149e53c0a33dc39c0a74090db514261454e8dbe432aa0b"; got != want {
		t.Errorf("SessionSignature = %s, want %s", got, want)
	}
	// What several SDKs do, keying with the decoded bytes, does not match.
	raw, _ := base64.StdEncoding.DecodeString("o0q0otL8aEzpcZL/FT9WsQ==")
	mac := hmac.New(sha256.New, raw)
	mac.Write([]byte(`{"foo":"bar"}`))
	if wrong := hex.EncodeToString(mac.Sum(nil)); wrong == got {
		t.Errorf("the decoded-bytes key gives the same signature %s: the sample does not tell the two apart", wrong)
	}
}

// encryptRaw encrypts pt with AES-128-CBC as it is, padding included: the
// caller chooses the padding, so that bad padding can be made.
func encryptRaw(t *testing.T, sessionKey string, iv, pt []byte) string {
	t.Helper()
	key, _ := base64.StdEncoding.DecodeString(sessionKey)
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	ct := make([]byte, len(pt))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, pt)
	return base64.StdEncoding.EncodeToString(ct)
}

func pkcs7(b []byte) []byte {
	n := aes.BlockSize - len(b)%aes.BlockSize
	return append(b, bytes.Repeat([]byte{byte(n)}, n)...)
}

func TestDecryptOpenDataRefusals(t *testing.T) {
	const appID = "wx1111111111111111"
	sk := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	otherSK := base64.StdEncoding.EncodeToString([]byte("fedcba9876543210"))
	ivb := make([]byte, 16)
	rand.Read(ivb)
	iv := base64.StdEncoding.EncodeToString(ivb)
	good := []byte(`{"openGId":"G1","watermark":{"appid":"` + appID + `","timestamp":1700000000}}`)
	enc := func(pt []byte) string { return encryptRaw(t, sk, ivb, pt) }

	badPad := pkcs7(append([]byte{}, good...))
	badPad[len(badPad)-2] ^= 1 // the last byte still says n, one before it does not
	zeroPad := append(append([]byte{}, good...), make([]byte, 16-len(good)%16)...)
	bigPad := append(append([]byte{}, good...), bytes.Repeat([]byte{17}, 16-len(good)%16)...)

	tests := []struct {
		name string
		sk   string
		d    wechat.OpenData
		want error
	}{
		{"bad base64 data", sk, wechat.OpenData{EncryptedData: "not*base64", IV: iv}, wechat.ErrOpenDataEncoding},
		{"bad base64 iv", sk, wechat.OpenData{EncryptedData: enc(pkcs7(good)), IV: "%%%"}, wechat.ErrOpenDataEncoding},
		{"url-safe base64", sk, wechat.OpenData{EncryptedData: strings.NewReplacer("+", "-", "/", "_").Replace(enc(pkcs7(good))) + "-_", IV: iv}, wechat.ErrOpenDataEncoding},
		{"iv of 12 bytes", sk, wechat.OpenData{EncryptedData: enc(pkcs7(good)), IV: base64.StdEncoding.EncodeToString(ivb[:12])}, wechat.ErrOpenDataIV},
		{"iv of 24 bytes", sk, wechat.OpenData{EncryptedData: enc(pkcs7(good)), IV: base64.StdEncoding.EncodeToString(append(ivb, ivb[:8]...))}, wechat.ErrOpenDataIV},
		{"data not whole blocks", sk, wechat.OpenData{EncryptedData: base64.StdEncoding.EncodeToString(make([]byte, 20)), IV: iv}, wechat.ErrOpenDataLength},
		{"bad padding byte", sk, wechat.OpenData{EncryptedData: enc(badPad), IV: iv}, wechat.ErrOpenDataPadding},
		{"zero padding", sk, wechat.OpenData{EncryptedData: enc(zeroPad), IV: iv}, wechat.ErrOpenDataPadding},
		{"padding over a block", sk, wechat.OpenData{EncryptedData: enc(bigPad), IV: iv}, wechat.ErrOpenDataPadding},
		{"not JSON", sk, wechat.OpenData{EncryptedData: enc(pkcs7([]byte("hello, world"))), IV: iv}, wechat.ErrOpenDataContent},
		{"JSON array", sk, wechat.OpenData{EncryptedData: enc(pkcs7([]byte(`[{"watermark":{}}]`))), IV: iv}, wechat.ErrOpenDataContent},
		{"no watermark", sk, wechat.OpenData{EncryptedData: enc(pkcs7([]byte(`{"openGId":"G1"}`))), IV: iv}, wechat.ErrOpenDataContent},
		{"trailing data", sk, wechat.OpenData{EncryptedData: enc(pkcs7(append(append([]byte{}, good...), "{}"...))), IV: iv}, wechat.ErrOpenDataContent},
		{"watermark of another AppID", sk, wechat.OpenData{EncryptedData: enc(pkcs7(bytes.Replace(good, []byte(appID), []byte("wx2222222222222222"), 1))), IV: iv}, wechat.ErrWatermark},
		{"session_key not base64", "not a key", wechat.OpenData{EncryptedData: enc(pkcs7(good)), IV: iv}, wechat.ErrSessionKey},
		{"session_key of 24 bytes", base64.StdEncoding.EncodeToString(make([]byte, 24)), wechat.OpenData{EncryptedData: enc(pkcs7(good)), IV: iv}, wechat.ErrSessionKey},
		{"rawData without signature", sk, wechat.OpenData{EncryptedData: enc(pkcs7(good)), IV: iv, RawData: "{}"}, wechat.ErrSignature},
		{"signature over other rawData", sk, wechat.OpenData{EncryptedData: enc(pkcs7(good)), IV: iv, RawData: sigRawData, Signature: sigSignature}, wechat.ErrSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := wechat.DecryptOpenData(appID, tt.sk, tt.d)
			if !errors.Is(err, tt.want) || !errors.Is(err, wechat.ErrOpenData) {
				t.Fatalf("err = %v (plaintext %s), want %v", err, got, tt.want)
			}
			if got != nil {
				t.Errorf("plaintext %s returned with an error", got)
			}
		})
	}

	// The control: the same data decrypts when nothing is wrong.
	got, err := wechat.DecryptOpenData(appID, sk, wechat.OpenData{EncryptedData: enc(pkcs7(good)), IV: iv})
	if err != nil || !bytes.Equal(got, good) {
		t.Fatalf("good data: %s, %v; want %s", got, err, good)
	}

	// A wrong key (a later wx.login replaced it) nearly always breaks the
	// padding; when the garbage happens to end in valid padding, the JSON
	// check catches it. Either way it is never plaintext.
	for i := 0; i < 200; i++ {
		rand.Read(ivb)
		d := wechat.OpenData{EncryptedData: enc(pkcs7(good)), IV: base64.StdEncoding.EncodeToString(ivb)}
		_, err := wechat.DecryptOpenData(appID, otherSK, d)
		if !errors.Is(err, wechat.ErrOpenDataPadding) && !errors.Is(err, wechat.ErrOpenDataContent) {
			t.Fatalf("wrong key: err = %v, want a padding or content error", err)
		}
	}
}

func FuzzDecryptOpenData(f *testing.F) {
	f.Add(sampleEncryptedData, sampleIV, "", "")
	f.Add(sampleEncryptedData, sampleIV, sigRawData, sigSignature)
	f.Add("", "", "", "")
	f.Add("AAAAAAAAAAAAAAAAAAAAAA==", sampleIV, "x", "00")
	f.Fuzz(func(t *testing.T, data, iv, raw, sig string) {
		got, err := wechat.DecryptOpenData(sampleAppID, sampleSessionKey, wechat.OpenData{EncryptedData: data, IV: iv, RawData: raw, Signature: sig})
		if err != nil {
			if !errors.Is(err, wechat.ErrOpenData) {
				t.Fatalf("error %v does not wrap ErrOpenData", err)
			}
			return
		}
		var doc struct {
			Watermark struct {
				AppID string `json:"appid"`
			} `json:"watermark"`
		}
		if json.Unmarshal(got, &doc) != nil || doc.Watermark.AppID != sampleAppID {
			t.Fatalf("accepted %s", got)
		}
	})
}
