package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/enrollhook/enrollhook/functions/internal/rietest"
	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/graphemu"
	"github.com/enrollhook/enrollhook/pkg/source/generic"
)

// rieSecret is the secret the bootstrap under test is configured with; the
// samples in events/ are re-signed with it (and with the current time, since
// Standard Webhooks timestamps expire) before each invoke.
const rieSecret = "whsec_cmllLXRlc3Qtc2VjcmV0LW5vdC10aGUtZGV2LW9uZQ=="

// eventBridgeSample is the prefix of the samples in events/ that are
// EventBridge events for the events function, not API Gateway events for
// the webhook: functions/events' runtime-emulator test drives them.
const eventBridgeSample = "eventbridge-"

// rieExpect is what each file in events/ (but the EventBridge samples)
// must produce through the real bootstrap. A file missing here fails the
// test.
var rieExpect = map[string]struct {
	status  int
	problem string // problem type slug, or "" for success
	keepSig bool   // refresh the timestamp but keep the sample's (wrong) signature
}{
	"generic-approved.json":           {200, "", false},
	"generic-approved-base64.json":    {200, "", false},
	"generic-rejected.json":           {403, "not-approved", false},
	"generic-invalid-fields.json":     {422, "invalid-fields", false},
	"generic-bad-signature.json":      {401, "signature-mismatch", true},
	"generic-unknown-assignment.json": {404, "not-found", false},
	// The built-in policy refuses the wide targets (pkg/policy).
	"generic-wide-target.json": {403, "policy-wide-target", false},
	// A window that closed (pkg/policy, the change's own window).
	"generic-outside-window.json": {403, "outside-change-window", false},
	// The revert of CHG0030042, which generic-approved(-base64) applied
	// before it (the samples run in name order, in one warm function).
	"generic-revert.json": {200, "", false},

	"servicenow-approved.json":      {200, "", false},
	"servicenow-rejected.json":      {403, "not-approved", false},
	"servicenow-bad-signature.json": {401, "signature-mismatch", true},
	"jira-approved.json":            {200, "", false},
	"jira-envelope-approved.json":   {200, "", false},
	"jira-not-approved.json":        {403, "not-approved", false},
	"jira-bad-signature.json":       {401, "signature-mismatch", true},

	// Chat commands answer 200 with a message whatever the outcome
	// (rie_chat_test.go: rieChatReply says what each reply must say).
	"slack-assign.json":            {200, "", false},
	"slack-show.json":              {200, "", false},
	"slack-malformed-command.json": {200, "", false},
	"slack-not-allowed.json":       {200, "", false},
	"slack-bad-signature.json":     {401, "signature-mismatch", true},
	"teams-assign.json":            {200, "", false},
	"teams-help.json":              {200, "", false},
	"teams-not-allowed.json":       {200, "", false},
	"teams-bad-signature.json":     {401, "signature-mismatch", true},
}

var (
	// enrollhook is this function's bootstrap, built once per test binary.
	enrollhook = &rietest.Bootstrap{}
	// floor is testdata/floor, BenchmarkColdStart's floor; libsFloor is
	// testdata/libsfloor, the floor with enrollhook's required libraries.
	floor     = &rietest.Bootstrap{}
	libsFloor = &rietest.Bootstrap{}
)

// buildBootstrap builds the function exactly as `make build` does, for this
// machine's architecture so the emulator can run it.
func buildBootstrap(t testing.TB) string { return enrollhook.Build(t, ".") }

type rieFunc struct {
	url  string
	logs *rietest.Buffer
	f    *rietest.Func
	// invokes counts the invokes sent with invoke.
	invokes atomic.Int32
}

// stop ends the emulator and the bootstrap it started.
func (f *rieFunc) stop() { f.f.Stop() }

// startRIE runs the bootstrap under the runtime interface emulator, bound to
// loopback, with env added to the function's environment.
func startRIE(t testing.TB, env ...string) *rieFunc {
	t.Helper()
	return startRIEWith(t, buildBootstrap(t), withDeliveryTable(t, env)...)
}

