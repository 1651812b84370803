package signature

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// layoutSeeds are JSON bodies in several layouts, and the bodies under
// testdata.
func layoutSeeds(t testing.TB) [][]byte {
	seeds := [][]byte{
		[]byte(`{}`), []byte(`[]`), []byte(` { "a" : [ 1 , { } , [ ] , "x\"}{,:" , null ] , "b" : { "c" : true } } `),
		[]byte("{\n  \"text\": \"<at>bot</at> a\\\\b\\/c \\u003c\",\n  \"n\": -1.5e3\n}\r\n"),
		[]byte(`"just a string"`), []byte(`[[[{"a":{"b":[]}}]]]`),
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "*.json"))
	more, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, f := range append(files, more...) {
		if b, err := os.ReadFile(f); err == nil {
			seeds = append(seeds, b)
		}
	}
	return seeds
}

// spacedRef is appendSpaced written byte by byte.
func spacedRef(compact []byte) []byte {
	var out []byte
	in, esc := false, false
	for _, c := range compact {
		out = append(out, c)
		switch {
		case in && esc:
			esc = false
		case in && c == '\\':
			esc = true
		case c == '"':
			in = !in
		case !in && (c == ',' || c == ':'):
			out = append(out, ' ')
		}
	}
	return out
}

func checkLayouts(t *testing.T, body []byte) {
	if got, want := appendSpaced(nil, body), spacedRef(body); !bytes.Equal(got, want) {
		t.Fatalf("appendSpaced(%q) = %q, want %q", body, got, want)
	}
	var want bytes.Buffer
	if json.Compact(&want, body) != nil {
		return // not JSON: encoding/json writes no layout
	}
	c := appendCompact(nil, body)
	if !bytes.Equal(c, want.Bytes()) {
		t.Fatalf("appendCompact(%q) = %q, want %q", body, c, want.Bytes())
	}
	for _, indent := range []string{"  ", "    "} {
		var w bytes.Buffer
		if err := json.Indent(&w, c, "", indent); err != nil {
			t.Fatal(err)
		}
		if got := appendIndented(nil, c, indent); !bytes.Equal(got, w.Bytes()) {
			t.Fatalf("appendIndented(%q, %q) = %q, want %q", c, indent, got, w.Bytes())
		}
	}
}

// TestLayoutsAreEncodingJSONs: the hand-written layouts of the re-encoding
// check are byte for byte json.Compact's and json.Indent's.
func TestLayoutsAreEncodingJSONs(t *testing.T) {
	for _, b := range layoutSeeds(t) {
		checkLayouts(t, b)
	}
}

func FuzzLayouts(f *testing.F) {
	for _, b := range layoutSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkLayouts(t, body)
		// Anything else is laid out without a panic.
		_ = appendIndented(nil, appendCompact(nil, body), "  ")
	})
}
