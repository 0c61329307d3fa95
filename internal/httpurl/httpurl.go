// Package httpurl checks URLs a server is configured to call or to be.
package httpurl

import (
	"errors"
	"net/url"
)

// Parse parses s as an absolute http or https URL with a host. Its
// errors say which of these s is not, and never quote s: it may hold
// credentials.
func Parse(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, errors.New("does not parse")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New("is not http or https")
	case u.Host == "":
		return nil, errors.New("has no host")
	}
	return u, nil
}