// withDeliveryTable is env with a de-duplication table of its own on
// dynalite, as on Lambda, where the webhook does not start without one;
// env that names ENROLLHOOK_IDEMPOTENCY_TABLE (even empty) is left as it
// is.
func withDeliveryTable(t testing.TB, env []string) []string {
	t.Helper()
	for _, kv := range env {
		if strings.HasPrefix(kv, config.EnvIdempotency+"=") {
			return env
		}
	}
	rietest.Binary(t) // skipped without the emulator before dynalite starts
	endpoint, table := rietest.DeliveryTable(t)
	return append([]string{"AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local",
		config.EnvIdempotency + "=" + table, "AWS_ENDPOINT_URL_DYNAMODB=" + endpoint}, env...)
}

// startRIEWith is startRIE for another bootstrap. The function's output
// goes through the secret sink, which checks the secrets of env.
func startRIEWith(t testing.TB, bootstrap string, env ...string) *rieFunc {
	t.Helper()
	sink.EnvSecrets(env)
	f := rietest.Start(t, bootstrap, rietest.Options{Name: "enrollhook-webhook", Env: env, Output: sink})
	return &rieFunc{url: f.URL, logs: f.Logs, f: f}
}

func (f *rieFunc) invoke(t testing.TB, event []byte) events.APIGatewayV2HTTPResponse {
	t.Helper()
	f.invokes.Add(1)
	resp, err := http.Post(f.url, "application/json", bytes.NewReader(event))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(raw, &out); err != nil || out.StatusCode == 0 {
		t.Fatalf("invoke answered %d %q, not an API Gateway v2 response", resp.StatusCode, raw)
	}
	return out
}

// resign gives an events/ sample a fresh timestamp and a signature made
// with secret over its (decoded) body.
func resign(t testing.TB, raw []byte, secret string, keepSig bool) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	body := []byte(ev["body"].(string))
	if b64, _ := ev["isBase64Encoded"].(bool); b64 {
		var err error
		if body, err = base64.StdEncoding.DecodeString(string(body)); err != nil {
			t.Fatal(err)
		}
	}
	headers := ev["headers"].(map[string]any)
	if resignHub(ev, headers, body, keepSig) || resignChat(t, ev, headers, body, keepSig) { // rie_itsm_test.go, rie_chat_test.go
		out, _ := json.Marshal(ev)
		return out
	}
	h, err := generic.Sign(secret, headers["webhook-id"].(string), time.Now(), body)
	if err != nil {
		t.Fatal(err)
	}
	headers["webhook-timestamp"] = h.Get("webhook-timestamp")
	if !keepSig {
		headers["webhook-signature"] = h.Get("webhook-signature")
	}
	out, _ := json.Marshal(ev)
	return out
}

func emulatorEnv(emu *httptest.Server) []string {
	return []string{
		"ENROLLHOOK_GRAPH_URL=" + emu.URL + "/beta",
		"IDENTITY_ENDPOINT=" + emu.URL + graphemu.TokenPath,
		"IDENTITY_HEADER=" + graphemu.DefaultIdentityHeader,
	}
}

