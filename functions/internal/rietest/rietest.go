// Package rietest runs a function's real bootstrap under the Lambda
// runtime interface emulator (RIE) for the tests of functions/webhook,
// functions/worker and functions/events: it finds the emulator
// (ENROLLHOOK_RIE; without it the tests are skipped, unless
// ENROLLHOOK_REQUIRE_RIE is set, as in CI), builds the bootstrap as
// `make build` does, starts the emulator on free loopback ports (again on
// others when one was taken meanwhile), collects the function's output,
// and gives the worker and the events function their delivery table on
// dynalite (pkg/awsapi/awsapitest).
//
// What is a package's own stays there: its secret sink (Options.Output,
// which every line of the function's output also goes to), its
// environment and its invoke helpers. It is a test helper: only _test.go
// files import it, and no function links it (functions/architecture_test.go).
package rietest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/enrollhook/enrollhook/pkg/awsapi/awsapitest"
	"github.com/enrollhook/enrollhook/pkg/preflight"
)

// Environment variables of the harness.
const (
	EnvRIE        = "ENROLLHOOK_RIE"
	EnvRequireRIE = "ENROLLHOOK_REQUIRE_RIE"
)

// Binary returns the runtime interface emulator named by ENROLLHOOK_RIE
// (make test installs it). Without it the test is skipped, unless
// ENROLLHOOK_REQUIRE_RIE is set, as in CI.
func Binary(t testing.TB) string {
	t.Helper()
	rie := os.Getenv(EnvRIE)
	if rie == "" {
		if os.Getenv(EnvRequireRIE) != "" {
			t.Fatalf("%s is not set but %s is: run `make test`", EnvRIE, EnvRequireRIE)
		}
		t.Skipf("%s not set; `make test` installs the runtime interface emulator", EnvRIE)
	}
	if _, err := os.Stat(rie); err != nil {
		t.Fatalf("%s: %v", EnvRIE, err)
	}
	return rie
}

// Bootstrap is a bootstrap built once per test binary (its zero value is
// ready to use).
type Bootstrap struct {
	once sync.Once
	path string
	err  error
}

// Build builds the main package pkg (".", "./testdata/floor") as `make
// build` builds a bootstrap, for this machine's architecture so that the
// emulator can run it, on the first call, and returns its path.
func (b *Bootstrap) Build(t testing.TB, pkg string) string {
	t.Helper()
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "enrollhook-bootstrap")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, "bootstrap")
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc,validator_novalidatefn", "-trimpath", "-ldflags=-s -w", "-o", b.path, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// freePorts returns two loopback addresses whose ports were free when
// chosen and were never handed out before in this process. The emulator
// binds its runtime API port only on the first invoke: a port closed and
// chosen again could otherwise go to two emulators (or be one emulator's
// invoke and runtime API port), and the one that binds it second panics.
// What is left: both ports are closed when they are returned, so another
// process, or a server of this one that chose its own port, can still take
// the runtime API port before the first invoke (rare: the kernel gave one of
// two just-closed ports back 2 times in 2000 tries here); the emulator
// then panics on that invoke, and the test fails with its output.
func freePorts(t testing.TB) (string, string) {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	var addrs [2]string
	for i := 0; i < len(addrs); {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close() // held open until both are chosen
		a := l.Addr().String()
		if handedOut.ports[a] {
			continue
		}
		handedOut.ports[a] = true
		addrs[i] = a
		i++
	}
	return addrs[0], addrs[1]
}

// handedOut is every address freePorts returned.
var handedOut = struct {
	sync.Mutex
	ports map[string]bool
}{ports: map[string]bool{}}

// Buffer collects the emulator's output (the function's logs); it is safe
// for concurrent use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// relayWait is how long Await waits for the function's output: the
// emulator relays the bootstrap's stdout and stderr through a pipe, so a
// line the function wrote before its invoke was answered (or before it
// exited) may reach the Buffer after the test saw the answer.
const relayWait = 5 * time.Second

