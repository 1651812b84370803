package signature

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// keyBytes is 32 bytes: its canonical base64 ends in one '=', so the last
// character carries two padding bits that a lenient reader ignores.
var keyBytes = []byte("enrollhook-keys-test-32-bytes-ok")

func TestKeysAreReadStrictly(t *testing.T) {
	canonical := base64.StdEncoding.EncodeToString(keyBytes)
	lenient := flipPaddingBit(canonical)
	urlSafe := strings.NewReplacer("+", "-", "/", "_").Replace(base64.StdEncoding.EncodeToString([]byte("key with ?>? and ~~~ for -_ chars")))
	if !strings.HasSuffix(canonical, "=") || lenient == canonical || !strings.ContainsAny(urlSafe, "-_") {
		t.Fatalf("test spellings do not test anything: %q %q %q", canonical, lenient, urlSafe)
	}
	tests := []struct {
		name, secret string
		want         error // nil: decodes to the key
	}{
		{"canonical", canonical, nil},
		{"surrounding space", " " + canonical + "\n", nil},
		{"line break inside", canonical[:20] + "\n" + canonical[20:], nil},
		{"non-zero padding bits", lenient, ErrSecretSpelling},
		{"no padding", strings.TrimRight(canonical, "="), ErrSecretSpelling},
		{"url-safe alphabet", urlSafe, ErrSecretSpelling},
		{"space inside", canonical[:20] + " " + canonical[20:], ErrSecretSpelling},
		{"not base64", "not base64 at all!", ErrSecret},
		{"too short", base64.StdEncoding.EncodeToString([]byte("short")), ErrSecret},
		{"empty", "", ErrSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, kind := range []struct {
				name string
				fn   func(string) ([]byte, error)
				in   string
			}{
				{"TeamsKey", TeamsKey, tt.secret},
				{"StandardKey", StandardKey, tt.secret},
				{"StandardKey whsec_", StandardKey, "whsec_" + strings.TrimSpace(tt.secret)},
			} {
				key, err := kind.fn(kind.in)
				switch {
				case tt.want == nil && (err != nil || !bytes.Equal(key, keyBytes)):
					t.Errorf("%s(%q) = %q, %v; want the key", kind.name, kind.in, key, err)
				case tt.want != nil && (!errors.Is(err, tt.want) || !errors.Is(err, ErrSecret) || key != nil):
					t.Errorf("%s(%q) = %q, %v; want %v", kind.name, kind.in, key, err, tt.want)
				case err != nil && strings.Contains(err.Error(), strings.TrimSpace(tt.secret)) && tt.secret != "":
					t.Errorf("%s(%q): the error quotes the secret: %v", kind.name, kind.in, err)
				}
			}
		})
	}
}

// flipPaddingBit returns s, canonical base64 ending in '=', with the last
// data character's lowest (padding) bit set.
func flipPaddingBit(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	end := strings.TrimRight(s, "=")
	last := strings.IndexByte(alphabet, end[len(end)-1])
	return end[:len(end)-1] + string(alphabet[last|1]) + s[len(end):]
}

func TestLooseKeyReadsEverySpelling(t *testing.T) {
	canonical := base64.StdEncoding.EncodeToString(keyBytes)
	for _, s := range []string{
		canonical,
		flipPaddingBit(canonical),
		strings.TrimRight(canonical, "="),
		strings.TrimRight(flipPaddingBit(canonical), "="),
		" " + canonical[:10] + "\t" + canonical[10:30] + " \r\n" + canonical[30:] + " ",
		strings.NewReplacer("+", "-", "/", "_").Replace(canonical),
	} {
		if got := LooseKey(s); !bytes.Equal(got, keyBytes) {
			t.Errorf("LooseKey(%q) = %q, want %q", s, got, keyBytes)
		}
	}
	for _, s := range []string{"", "=", "not base64!", "A"} {
		if got := LooseKey(s); got != nil {
			t.Errorf("LooseKey(%q) = %q, want nil", s, got)
		}
	}
}

// FuzzKey: a key is accepted in its canonical spelling only (line breaks
// aside), and what LooseKey reads of an accepted secret is the same key.
func FuzzKey(f *testing.F) {
	canonical := base64.StdEncoding.EncodeToString(keyBytes)
	f.Add(canonical)
	f.Add(flipPaddingBit(canonical))
	f.Add("whsec_" + canonical)
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		key, err := TeamsKey(s)
		if err != nil {
			if !errors.Is(err, ErrSecret) || key != nil {
				t.Fatalf("TeamsKey(%q) = %q, %v", s, key, err)
			}
			return
		}
		if len(key) < minKey {
			t.Fatalf("TeamsKey(%q) accepted %d bytes", s, len(key))
		}
		spelled := strings.NewReplacer("\r", "", "\n", "").Replace(strings.TrimSpace(s))
		if base64.StdEncoding.EncodeToString(key) != spelled {
			t.Fatalf("TeamsKey(%q) accepted a non-canonical spelling", s)
		}
		if !bytes.Equal(LooseKey(s), key) {
			t.Fatalf("LooseKey(%q) = %q, TeamsKey = %q", s, LooseKey(s), key)
		}
	})
}
