package apply_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/source"
	"github.com/enrollhook/enrollhook/pkg/source/jira"
	"github.com/enrollhook/enrollhook/pkg/source/servicenow"
)

// oldKey is apply.Key as it was before the assignment was encoded once per
// change (Request.PatchBody): the whole request marshalled with the
// assignment as a struct. Fingerprints of deliveries taken before a deploy
// are stored (DynamoDB) and compared with the fingerprint of a retry after
// it, so Key must keep giving these bytes.
func oldKey(source, deliveryID string, req *change.Request) (key, fingerprint string) {
	b, _ := json.Marshal(struct {
		Sender          string             `json:"sender"`
		Ticket          *change.Ticket     `json:"ticket"`
		Action          string             `json:"action,omitempty"`
		ConfigurationID string             `json:"configurationId"`
		AssignmentID    string             `json:"assignmentId"`
		Assignment      *change.Assignment `json:"assignment"`
	}{source, &req.Ticket, oldRevertAction(req), req.ConfigurationID, req.AssignmentID, &req.Assignment})
	sum := sha256.Sum256(b)
	fingerprint = hex.EncodeToString(sum[:])
	if deliveryID != "" {
		return source + ":" + deliveryID, fingerprint
	}
	return source + ":change:" + fingerprint, fingerprint
}

func oldRevertAction(req *change.Request) string {
	if req.Reverts() {
		return change.ActionRevert
	}
	return ""
}

// goldenFingerprint is the fingerprint of body from sender "generic", as
// the code before PatchBody computed and stored it.
const goldenFingerprint = "08d17c66ea2fbd54c40a724987320d9e1f66398c8e6d658c78b2b3ac7c7b612d"

// fingerprintRequests are requests as the senders decode them: the
// envelope testdata and samples (events/), the ITSM senders' testdata, the
// decode fuzz corpora, and requests no decoder makes (a revert, a window,
// strings json.Marshal escapes, an unnormalized id) built by hand.
func fingerprintRequests(t testing.TB) map[string]*change.Request {
	t.Helper()
	out := map[string]*change.Request{}
	for name, b := range fingerprintBodies(t) {
		if r, err := change.Decode(b, nil); err == nil {
			out["generic "+name] = r
		}
	}
	js, err := jira.New(jira.DevelopmentSecret, nil)
	if err != nil {
		t.Fatal(err)
	}
	sn, err := servicenow.New(servicenow.DevelopmentSecret, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"../source/jira/testdata", "../source/servicenow/testdata", "../../events"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, f := range files {
			b := readBody(t, f)
			for sender, decode := range map[string]func(source.Delivery, *change.Options) (*change.Request, error){"jira": js.Decode, "servicenow": sn.Decode} {
				if r, err := decode(source.Delivery{Body: b}, nil); err == nil {
					out[sender+" "+filepath.Base(f)] = r
				}
			}
		}
	}
	odd := "<b>&amp;</b> \u2028\u2029 \x7f \"quoted\" \\ \xff\xfe invalid é 日本"
	out["escaped strings"] = &change.Request{
		Ticket: change.Ticket{ID: "CHG<1>&2", System: odd, State: "approved", RequestedBy: odd, ApprovedBy: odd,
			RequestedByID: odd, ApprovedByID: odd, URL: "https://example.com/?a=1&b=<2>", Record: "change_request/x"},
		ConfigurationID: "cfg", AssignmentID: "asg",
		Assignment: change.Assignment{ODataType: change.TypeAssignment, Source: odd, SourceID: odd,
			Target: &change.Target{ODataType: odd, GroupID: odd, CollectionID: odd, TargetType: odd, EntraObjectID: odd, FilterID: odd, FilterType: odd}},
	}
	out["revert"] = &change.Request{Ticket: change.Ticket{ID: "CHG1", State: "approved", ApprovedBy: "bob"}, Action: change.ActionRevert}
	out["unnormalized id"] = &change.Request{Ticket: change.Ticket{ID: "CHG1", State: "approved"}, ConfigurationID: "c", AssignmentID: "a",
		Assignment: change.Assignment{ID: "a", Target: &change.Target{ODataType: "microsoft.graph.allDevicesAssignmentTarget"}}}
	out["window"] = &change.Request{Ticket: change.Ticket{ID: "CHG1", State: "approved", Window: &change.Window{Start: "2026-03-02T20:00:00Z", End: "2026-03-02T23:00:00Z"}},
		Action: change.ActionApply, ConfigurationID: "c", AssignmentID: "a", Assignment: change.Assignment{Target: &change.Target{ODataType: change.TypeAllLicensed}}}
	out["empty"] = &change.Request{}
	return out
}

