package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

var yamlLine = regexp.MustCompile(`line (\d+)`)

// yamlToJSON turns a YAML policy into the JSON form Parse validates, so
// both formats have one set of rules. yaml.v3 already refuses a key given
// twice in one mapping.
func yamlToJSON(data []byte) ([]byte, error) {
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		// yaml.v3's messages can quote the document (a key, a value): say
		// where, not what.
		msg, where := err.Error(), ""
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			where = " (line " + m[1] + ")"
		}
		if strings.Contains(msg, "already defined") {
			return nil, errors.New("a key is given twice" + where)
		}
		return nil, errors.New("not valid YAML" + where)
	}
	v, err := jsonable(v, "")
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// jsonable converts what yaml.v3 decodes into values encoding/json takes:
// mappings must have string keys.
func jsonable(v any, at string) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			c, err := jsonable(e, at+"/"+safeKey(k))
			if err != nil {
				return nil, err
			}
			x[k] = c
		}
		return x, nil
	case map[any]any:
		return nil, fmt.Errorf("%s: keys must be strings", at)
	case []any:
		for i, e := range x {
			c, err := jsonable(e, fmt.Sprintf("%s/%d", at, i))
			if err != nil {
				return nil, err
			}
			x[i] = c
		}
		return x, nil
	}
	return v, nil
}

// noDuplicateKeys refuses a JSON object that names a key twice: encoding/json
// keeps the last silently, so a reviewer reading the first would see
// another policy.
func noDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var walk func(at string) error
	walk = func(at string) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				k, _ := kt.(string)
				if seen[k] {
					return fmt.Errorf("%s/%s: given twice", at, safeKey(k))
				}
				seen[k] = true
				if err := walk(at + "/" + safeKey(k)); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				if err := walk(fmt.Sprintf("%s/%d", at, i)); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		}
		return nil
	}
	err := walk("")
	var se *json.SyntaxError
	switch {
	case err == nil, errors.Is(err, io.EOF), errors.As(err, &se):
		// Syntax errors are reported by the decode that follows.
		return nil
	}
	return err
}
