package wechat

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrOpenData is the umbrella of every reason open data is refused. The
// specific errors below all wrap it, so errors.Is(err, ErrOpenData) tells
// a refusal of the data from any other failure.
var ErrOpenData = errors.New("wechat: open data refused")

// Reasons open data is refused. Each wraps ErrOpenData.
var (
	// ErrOpenDataEncoding: encryptedData, iv or signature is not valid
	// base64 (hex for the signature); the caller changed e.detail.
	ErrOpenDataEncoding = fmt.Errorf("%w: encryptedData, iv or signature is not validly encoded", ErrOpenData)
	// ErrOpenDataIV: the iv does not decode to 16 bytes.
	ErrOpenDataIV = fmt.Errorf("%w: iv is not 16 bytes", ErrOpenData)
	// ErrOpenDataLength: encryptedData is empty or not a whole number of
	// AES blocks.
	ErrOpenDataLength = fmt.Errorf("%w: encryptedData is not a whole number of AES blocks", ErrOpenData)
	// ErrSessionKey: the session_key is not base64 of 16 bytes.
	ErrSessionKey = fmt.Errorf("%w: session_key is not base64 of 16 bytes", ErrOpenData)
	// ErrOpenDataPadding: the PKCS#7 padding is wrong after decryption.
	// Almost always the data was encrypted with another session_key: a
	// later wx.login replaced the one this server holds.
	ErrOpenDataPadding = fmt.Errorf("%w: bad PKCS#7 padding (wrong session_key?)", ErrOpenData)
	// ErrOpenDataContent: the plaintext is not a JSON object with a
	// watermark. Like a padding error, this means a wrong session_key.
	ErrOpenDataContent = fmt.Errorf("%w: plaintext is not a JSON object with a watermark (wrong session_key?)", ErrOpenData)
	// ErrWatermark: watermark.appid names another mini program.
	ErrWatermark = fmt.Errorf("%w: watermark.appid is another mini program's", ErrOpenData)
	// ErrSignature: signature is not sha1(rawData + session_key): rawData
	// was altered, or it was signed with another session_key.
	ErrSignature = fmt.Errorf("%w: signature does not match rawData and session_key", ErrOpenData)
)

// OpenData is what a WeChat open-data callback hands the mini program in
// e.detail (wx.getUserInfo, getShareInfo, getWeRunData…). RawData and
// Signature come with user info only.
type OpenData struct {
	EncryptedData string // base64 of the AES-128-CBC ciphertext
	IV            string // base64 of the 16-byte iv
	RawData       string // the plaintext user info that Signature signs
	Signature     string // hex sha1(RawData + session_key)
}

// Watermark is the stamp WeChat puts in every open-data plaintext.
type Watermark struct {
	AppID     string `json:"appid"`
	Timestamp int64  `json:"timestamp"`
}

// DecryptOpenData decrypts d with the user's session_key as WeChat
// specifies (https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/signature.html)
// and returns the plaintext JSON object unchanged. It enforces every check
// WeChat defines: key and iv of 16 bytes, strict PKCS#7 padding, a JSON
// object whose watermark.appid is appID, and, when d carries RawData or
// Signature, signature == sha1(RawData + sessionKey) (compared in
// constant time). Errors wrap ErrOpenData and never hold the key or data.
func DecryptOpenData(appID, sessionKey string, d OpenData) (json.RawMessage, error) {
	key, err := base64.StdEncoding.DecodeString(sessionKey)
	if err != nil || len(key) != aes.BlockSize {
		return nil, ErrSessionKey
	}
	if d.RawData != "" || d.Signature != "" {
		if err := VerifySignature(d.RawData, d.Signature, sessionKey); err != nil {
			return nil, err
		}
	}
	ct, err := base64.StdEncoding.DecodeString(d.EncryptedData)
	if err != nil {
		return nil, ErrOpenDataEncoding
	}
	iv, err := base64.StdEncoding.DecodeString(d.IV)
	if err != nil {
		return nil, ErrOpenDataEncoding
	}
	if len(iv) != aes.BlockSize {
		return nil, ErrOpenDataIV
	}
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, ErrOpenDataLength
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, ErrSessionKey
	}
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(pt, ct)
	pt, ok := unpad(pt)
	if !ok {
		return nil, ErrOpenDataPadding
	}
	var doc struct {
		Watermark *Watermark `json:"watermark"`
	}
	if pt = bytes.TrimSpace(pt); len(pt) == 0 || pt[0] != '{' || json.Unmarshal(pt, &doc) != nil || doc.Watermark == nil {
		return nil, ErrOpenDataContent
	}
	if doc.Watermark.AppID != appID {
		return nil, ErrWatermark
	}
	return json.RawMessage(pt), nil
}

// unpad strips PKCS#7 padding, checking every padding byte.
func unpad(b []byte) ([]byte, bool) {
	if len(b) == 0 || len(b)%aes.BlockSize != 0 {
		return nil, false
	}
	n := int(b[len(b)-1])
	if n == 0 || n > aes.BlockSize {
		return nil, false
	}
	for _, c := range b[len(b)-n:] {
		if int(c) != n {
			return nil, false
		}
	}
	return b[:len(b)-n], true
}

// VerifySignature checks WeChat's user-info signature: signature must be
// the hex sha1 of rawData followed by the session_key (as the base64 text
// WeChat handed out). Both must be present. The comparison takes constant
// time. It fails with ErrSignature, or ErrOpenDataEncoding when signature
// is not hex.
func VerifySignature(rawData, signature, sessionKey string) error {
	if rawData == "" || signature == "" {
		return ErrSignature
	}
	got, err := hex.DecodeString(signature)
	if err != nil {
		return ErrOpenDataEncoding
	}
	h := sha1.New()
	h.Write([]byte(rawData))
	h.Write([]byte(sessionKey))
	if subtle.ConstantTimeCompare(got, h.Sum(nil)) != 1 {
		return ErrSignature
	}
	return nil
}

// SessionSignature is WeChat's user login-state signature: hex
// HMAC-SHA256 keyed by the session_key (the base64 text itself, not its
// decoded bytes) over payload, which is empty for GET APIs such as
// /wxa/checksession.
func SessionSignature(sessionKey string, payload []byte) string {
	m := hmac.New(sha256.New, []byte(sessionKey))
	m.Write(payload)
	return hex.EncodeToString(m.Sum(nil))
}
