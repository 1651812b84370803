package changetest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Fixed is the product's own text: what a refusal may say whatever the
// input (the string literals of a package and of the packages of the
// module it imports, the words of their struct tags, and the names the
// test configures). A fuzz target asks Quotes whether a text it got back
// quotes the input, so that an input string that happens to be a piece of
// a fixed text (a key "user_nam" against "(email, user_name or sys_id)")
// is not taken for an echo, and no list of texts is kept by hand.
type Fixed struct {
	joined string          // every text between NUL bytes: "\x00a\x00b\x00"
	whole  map[string]bool // every text
}

func newFixed(joined string) *Fixed {
	f := &Fixed{joined: joined, whole: map[string]bool{}}
	for _, s := range strings.Split(joined, "\x00") {
		if s != "" {
			f.whole[s] = true
		}
	}
	return f
}

var (
	fixedOnce sync.Map // dir -> *Fixed
	verb      = regexp.MustCompile(`%[-+# 0-9.*]*[a-zA-Z%]`)
)

// FixedTexts returns the fixed texts of the package in dir (a test's
// working directory, "."): its non-test Go files and those of every
// package of the same module it imports, transitively; plus more, the
// names a test configures (field ids, statuses), which are the receiver's
// and not the input's. It panics when the sources cannot be read: a check
// without them would flag every fixed text.
func FixedTexts(dir string, more ...string) *Fixed {
	base := sourceTexts(dir)
	if len(more) == 0 {
		return base
	}
	var b strings.Builder
	b.WriteString(base.joined)
	for _, m := range more {
		b.WriteString(m)
		b.WriteByte(0)
	}
	return newFixed(b.String())
}

func sourceTexts(dir string) *Fixed {
	abs, err := filepath.Abs(dir)
	if err != nil {
		panic(err)
	}
	if f, ok := fixedOnce.Load(abs); ok {
		return f.(*Fixed)
	}
	root, module := moduleOf(abs)
	var b strings.Builder
	b.WriteByte(0)
	add := func(s string) {
		for _, piece := range strings.Split(verb.ReplaceAllString(s, "\x00"), "\x00") {
			if piece != "" {
				b.WriteString(piece)
				b.WriteByte(0)
			}
		}
	}
	seen := map[string]bool{}
	queue := []string{abs}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		if seen[d] {
			continue
		}
		seen[d] = true
		files, err := filepath.Glob(filepath.Join(d, "*.go"))
		if err != nil {
			panic(err)
		}
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			file, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.SkipObjectResolution)
			if err != nil {
				panic(err)
			}
			for _, imp := range file.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				if rest, ok := strings.CutPrefix(path, module+"/"); ok {
					queue = append(queue, filepath.Join(root, filepath.FromSlash(rest)))
				}
			}
			ast.Inspect(file, func(n ast.Node) bool {
				switch x := n.(type) {
				case *ast.ImportSpec:
					return false
				case *ast.Field:
					if x.Tag != nil {
						tag, _ := strconv.Unquote(x.Tag.Value)
						for _, w := range strings.FieldsFunc(tag, func(r rune) bool { return strings.ContainsRune("\" ,=:", r) }) {
							add(w)
						}
					}
				case *ast.BasicLit:
					if x.Kind == token.STRING || x.Kind == token.CHAR {
						if s, err := strconv.Unquote(x.Value); err == nil {
							add(s)
						}
					}
				}
				return true
			})
		}
	}
	f := newFixed(b.String())
	fixedOnce.Store(abs, f)
	return f
}

// moduleOf finds the module dir is in: its root and its path.
func moduleOf(dir string) (root, module string) {
	for d := dir; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if m, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
					return d, strings.TrimSpace(m)
				}
			}
			panic("go.mod without a module line in " + d)
		}
		if filepath.Dir(d) == d {
			panic("no go.mod above " + dir)
		}
	}
}

// Quotes returns the first string of inputs, of at least min bytes, that
// text contains where it is not the product's own text, and true; "" and
// false when text quotes none. A string counts as the product's own when
// it is part of one fixed text, or a run of them as the product joins
// them (the end of one, whole ones, the start of another: a list such as
// "allowed: configurationId, assignmentId").
func (f *Fixed) Quotes(text string, inputs []string, min int) (string, bool) {
	for _, v := range inputs {
		if len(v) >= min && strings.Contains(text, v) && !f.own(v) {
			return v, true
		}
	}
	return "", false
}

// own reports whether v is a piece of one fixed text or of a run of them.
func (f *Fixed) own(v string) bool {
	if strings.IndexByte(v, 0) >= 0 {
		return false
	}
	if strings.Contains(f.joined, v) {
		return true
	}
	n := len(v)
	// head[i]: v[:i] is the end of a fixed text followed by whole ones.
	head := make([]bool, n+1)
	for i := 1; i <= n; i++ {
		if strings.Contains(f.joined, v[:i]+"\x00") {
			head[i] = true
			continue
		}
		for j := 1; j < i; j++ {
			if head[j] && f.whole[v[j:i]] {
				head[i] = true
				break
			}
		}
	}
	for j := 1; j <= n; j++ {
		if head[j] && (j == n || strings.Contains(f.joined, "\x00"+v[j:])) {
			return true
		}
	}
	return false
}