// fingerprintBodies are generic envelopes: body, the change package's
// envelope testdata, the generic samples and the decode fuzz corpora.
func fingerprintBodies(t testing.TB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{"body": []byte(body)}
	files, _ := filepath.Glob("../change/testdata/envelope/*.json")
	samples, _ := filepath.Glob("../../events/generic-*.json")
	for _, f := range append(files, samples...) {
		out[filepath.Base(f)] = readBody(t, f)
	}
	for _, dir := range []string{"../change/testdata/fuzz/FuzzDecode", "../change/testdata/fuzz/FuzzDecodeTarget"} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			_, arg, _ := strings.Cut(string(b), "\n")
			arg = strings.TrimSpace(arg)
			if s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(arg, "[]byte("), ")")); err == nil {
				out[e.Name()] = []byte(s)
			}
		}
	}
	return out
}

// readBody reads a body file, or the body of an API Gateway event sample.
func readBody(t testing.TB, f string) []byte {
	t.Helper()
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Body            *string `json:"body"`
		IsBase64Encoded bool    `json:"isBase64Encoded"`
	}
	if json.Unmarshal(b, &ev) != nil || ev.Body == nil {
		return b
	}
	if ev.IsBase64Encoded {
		d, err := base64.StdEncoding.DecodeString(*ev.Body)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		return d
	}
	return []byte(*ev.Body)
}

// TestFingerprintsStayTheSame: every request the senders decode, and the
// odd ones built by hand, keep the key and fingerprint the code before
// PatchBody gave them, so a delivery taken before a deploy and retried
// after it is a replay, not a conflict.
func TestFingerprintsStayTheSame(t *testing.T) {
	reqs := fingerprintRequests(t)
	senders := map[string]bool{}
	for name := range reqs {
		senders[strings.Fields(name)[0]] = true
	}
	if len(reqs) < 15 || !senders["generic"] || !senders["jira"] || !senders["servicenow"] {
		t.Fatalf("found %d requests from %v, want the testdata of every ITSM sender", len(reqs), senders)
	}
	for name, r := range reqs {
		for _, id := range []string{"", "msg_1"} {
			wk, wf := oldKey("generic", id, r)
			gk, gf := apply.Key("generic", id, r)
			if gk != wk || gf != wf {
				t.Errorf("%s, delivery id %q: Key = %s %s, before %s %s", name, id, gk, gf, wk, wf)
			}
		}
	}
	if _, fp := apply.Key("generic", "msg_1", decoded(t)); fp != goldenFingerprint {
		t.Errorf("fingerprint of body = %s, stored ones are %s", fp, goldenFingerprint)
	}
}

func FuzzFingerprintStaysTheSame(f *testing.F) {
	for _, b := range fingerprintBodies(f) {
		f.Add(b, "")
	}
	f.Add([]byte(body), "<&>\u2028\xff")
	f.Fuzz(func(t *testing.T, b []byte, s string) {
		if r, err := change.Decode(b, nil); err == nil {
			_, wf := oldKey("generic", "", r)
			if _, gf := apply.Key("generic", "", r); gf != wf {
				t.Errorf("Decode(%q): fingerprint %s, before %s", b, gf, wf)
			}
		}
		// s in every string, as no decoder would let it through.
		r := &change.Request{Ticket: change.Ticket{ID: s, State: s, ApprovedBy: s, URL: s}, Action: s, ConfigurationID: s, AssignmentID: s,
			Assignment: change.Assignment{ODataType: s, ID: s, Source: s, SourceID: s,
				Target: &change.Target{ODataType: s, GroupID: s, FilterID: s, FilterType: s}}}
		_, wf := oldKey("slack", s, r)
		if _, gf := apply.Key("slack", s, r); gf != wf {
			t.Errorf("request of %q: fingerprint %s, before %s", s, gf, wf)
		}
	})
}