// TestBootstrapUnderRuntimeEmulator drives the real bootstrap with every
// sample in events/ and checks each answer, the Graph state behind it, that
// the managed-identity token was fetched once for all invokes, and that no
// secret or token reached the logs.
func TestBootstrapUnderRuntimeEmulator(t *testing.T) {
	emuState := newEmulator(nil)
	emu := httptest.NewServer(emuState)
	defer emu.Close()
	fn := startRIE(t, append(append(append(emulatorEnv(emu), "ENROLLHOOK_SECRET_GENERIC="+rieSecret), rieITSMEnv...), rieChatEnv...)...)

	files, err := filepath.Glob("../../events/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no events: %v", err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		if strings.HasPrefix(name, eventBridgeSample) {
			continue // functions/events' runtime-emulator test drives them
		}
		want, ok := rieExpect[name]
		if !ok {
			t.Errorf("%s has no expectation in rieExpect", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			raw = resign(t, raw, rieSecret, want.keepSig)
			resp := fn.invoke(t, raw)
			if resp.StatusCode != want.status {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, want.status, resp.Body)
			}
			var ev events.APIGatewayV2HTTPRequest
			_ = json.Unmarshal(raw, &ev)
			if got := resp.Headers["X-Request-Id"]; got != ev.RequestContext.RequestID {
				t.Errorf("X-Request-Id = %q, want the gateway's %q", got, ev.RequestContext.RequestID)
			}
			if want.problem == "" {
				if checkChatReply(t, ev, resp, emuState) { // rie_chat_test.go
					return
				}
				if resp.Headers["Content-Type"] != "application/json" || resp.Headers["X-Graph-Request-Id"] == "" {
					t.Errorf("headers = %v", resp.Headers)
				}
				var got, sent map[string]any
				if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
					t.Fatal(err)
				}
				body := ev.Body
				if ev.IsBase64Encoded {
					b, _ := base64.StdEncoding.DecodeString(body)
					body = string(b)
				}
				_ = json.Unmarshal(asEnvelope(t, ev.RawPath, []byte(body)), &sent)
				if sent["action"] == "revert" {
					checkRevertSample(t, got, emuState)
					return
				}
				asg := sent["assignmentId"].(string)
				cfg := sent["configurationId"].(string)
				if got["id"] != asg {
					t.Errorf("answer id = %v, want %s", got["id"], asg)
				}
				stored, ok := emuState.Assignment(cfg, asg)
				if !ok {
					t.Fatalf("assignment %s gone from the emulator", asg)
				}
				var storedM map[string]any
				_ = json.Unmarshal(stored, &storedM)
				wantTarget, _ := json.Marshal(sent["assignment"].(map[string]any)["target"])
				gotTarget, _ := json.Marshal(storedM["target"])
				if !sameTarget(t, wantTarget, gotTarget) {
					t.Errorf("Graph holds target %s, want %s", gotTarget, wantTarget)
				}
				if _, has := got["@odata.context"]; has {
					t.Errorf("answer carries Graph's @odata.context URL")
				}
				return
			}
			if resp.Headers["Content-Type"] != "application/problem+json" || !strings.Contains(resp.Body, `"urn:enrollhook:problem:`+want.problem+`"`) {
				t.Errorf("answer %v %s, want problem %s", resp.Headers, resp.Body, want.problem)
			}
		})
	}
	if n := emuState.TokenRequests(); n != 1 {
		t.Errorf("managed-identity token requests = %d, want 1 across all invokes", n)
	}
	// One "webhook" line per invoke (the request's log line).
	logs := fn.logs.AwaitCount(`"message":"webhook"`, int(fn.invokes.Load()))
	if n, want := strings.Count(logs, `"message":"webhook"`), int(fn.invokes.Load()); n != want {
		t.Errorf("%d webhook log lines for %d invokes", n, want)
	}
	for _, secret := range []string{rieSecret, strings.TrimPrefix(rieSecret, "whsec_"), "Bearer ", rieJiraSecret, rieSlackSecret, rieTeamsToken, "hooks.slack.com/commands"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the function's log contains %q", secret)
		}
	}
	for _, tok := range emuState.IssuedTokens() {
		if strings.Contains(logs, tok) {
			t.Errorf("the function's log contains an access token")
		}
	}
	// Every answered request left exactly one JSON audit line.
	lines := 0
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"message":"webhook"`) {
			lines++
		}
	}
	if lines != len(rieExpect) {
		t.Errorf("webhook log lines = %d, want %d (one per sample of the webhook)", lines, len(rieExpect))
	}
}

// sameTarget compares the requested target with the stored one, ignoring
// the '#' Graph adds and properties Graph fills in.
func sameTarget(t testing.TB, want, got []byte) bool {
	var w, g map[string]any
	_ = json.Unmarshal(want, &w)
	_ = json.Unmarshal(got, &g)
	for k, v := range w {
		if k == "@odata.type" {
			if strings.TrimPrefix(v.(string), "#") != strings.TrimPrefix(g[k].(string), "#") {
				return false
			}
			continue
		}
		if g[k] != v {
			return false
		}
	}
	return true
}

// TestColdStartFetchesTheToken: the bootstrap fetches its Graph token at
// cold start, in the background, and opens its connection to Graph, so that
// the first change waits for neither: a cold start whose first delivery is
// refused on its signature (which never reaches Graph) has fetched the
// token all the same, once, and holds a connection to Graph that carried
// no request.
func TestColdStartFetchesTheToken(t *testing.T) {
	emuState := newEmulator(nil)
	var mu sync.Mutex
	accepted, used := map[string]bool{}, map[string]bool{}
	emu := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		used[r.RemoteAddr] = true
		mu.Unlock()
		emuState.ServeHTTP(w, r)
	}))
	emu.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			accepted[c.RemoteAddr().String()] = true
			mu.Unlock()
		}
	}
	emu.Start()
	defer emu.Close()
	fn := startRIE(t, append(emulatorEnv(emu), "ENROLLHOOK_SECRET_GENERIC="+rieSecret)...)
	raw, err := os.ReadFile("../../events/generic-bad-signature.json")
	if err != nil {
		t.Fatal(err)
	}
	if resp := fn.invoke(t, resign(t, raw, rieSecret, true)); resp.StatusCode != 401 {
		t.Fatalf("a forged delivery: %d %s", resp.StatusCode, resp.Body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for emuState.TokenRequests() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := emuState.TokenRequests(); n != 1 {
		t.Errorf("token requests after a cold start refused on its signature = %d, want 1 (fetched at cold start)", n)
	}
	if emuState.Writes() != 0 {
		t.Errorf("a forged delivery wrote to Graph")
	}
	opened := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for a := range accepted {
			if !used[a] {
				n++
			}
		}
		return n
	}
	for opened() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := opened(); n != 1 {
		t.Errorf("connections to Graph opened at cold start and not yet used = %d, want 1", n)
	}
	// The cold start says what building took (BenchmarkColdStart reads it).
	logs := fn.logs.AwaitAll(`"message":"initialised"`)
	if ms, ok := logNumber(logs, "initialised", "buildMs"); !ok || ms <= 0 || ms > 5000 {
		t.Errorf("the cold start's initialised line: buildMs %v (%v)\n%s", ms, ok, logs)
	}
}

// TestBootstrapFailsClosed: without a secret the route refuses every
// delivery, and the cold-start log says why; with the published development
// secret, or without the de-duplication table, the cold start fails.

func TestBootstrapFailsClosed(t *testing.T) {
	emuState := newEmulator(nil)
	emu := httptest.NewServer(emuState)
	defer emu.Close()
	raw, err := os.ReadFile("../../events/generic-approved.json")
	if err != nil {
		t.Fatal(err)
	}

	fn := startRIE(t, emulatorEnv(emu)...)
	resp := fn.invoke(t, resign(t, raw, rieSecret, false))
	if resp.StatusCode != 401 || !strings.Contains(resp.Body, "source-not-configured") {
		t.Fatalf("without a secret: %d %s", resp.StatusCode, resp.Body)
	}
	if logs := fn.logs.AwaitAll("ENROLLHOOK_SECRET_GENERIC"); !strings.Contains(logs, "ENROLLHOOK_SECRET_GENERIC") {
		t.Errorf("the cold-start log does not name the missing secret:\n%s", logs)
	}

	fn = startRIE(t, append(emulatorEnv(emu), "ENROLLHOOK_SECRET_GENERIC="+generic.DevelopmentSecret, "ENROLLHOOK_GRAPH_CLOUD=mars")...)
	resp2, err := http.Post(fn.url, "application/json", bytes.NewReader(resign(t, raw, generic.DevelopmentSecret, false)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if strings.Contains(string(body), `"statusCode":200`) {
		t.Fatalf("a misconfigured function answered: %s", body)
	}
	// The bootstrap exits on the failed init; its last lines may reach the
	// log after the emulator answered.
	logs := fn.logs.AwaitAll("development secret", "ENROLLHOOK_GRAPH_CLOUD")
	for _, want := range []string{"development secret", "ENROLLHOOK_GRAPH_CLOUD"} {
		if !strings.Contains(logs, want) {
			t.Errorf("cold-start log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, strings.TrimPrefix(generic.DevelopmentSecret, "whsec_")) {
		t.Errorf("the cold-start log quotes the secret")
	}

	// Each instance would keep its own deliveries: a replay reaching
	// another instance would apply again.
	fn = startRIE(t, append(emulatorEnv(emu), "ENROLLHOOK_SECRET_GENERIC="+rieSecret, config.EnvIdempotency+"=")...)
	resp3, err := http.Post(fn.url, "application/json", bytes.NewReader(resign(t, raw, rieSecret, false)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp3.Body)
	resp3.Body.Close()
	if strings.Contains(string(body), `"statusCode":200`) {
		t.Fatalf("a function without its de-duplication table answered: %s", body)
	}
	if logs := fn.logs.AwaitAll(config.EnvIdempotency); !strings.Contains(logs, config.EnvIdempotency+" must name the de-duplication table") {
		t.Errorf("the cold-start log does not name the missing table:\n%s", logs)
	}
	if emuState.Writes() != 0 {
		t.Errorf("Graph saw %d writes from functions that should not have started", emuState.Writes())
	}
}

// BenchmarkColdStart measures, under the runtime interface emulator, the
// time from the first invoke's request (the emulator spawns the bootstrap
// lazily) to its answer: process start, init phase (configuration,
// credential, Graph client) and one delivery through the de-duplication
// table (on dynalite, as on Lambda, where the webhook does not start
// without one) and Graph. In the same loop it measures the floor:
// testdata/floor, the smallest aws-lambda-go function, built the same way
// and invoked with the same event, so that the machine's own speed divides
// out. dynalite is a Node.js process whose answers take milliseconds each
// (BenchmarkStore/dynalite), DynamoDB's own latency it is not, and the
// floor has nothing like it: a proxy in front of it times its answers to
// the function (store-ms/cold-start), and the ratio to the floor is of the
// cold start less that time (own-ms/cold-start, x-floor). Reported as
// ms/cold-start (all of it), store-ms, own-ms, floor-ms/cold-start and
// x-floor. It measures a second reference alike, testdata/libsfloor: the
// floor with the libraries enrollhook is required to build on
// (azidentity, validator) linked in, reported as libs-floor-ms/cold-start
// and x-libs-floor (own-ms to it), which says how much of the ratio is
// theirs. Of enrollhook's cold start it also reports two phases, from its
// own log: build-ms/cold-start (configuration, credential, clients: the
// "initialised" line) and handler-ms/cold-start (the delivery, its store
// and Graph calls included: the request's durationMs); the rest is the
// process start, the packages' initialisation and the runtime API's round
// trips. `make bench` runs it.
func BenchmarkColdStart(b *testing.B) {
	emuState := newEmulator(nil)
	emu := httptest.NewServer(emuState)
	defer emu.Close()
	raw, err := os.ReadFile("../../events/generic-approved.json")
	if err != nil {
		b.Fatal(err)
	}
	floorBootstrap := floor.Build(b, "./testdata/floor")
	libsBootstrap := libsFloor.Build(b, "./testdata/libsfloor")
	buildBootstrap(b)
	store := newTimedStore(b)
	var buildMS, handlerMS float64
	cold := func(fn *rieFunc, event []byte, ours bool) time.Duration {
		start := time.Now()
		resp := fn.invoke(b, event)
		d := time.Since(start)
		b.StopTimer()
		if ours {
			// The bootstrap's own account of two phases: building (its
			// "initialised" line) and the delivery in the handler.
			logs := fn.logs.AwaitAll(`"message":"initialised"`, `"message":"webhook"`)
			build, ok1 := logNumber(logs, "initialised", "buildMs")
			handler, ok2 := logNumber(logs, "webhook", "durationMs")
			if !ok1 || !ok2 {
				b.Fatalf("the cold start's log lacks buildMs or durationMs:\n%s", logs)
			}
			buildMS += build
			handlerMS += handler
		}
		fn.stop()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
		}
		return d
	}
	var total, storeTotal, floorTotal, libsTotal time.Duration
	n := 0
	for b.Loop() {
		b.StopTimer()
		fl := startRIEWith(b, floorBootstrap)
		floorTotal += cold(fl, raw, false)
		libsTotal += cold(startRIEWith(b, libsBootstrap), raw, false)
		// A table of its own each time: the same delivery is a first one.
		fn := startRIE(b, append(emulatorEnv(emu), append(store.env(b), "ENROLLHOOK_SECRET_GENERIC="+rieSecret)...)...)
		event := resign(b, raw, rieSecret, false)
		store.took.Store(0)
		b.StartTimer()
		total += cold(fn, event, true) // stops the timer once measured
		storeTotal += time.Duration(store.took.Load())
		n++
		b.StartTimer() // b.Loop wants it running
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(n) }
	ms, storeMS, floorMS, libsMS := per(total), per(storeTotal), per(floorTotal), per(libsTotal)
	own := ms - storeMS
	b.ReportMetric(ms, "ms/cold-start")
	b.ReportMetric(storeMS, "store-ms/cold-start")
	b.ReportMetric(own, "own-ms/cold-start")
	b.ReportMetric(floorMS, "floor-ms/cold-start")
	b.ReportMetric(own/floorMS, "x-floor")
	b.ReportMetric(libsMS, "libs-floor-ms/cold-start")
	b.ReportMetric(own/libsMS, "x-libs-floor")
	b.ReportMetric(buildMS/float64(n), "build-ms/cold-start")
	b.ReportMetric(handlerMS/float64(n), "handler-ms/cold-start")
}

// timedStore is dynalite behind a reverse proxy that adds up how long
// dynalite took to answer (took, in nanoseconds): from the request's
// arrival at the proxy to the end of the answer.
type timedStore struct {
	proxy *httptest.Server
	took  atomic.Int64
}

func newTimedStore(b *testing.B) *timedStore {
	b.Helper()
	endpoint, _ := rietest.DeliveryTable(b)
	target, err := url.Parse(endpoint)
	if err != nil {
		b.Fatal(err)
	}
	s := &timedStore{}
	rp := httputil.NewSingleHostReverseProxy(target)
	s.proxy = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rp.ServeHTTP(w, r)
		s.took.Add(int64(time.Since(start)))
	}))
	b.Cleanup(s.proxy.Close)
	return s
}

// env names a new, empty table behind the proxy.
func (s *timedStore) env(b *testing.B) []string {
	b.Helper()
	_, table := rietest.DeliveryTable(b)
	return []string{"AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local",
		config.EnvIdempotency + "=" + table, "AWS_ENDPOINT_URL_DYNAMODB=" + s.proxy.URL}
}

// logNumber is the number field of the first JSON line of logs whose
// message is msg.
func logNumber(logs, msg, field string) (float64, bool) {
	for _, line := range strings.Split(logs, "\n") {
		i := strings.IndexByte(line, '{')
		if i < 0 {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(line[i:]), &m) != nil || m["message"] != msg {
			continue
		}
		v, ok := m[field].(float64)
		return v, ok
	}
	return 0, false
}

// checkRevertSample checks the answer of events/generic-revert.json: what
// it put back, and that Graph holds the seed's target again (no filter).
func checkRevertSample(t *testing.T, got map[string]any, emu *graphemu.Server) {
	t.Helper()
	changes, _ := got["changes"].([]any)
	if got["action"] != "revert" || len(changes) == 0 {
		t.Fatalf("revert answer = %v", got)
	}
	stored, _ := emu.Assignment(graphemu.ConfigESP, graphemu.AssignmentESPGroup)
	var a struct {
		Target map[string]any `json:"target"`
	}
	_ = json.Unmarshal(stored, &a)
	if a.Target["deviceAndAppManagementAssignmentFilterType"] != "none" {
		t.Errorf("after the revert Graph holds %v, want the seed's target without a filter", a.Target)
	}
}
