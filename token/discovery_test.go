package token_test

import (
	"slices"
	"testing"

	"github.com/wxlogin/wxlogin/claims"
	"github.com/wxlogin/wxlogin/token"
)

// The discovery document names every claim wxlogin itself may put in a
// token: the reserved names, sk aside (opaque to everyone but wxlogin).
func TestDiscoveryClaimsSupported(t *testing.T) {
	got := token.NewDiscovery("https://login.example.com", nil).ClaimsSupported
	for _, name := range claims.Reserved() {
		if name != "sk" && !slices.Contains(got, name) {
			t.Errorf("claims_supported %v lacks %q", got, name)
		}
	}
	if slices.Contains(got, "sk") {
		t.Errorf("claims_supported %v names sk", got)
	}
}
