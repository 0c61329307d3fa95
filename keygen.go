package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/wxlogin/wxlogin/token"
)

// runKeygen prints a fresh signing key and session-key secret as env
// lines. By default the PEM is written on one line with \n escapes, a
// form that Docker's --env-file and Kubernetes' --from-env-file hold and
// wxlogin reads back, but that a shell cannot source (the PEM's spaces
// split it, and the shell eats the backslashes). With -shell every value
// is single-quoted and the PEM keeps its line breaks, so that
// `set -a; . ./wxlogin.env; set +a` exports it unchanged.
func runKeygen(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("wxlogin keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ed := fs.Bool("ed25519", false, "make an Ed25519 (EdDSA) key instead of EC P-256 (ES256)")
	shell := fs.Bool("shell", false, "print shell-quoted lines, for `set -a; . ./wxlogin.env; set +a`, instead of Docker --env-file lines")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: wxlogin keygen [-ed25519] [-shell] > wxlogin.env")
		fmt.Fprintln(stderr, "Prints WXLOGIN_SIGNING_KEY and WXLOGIN_SESSION_KEY_SECRET lines, and the new key's public half as a comment.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("keygen: unexpected argument %q", fs.Arg(0))
	}
	alg := token.ES256
	if *ed {
		alg = token.EdDSA
	}
	keyPEM, err := token.GenerateKey(alg)
	if err != nil {
		return err
	}
	signer, _, err := token.ParsePrivateKey(keyPEM)
	if err != nil {
		return err
	}
	pubPEM, err := token.EncodePublicKey(signer.Public())
	if err != nil {
		return err
	}
	k, err := token.NewKey(signer.Public())
	if err != nil {
		return err
	}
	secret := make([]byte, token.SecretSize)
	if _, err := rand.Read(secret); err != nil {
		return err
	}
	oneLine := func(b []byte) string { return strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", `\n`) }
	value := oneLine
	if *shell {
		value = func(b []byte) string { return shellQuote(strings.TrimSpace(string(b))) }
	}
	fmt.Fprintf(stdout, "# %s signing key, kid %s\n", alg, k.KID)
	fmt.Fprintf(stdout, "# its public key, for WXLOGIN_VERIFY_KEYS during a rotation: %s\n", oneLine(pubPEM))
	fmt.Fprintf(stdout, "WXLOGIN_SIGNING_KEY=%s\n", value(keyPEM))
	fmt.Fprintf(stdout, "WXLOGIN_SESSION_KEY_SECRET=%s\n", value([]byte(base64.StdEncoding.EncodeToString(secret))))
	return nil
}

// shellQuote quotes s for a POSIX shell: single quotes keep everything,
// line breaks included; a single quote inside ends the quoting, is
// escaped with a backslash, and starts it again.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