// BenchmarkKey is the fingerprint of one decoded change, the assignment
// encoded afresh each time as for a new delivery.
func BenchmarkKey(b *testing.B) {
	base, err := change.Decode([]byte(body), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		r := *base
		if k, _ := apply.Key("generic", "msg_1", &r); k == "" {
			b.Fatal("no key")
		}
	}
}

// patchSink keeps what patch is given on the heap, as the Graph interface
// call of the PATCH does.
var patchSink any

// patch is what graph.Client.PatchAssignment does with its body: a
// request's encoding by reference (PatchBodyRef) is sent as it is, a
// json.RawMessage once checked to be JSON, anything else marshalled.
func patch(body any) []byte {
	patchSink = body
	switch b := body.(type) {
	case *change.AssignmentJSON: // the request's one encoding, as graph sends it
		return *b
	}
	if raw, ok := body.(json.RawMessage); ok {
		if !json.Valid(raw) {
			return nil
		}
		return raw
	}
	b, _ := json.Marshal(body)
	return b
}

// BenchmarkEncodings is a new delivery's encodings of its change: the
// fingerprint (Key) and the PATCH body, before (the assignment marshalled
// by each) and now (Request.PatchBody, once).
func BenchmarkEncodings(b *testing.B) {
	base, err := change.Decode([]byte(body), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("before", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r := *base
			if _, fp := oldKey("generic", "msg_1", &r); fp == "" || len(patch(&r.Assignment)) == 0 {
				b.Fatal("no fingerprint or body")
			}
		}
	})
	b.Run("now", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r := *base
			if _, fp := apply.Key("generic", "msg_1", &r); fp == "" || len(patch(r.PatchBodyRef())) == 0 {
				b.Fatal("no fingerprint or body")
			}
		}
	})
}

// bodyGraph keeps the body of every PATCH it is sent.
type bodyGraph struct {
	noGraph
	bodies []any
}

func (g *bodyGraph) PatchAssignment(_ context.Context, _, _ string, body any) (*graph.Result, error) {
	g.bodies = append(g.bodies, body)
	return &graph.Result{Body: []byte(`{"id":"x"}`), RequestID: "rid"}, nil
}

// TestThePatchSendsTheFingerprintedBytes: Graph is sent the assignment as
// it was sent before (json.Marshal of the Assignment), as the bytes the
// fingerprint covers, not encoded again.
func TestThePatchSendsTheFingerprintedBytes(t *testing.T) {
	req := decoded(t)
	want, _ := json.Marshal(&req.Assignment)
	_, fp := apply.Key("generic", "msg_1", req)
	g := &bodyGraph{}
	p := apply.New(g, &apply.Options{Update: apply.Update{Strategy: apply.StrategyPatch}})
	if _, err := p.Apply(context.Background(), req, "req-1"); err != nil {
		t.Fatal(err)
	}
	if len(g.bodies) != 1 {
		t.Fatalf("%d PATCHes, want 1", len(g.bodies))
	}
	ref, ok := g.bodies[0].(*change.AssignmentJSON)
	var sent change.AssignmentJSON
	if ok {
		sent = *ref
	}
	if !ok || !bytes.Equal(sent, want) {
		t.Fatalf("PATCH body = %#v, want the JSON %s", g.bodies[0], want)
	}
	if fingerprinted := req.PatchBody(); &sent[0] != &fingerprinted[0] {
		t.Error("the PATCH body is another encoding than the fingerprint's")
	}
	if _, again := oldKey("generic", "msg_1", req); again != fp {
		t.Errorf("fingerprint %s, before %s", fp, again)
	}
}
