package source

import (
	"encoding/json"
	"unicode/utf8"
)

// Unquote reads a JSON string value, as the ITSM senders read the values
// their one parse kept raw: its bytes as they are when they need no
// unescaping, else through encoding/json: null reads as "", anything else
// that is not a string is refused.
func Unquote(raw []byte) (string, error) {
	if n := len(raw); n >= 2 && raw[0] == '"' && raw[n-1] == '"' {
		in := raw[1 : n-1]
		plain := utf8.Valid(in)
		for _, c := range in {
			plain = plain && c >= 0x20 && c != '\\' && c != '"'
		}
		if plain {
			return string(in), nil
		}
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}