// Await returns the output once ready holds for it, or the output as it
// stands after relayWait, for the caller's assertions to report. It never
// fails by itself: it only gives the relay time to deliver.
func (s *Buffer) Await(ready func(logs string) bool) string {
	deadline := time.Now().Add(relayWait)
	for {
		logs := s.String()
		if ready(logs) || time.Now().After(deadline) {
			return logs
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// AwaitAll is Await until the output contains every one of want.
func (s *Buffer) AwaitAll(want ...string) string {
	return s.Await(func(logs string) bool {
		for _, w := range want {
			if !strings.Contains(logs, w) {
				return false
			}
		}
		return true
	})
}

// AwaitCount is Await until the output contains want at least n times.
func (s *Buffer) AwaitCount(want string, n int) string {
	return s.Await(func(logs string) bool { return strings.Count(logs, want) >= n })
}

// Options are what a package gives Start.
type Options struct {
	// Name is the function's AWS_LAMBDA_FUNCTION_NAME.
	Name string
	// Env is added to the emulator's environment, after os.Environ and the
	// Lambda settings (timeout, name, region, JSON log format).
	Env []string
	// Output receives every line of the function's output besides
	// Func.Logs: the package's secret sink. Required.
	Output io.Writer
}

// Func is a bootstrap running under the emulator.
type Func struct {
	// URL is the emulator's invoke URL.
	URL string
	// Logs is the emulator's output so far.
	Logs *Buffer
	cmd  *exec.Cmd
	done chan struct{}
}

// Stop ends the emulator and the bootstrap it started; t's cleanup does
// too.
func (f *Func) Stop() {
	_ = f.cmd.Process.Kill()
	<-f.done
}

// Start runs bootstrap under the runtime interface emulator, bound to
// loopback, and stops it when t ends.
func Start(t testing.TB, bootstrap string, o Options) *Func {
	t.Helper()
	if o.Output == nil {
		t.Fatal("rietest.Start: no Output (the package's secret sink)")
	}
	// The ports are free when chosen, but another process (a test binary
	// running beside this one) may take one before the emulator binds it:
	// an emulator that exits before it listens is started again on others.
	for attempt := 1; ; attempt++ {
		f, exited := startOnce(t, bootstrap, o)
		if f != nil || attempt == 3 || !exited {
			if f == nil {
				t.Fatalf("runtime emulator did not listen")
			}
			return f
		}
	}
}

// startOnce starts the emulator on two free ports. It returns nil and
// exited when the emulator ended before it listened (a port taken in
// between), nil alone when it did not listen in time.
func startOnce(t testing.TB, bootstrap string, o Options) (f *Func, exited bool) {
	t.Helper()
	rie := Binary(t)
	addr, apiAddr := freePorts(t)
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", addr, "--runtime-api-address", apiAddr, bootstrap)
	cmd.Env = append(os.Environ(), "AWS_LAMBDA_FUNCTION_TIMEOUT=10", "AWS_LAMBDA_FUNCTION_NAME="+o.Name, "AWS_REGION=eu-west-1",
		"AWS_LAMBDA_LOG_FORMAT=JSON") // what template.yaml's LoggingConfig sets
	cmd.Env = append(cmd.Env, o.Env...)
	logs := &Buffer{}
	out := io.MultiWriter(logs, o.Output)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f = &Func{URL: "http://" + addr + "/2015-03-31/functions/function/invocations", Logs: logs, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(f.done) }()
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-f.done:
			t.Logf("runtime emulator exited before it listened (trying other ports):\n%s", logs.String())
			return nil, true
		default:
		}
		if time.Now().After(deadline) {
			f.Stop()
			t.Logf("runtime emulator did not listen on %s:\n%s", addr, logs.String())
			return nil, false
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Cleanup(func() {
		f.Stop()
		if t.Failed() {
			t.Logf("runtime emulator output:\n%s", logs.String())
		}
	})
	return f, false
}

// DeliveryTable creates an empty de-duplication table (hash key "id", as
// template.yaml's) on the test binary's dynalite (awsapitest.Start: the
// package's TestMain calls awsapitest.Stop) and returns the server's
// endpoint and the table's name. Without ENROLLHOOK_DYNALITE the test is
// skipped, unless ENROLLHOOK_REQUIRE_DYNALITE is set, as in CI.
func DeliveryTable(t testing.TB) (endpoint, table string) {
	t.Helper()
	d := awsapitest.Start(t)
	if d == nil {
		t.Skipf("%s not set; the function needs its table: `make test` installs dynalite", awsapitest.EnvDynalite)
	}
	table = d.CreateTable(t, dynamodb.CreateTableInput{
		TableName:            aws.String("enrollhook-deliveries"),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	return aws.ToString(d.SDK.Options().BaseEndpoint), table
}

// Preflight sends a function under the emulator at url the preflight's
// request for configurationID (an `aws lambda invoke` with an
// enrollhookCheck payload) and returns its answer.
func Preflight(t testing.TB, url, configurationID string) preflight.Result {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(`{"enrollhookCheck":{"configurationId":"`+configurationID+`"}}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res preflight.Result
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		t.Fatalf("preflight answer: %v", err)
	}
	return res
}

// PreflightReadyThenNot checks a function's preflight under the runtime
// emulator: ready (the credential first in its report), then, with the
// Graph permission taken away (revoke), not ready and naming it; restore
// gives the permission back.
func PreflightReadyThenNot(t testing.TB, url, configurationID string, revoke, restore func()) {
	t.Helper()
	if res := Preflight(t, url, configurationID); !res.Ready || len(res.Report) < 4 || !strings.HasPrefix(res.Report[0], "credential    ok") {
		t.Errorf("preflight = %+v", res)
	}
	revoke()
	defer restore()
	if res := Preflight(t, url, configurationID); res.Ready || !strings.Contains(strings.Join(res.Report, "\n"), "permission    FAIL") {
		t.Errorf("preflight without permission = %+v", res)
	}
}
