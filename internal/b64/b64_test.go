package b64

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"
)

func TestDecodeString(t *testing.T) {
	want := []byte{0xfb, 0xff, 0xfe, 0x01, 0x02} // + and / in standard base64
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		s := " " + enc.EncodeToString(want) + "\n"
		got, err := DecodeString(s)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("DecodeString(%q) = %x, %v; want %x", s, got, err, want)
		}
	}
	if _, err := DecodeString("not base64 at all!"); !errors.Is(err, ErrNotBase64) {
		t.Errorf("err = %v, want ErrNotBase64", err)
	}
}
