package roundtrip

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
)

var (
	errTimeout     = errors.New("x: timeout")
	errUnavailable = errors.New("x: unavailable")
)

func TestFailure(t *testing.T) {
	expired, cancel := context.WithTimeout(context.Background(), -1)
	defer cancel()
	canceled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	refused := &url.Error{Op: "Post", URL: "https://api.example.com/?secret=hunter2", Err: errors.New("connection refused")}
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		err    error
		result string
		is     []error
		msg    string
	}{
		{"deadline of the call", expired, refused, "timeout", []error{errTimeout}, "x: timeout: api: no answer in time"},
		{"deadline of the client", context.Background(), &url.Error{Err: context.DeadlineExceeded}, "timeout", []error{errTimeout}, "x: timeout: api: no answer in time"},
		{"canceled", canceled, refused, "canceled", []error{errUnavailable, context.Canceled}, "x: unavailable: api: context canceled"},
		{"refused", context.Background(), refused, "unavailable", []error{errUnavailable}, "x: unavailable: api: connection refused"},
	} {
		result, err := Failure(tc.ctx, tc.err, errTimeout, errUnavailable, "api: ")
		if result != tc.result || err.Error() != tc.msg {
			t.Errorf("%s: %q, %q; want %q, %q", tc.name, result, err, tc.result, tc.msg)
		}
		for _, target := range tc.is {
			if !errors.Is(err, target) {
				t.Errorf("%s: %v is not %v", tc.name, err, target)
			}
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error holds the URL: %v", tc.name, err)
		}
	}
}
