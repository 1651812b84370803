// Package changetest holds helpers for the fuzz targets of the decoders
// (pkg/change and the sender adapters): properties such as "no error message
// quotes the input" need the input's strings. Tests only; it imports no
// enrollhook package.
package changetest

import "encoding/json"

// Strings returns every string of a JSON body, object keys included; nil
// when body is not JSON.
func Strings(body []byte) []string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return nil
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case map[string]any:
			for k, e := range x {
				out = append(out, k)
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}
