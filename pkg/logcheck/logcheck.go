// Package logcheck is the test-suite's secret sink: a writer every test log
// goes through, which reports a log line holding a configured secret or an
// issued token. Tests use it from a TestMain (pkg/webhook,
// functions/webhook); nothing in the function imports it.
package logcheck

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"unicode"
)

// maxKept bounds what the sink keeps for the token check at Err.
const maxKept = 256 << 20

// Sink is an io.Writer that checks what is written against the secrets.
// It is safe for concurrent use.
type Sink struct {
	mu      sync.Mutex
	secrets []string
	tokens  []func() []string
	kept    bytes.Buffer
	dropped bool
	leaks   []string
}

// NewSink returns an empty sink.
func NewSink() *Sink { return &Sink{} }

// Secrets registers secrets; each is also checked in the spellings a log
// could carry it: without a whsec_ or basic: prefix, each colon-separated
// part of a basic: value, and base64-decoded when that decodes to text.
func (s *Sink) Secrets(secrets ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sec := range secrets {
		s.secrets = append(s.secrets, Forms(sec)...)
	}
}

// secretEnv matches the environment entries (NAME=value) whose value is a
// secret: ENROLLHOOK_*SECRET*, *PASSWORD*, *TOKEN* and *CREDENTIALS*.
var secretEnv = regexp.MustCompile(`^ENROLLHOOK_[A-Z_]*(SECRET|PASSWORD|TOKEN|CREDENTIALS)[A-Z_]*=`)

// EnvSecrets registers, as Secrets does, the secret values of env (NAME=value,
// the environment a test gives a function): those of the ENROLLHOOK_
// variables whose name holds SECRET, PASSWORD, TOKEN or CREDENTIALS.
func (s *Sink) EnvSecrets(env []string) {
	for _, kv := range env {
		if secretEnv.MatchString(kv) {
			if _, v, _ := strings.Cut(kv, "="); v != "" {
				s.Secrets(v)
			}
		}
	}
}

// Tokens registers a source of tokens issued during the run (e.g.
// graphemu.Server.IssuedTokens), checked against everything written when
// Err is called.
func (s *Sink) Tokens(fn func() []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = append(s.tokens, fn)
}

// Run runs m's tests with slog.Default writing JSON through s, and returns
// their exit code, or 1 when a line leaked (the report goes to stderr): a
// package's TestMain is os.Exit(sink.Run(m)) after registering its secrets.
func (s *Sink) Run(m *testing.M) int {
	slog.SetDefault(slog.New(slog.NewJSONHandler(s, nil)))
	code := m.Run()
	if err := s.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	return code
}

// Logger returns a JSON logger whose lines go to w and through s, for a
// test that reads its own logs.
func (s *Sink) Logger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(io.MultiWriter(w, s), nil))
}

// Forms are the spellings of secret that are checked.
func Forms(secret string) []string {
	var out []string
	add := func(f string) {
		if len(f) >= 6 { // shorter values are not secrets worth matching
			out = append(out, f)
		}
	}
	add(secret)
	bare := strings.TrimPrefix(secret, "whsec_")
	if bare != secret {
		add(bare)
	}
	if rest, ok := strings.CutPrefix(secret, "basic:"); ok {
		// basic:user:password: the password and each part of it
		if _, pw, ok := strings.Cut(rest, ":"); ok {
			add(pw)
			for _, p := range strings.Split(pw, ":") {
				add(p)
			}
		}
	}
	if b, err := base64.StdEncoding.DecodeString(bare); err == nil && printable(b) {
		add(string(b))
	}
	return out
}

func printable(b []byte) bool {
	for _, r := range string(b) {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return len(b) > 0
}

// Write checks p, one or more log lines, against the secrets.
func (s *Sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, sec := range s.secrets {
		if bytes.Contains(p, []byte(sec)) {
			s.leaks = append(s.leaks, fmt.Sprintf("configured secret #%d (%d characters) in a log line with msg %s", i, len(sec), msgOf(p)))
		}
	}
	if s.kept.Len()+len(p) <= maxKept {
		s.kept.Write(p)
	} else {
		s.dropped = true
	}
	return len(p), nil
}

var msgRe = regexp.MustCompile(`"msg":("(?:[^"\\]|\\.)*")|msg=("(?:[^"\\]|\\.)*"|\S+)`)

// msgOf names the line without quoting it (it holds the secret).
func msgOf(p []byte) string {
	m := msgRe.FindSubmatch(p)
	switch {
	case m == nil:
		return "(none)"
	case len(m[1]) > 0:
		return string(m[1])
	default:
		return string(m[2])
	}
}

// Err reports every leak seen, and the issued tokens found in what was
// written; it never quotes a secret.
func (s *Sink) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	leaks := append([]string(nil), s.leaks...)
	for _, fn := range s.tokens {
		for _, tok := range fn() {
			if len(tok) >= 6 && bytes.Contains(s.kept.Bytes(), []byte(tok)) {
				leaks = append(leaks, fmt.Sprintf("an issued token (%d characters) in the logs", len(tok)))
			}
		}
	}
	if s.dropped {
		leaks = append(leaks, fmt.Sprintf("more than %d bytes logged: tokens were checked in the first part only", maxKept))
	}
	if len(leaks) == 0 {
		return nil
	}
	return errors.New("logcheck: secret leak in the test logs:\n  " + strings.Join(leaks, "\n  "))
}

// handlerRe finds a slog handler that writes somewhere; io.Discard and
// slog.DiscardHandler log nothing, so nothing can leak through them.
var handlerRe = regexp.MustCompile(`slog\.New(JSON|Text)Handler\(`)

// Rule is a pattern a test file must not use, and what to use instead.
type Rule struct {
	Re   *regexp.Regexp
	Hint string
}

// RequireSink fails t for each line of a *_test.go file in dir (but
// allowed) that builds a writing log handler itself instead of the
// package's sink-backed test logger, or matches one of rules.
func RequireSink(t testing.TB, dir string, allowed string, rules ...Rule) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files in %s: %v", dir, err)
	}
	for _, f := range files {
		if filepath.Base(f) == allowed {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			for _, loc := range handlerRe.FindAllStringIndex(line, -1) {
				if !strings.HasPrefix(line[loc[1]:], "io.Discard") {
					t.Errorf("%s:%d: a log handler that skips the secret check; use testLogger(w)", filepath.Base(f), n)
				}
			}
			for _, r := range rules {
				if r.Re.MatchString(line) {
					t.Errorf("%s:%d: %s", filepath.Base(f), n, r.Hint)
				}
			}
		}
	}
}
