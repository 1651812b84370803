package change

// The two-pass DecodeTarget this package had before it read a target with
// the one-pass reader (shorthand.go), kept word for word as the oracle
// TestDecodeTargetMatchesOracle and FuzzDecodeTargetMatchesOracle compare
// DecodeTarget with: a scan for the "type" key, json.Unmarshal into the
// form it names, then a scan for unknown keys.

import (
	"bytes"
	"encoding/json"
	"errors"
)

// oracleShortKeys are the shorthand's properties as the old DecodeTarget
// spelled them.
var oracleShortKeys = []string{"type", "groupId", "collectionId", "targetType", "entraObjectId", "filterId", "filterType"}

// oracleDecodeTarget is the old DecodeTarget. It reads a target in shorthand form (an object with "type") or
// Graph form (with "@odata.type") from raw JSON and validates it. Field
// errors are JSON pointers under at; unknown properties are refused by
// name, values are never quoted. The returned target is normalized (Graph's
// '#' form). A nil *Options means the defaults.
func oracleDecodeTarget(raw []byte, at string, opts *Options) (*Target, []FieldError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, []FieldError{{Field: at, Reason: "is required: a shorthand target ({\"type\": \"group\", \"groupId\": …}) or a Graph target (with @odata.type)"}}
	}
	// Which form it is, from its keys: the one decode below reads it.
	object, short := oracleHasKey(raw, "type")
	if !object {
		return nil, []FieldError{{Field: at, Reason: "must be a JSON object"}}
	}
	if short {
		var s ShortTarget
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, []FieldError{oracleTypeError(err, at)}
		}
		var fields []FieldError
		for _, k := range unknownKeys(raw, oracleShortKeys) {
			fields = append(fields, unknownField(at, k, oracleShortKeys))
		}
		t, more := s.Target(at, opts)
		if fields = append(fields, more...); len(fields) > 0 {
			return nil, invalid(fields...).Fields
		}
		return t, nil
	}
	var t Target
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, []FieldError{oracleTypeError(err, at)}
	}
	var fields []FieldError
	for _, k := range unknownKeys(raw, targetKeys) {
		fields = append(fields, unknownField(at, k, targetKeys))
	}
	for _, f := range t.check(opts) {
		f.Field = at + f.Field
		fields = append(fields, f)
	}
	if len(fields) > 0 {
		return nil, invalid(fields...).Fields
	}
	t.ODataType = normalizeType(t.ODataType)
	return &t, nil
}

// oracleHasKey reports whether b is a JSON object, and whether it has the
// property name, compared as a map key is (exactly, once unescaped). Not
// JSON after the '{' shows up in the decode that follows.
func oracleHasKey(b []byte, name string) (object, has bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false, false
	}
	i++
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != '"' {
			return true, has
		}
		end := skipString(b, i)
		if end-1 <= i || b[end-1] != '"' {
			return true, has // an unterminated name: the decode refuses it
		}
		if key := b[i+1 : end-1]; string(key) == name {
			has = true
		} else if bytes.IndexByte(key, '\\') >= 0 {
			var k string
			if json.Unmarshal(b[i:end], &k) == nil && k == name {
				has = true
			}
		}
		i = skipSpace(b, skipValue(b, skipSpace(b, skipSpace(b, end)+1)))
		if i < len(b) && b[i] == ',' {
			i++
		}
	}
}

func oracleTypeError(err error, at string) FieldError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return FieldError{Field: at + jsonPathPointer(te.Field), Reason: "must be a " + jsonKind(te.Type)}
	}
	return FieldError{Field: at, Reason: "must be a JSON object"}
}
