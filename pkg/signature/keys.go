package signature

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// ErrSecretSpelling: a base64 secret that decodes only when read leniently
// (non-zero padding bits, a missing '=', the URL-safe alphabet). It is not
// the value as it was issued, and lenient decoders map several such
// spellings onto one key, so a check that compares spellings can be
// walked around. errors.Is(ErrSecretSpelling, ErrSecret) is true.
var ErrSecretSpelling = fmt.Errorf("%w: base64 is not in its canonical spelling", ErrSecret)

// minKey is the shortest decoded key accepted, in bytes.
const minKey = 16

// decodeKey decodes a base64 key strictly: standard alphabet, '=' padding,
// zero padding bits, so that one key has exactly one spelling (line
// breaks, which the standard decoder skips, aside). Errors: ErrSecretSpelling
// when only a lenient reading decodes it, ErrSecret otherwise (not base64,
// or shorter than minKey bytes).
func decodeKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		if LooseKey(s) != nil {
			return nil, ErrSecretSpelling
		}
		return nil, ErrSecret
	}
	if len(key) < minKey {
		return nil, ErrSecret
	}
	return key, nil
}

// LooseKey decodes s as the most lenient base64 reader would: white space
// anywhere ignored, padding optional, padding bits ignored, the URL-safe
// alphabet taken as the standard one. It returns nil when even that fails.
// It serves to recognise every spelling of a published key (a sender's
// IsDevelopmentSecret), never to read a key that verifies anything.
func LooseKey(s string) []byte {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n', '\v', '\f':
			return -1
		case '-':
			return '+'
		case '_':
			return '/'
		}
		return r
	}, s)
	key, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil || len(key) == 0 {
		return nil
	}
	return key
}
