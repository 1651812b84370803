package chatrequest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/awsapi/awsapitest"
)

func TestMain(m *testing.M) { awsapitest.Main(m) }

var ctx = context.Background()

// clock is a settable clock, anchored on the real time so that the tests
// pass on any date.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// stores returns every implementation under test; each call of a maker
// gives an empty store on the clock and options given.
func stores(t *testing.T) map[string]func(c *clock, o *Options) Store {
	out := map[string]func(*clock, *Options) Store{
		"memory": func(c *clock, o *Options) Store { return NewMemory(withClock(o, c)) },
	}
	if d := awsapitest.Start(t); d != nil {
		out["dynamodb"] = func(c *clock, o *Options) Store {
			return NewDynamoDB(d.Client(t), d.CreateTable(t, awsapitest.ChangeTable(t.Name())), withClock(o, c))
		}
	}
	return out
}

func withClock(o *Options, c *clock) *Options {
	var out Options
	if o != nil {
		out = *o
	}
	out.Now = c.now
	return &out
}

// req is a complete new request.
func req(id string) *Request {
	return &Request{
		ID: id, Sender: "slack", Tenant: "T0001",
		RequestedBy: "U0456EFGH", RequestedByName: "slack:T0001/U0456EFGH",
		ConfigurationID: "cfg-1", AssignmentID: "asg-1",
		Change:      json.RawMessage(`{"configurationId": "cfg-1", "assignmentId": "asg-1", "target": {"groupId": "g-2"}}`),
		Before:      json.RawMessage(`{"id":"asg-1","target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"g-1"}}`),
		ResponseURL: "https://hooks.slack.com/commands/T0001/1/secret",
	}
}

// sameJSON reports whether a and b are the same JSON, spacing aside.
func sameJSON(a, b json.RawMessage) bool {
	var ca, cb bytes.Buffer
	return json.Compact(&ca, a) == nil && json.Compact(&cb, b) == nil && bytes.Equal(ca.Bytes(), cb.Bytes())
}

func TestCreateGet(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			c := newClock()
			st := mk(c, nil)
			in := req("ABCD2345")
			want := *req("ABCD2345")
			if err := st.Create(ctx, in); err != nil {
				t.Fatal(err)
			}
			if in.State != StatePending || !in.Created.Equal(c.now()) || !in.Expires.Equal(c.now().Add(DefaultTTL).Truncate(time.Second)) {
				t.Errorf("Create filled in state %q, created %v, expires %v; want pending, now (%v), now + 1h in whole seconds",
					in.State, in.Created, in.Expires, c.now())
			}
			got, err := st.Get(ctx, "ABCD2345")
			if err != nil {
				t.Fatal(err)
			}
			if !sameJSON(got.Change, want.Change) || !sameJSON(got.Before, want.Before) {
				t.Errorf("Get: change %s, before %s; want %s, %s", got.Change, got.Before, want.Change, want.Before)
			}
			if got.ID != want.ID || got.Sender != want.Sender || got.Tenant != want.Tenant ||
				got.RequestedBy != want.RequestedBy || got.RequestedByName != want.RequestedByName ||
				got.ConfigurationID != want.ConfigurationID || got.AssignmentID != want.AssignmentID ||
				got.ResponseURL != want.ResponseURL || got.State != StatePending ||
				got.DecidedBy != "" || got.DecidedByName != "" || !got.Decided.IsZero() ||
				!got.Created.Equal(in.Created) || !got.Expires.Equal(in.Expires) {
				t.Errorf("Get = %#v\nwant %#v", got, in)
			}
			if got.Expired(c.now()) {
				t.Error("a new request is Expired")
			}
			// A request without Before (nothing to compare yet) is kept so.
			nb := req("ABCD2346")
			nb.Before = nil
			if err := st.Create(ctx, nb); err != nil {
				t.Fatal(err)
			}
			if got, err := st.Get(ctx, "ABCD2346"); err != nil || len(got.Before) != 0 {
				t.Errorf("Get(no before) = before %q, %v", got.Before, err)
			}
		})
	}
}

// TestCreateGivenTimes: Created and Expires given are kept (Expires in
// whole seconds); the TTL of the options applies when Expires is not.
func TestCreateGivenTimes(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			c := newClock()
			st := mk(c, &Options{TTL: 10 * time.Minute})
			a := req("AAAA2222")
			a.Created = c.now().Add(-time.Minute)
			if err := st.Create(ctx, a); err != nil {
				t.Fatal(err)
			}
			if want := a.Created.Add(10 * time.Minute).Truncate(time.Second); !a.Expires.Equal(want) {
				t.Errorf("Expires = %v, want created + TTL, %v", a.Expires, want)
			}
			b := req("BBBB3333")
			b.Expires = c.now().Add(5*time.Minute + 300*time.Millisecond)
			if err := st.Create(ctx, b); err != nil {
				t.Fatal(err)
			}
			want := c.now().Add(5*time.Minute + 300*time.Millisecond).Truncate(time.Second)
			got, err := st.Get(ctx, "BBBB3333")
			if err != nil || !got.Expires.Equal(want) {
				t.Errorf("Get = expires %v, %v; want %v", got.Expires, err, want)
			}
			old := req("CCCC4444")
			old.Expires = c.now().Add(-time.Second)
			if err := st.Create(ctx, old); !errors.Is(err, ErrInvalid) {
				t.Errorf("Create(already expired) = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestCreateRefuses(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := mk(newClock(), nil)
			if err := st.Create(ctx, req("ABCD2345")); err != nil {
				t.Fatal(err)
			}
			dup := req("ABCD2345")
			dup.RequestedBy = "U0999"
			if err := st.Create(ctx, dup); !errors.Is(err, ErrExists) {
				t.Errorf("Create(same id) = %v, want ErrExists", err)
			}
			if err := st.Create(ctx, req("abcd2345")); !errors.Is(err, ErrExists) {
				t.Errorf("Create(same id, lower case) = %v, want ErrExists", err)
			}
			if got, err := st.Get(ctx, "ABCD2345"); err != nil || got.RequestedBy != "U0456EFGH" {
				t.Errorf("Get after the duplicates = %v, %v; want the first request", got, err)
			}
			bad := map[string]func(r *Request){
				"no id":           func(r *Request) { r.ID = "" },
				"id with #":       func(r *Request) { r.ID = "AB#CD234" },
				"id with -":       func(r *Request) { r.ID = "AB-CD234" },
				"id too long":     func(r *Request) { r.ID = strings.Repeat("A", MaxIDLength+1) },
				"no sender":       func(r *Request) { r.Sender = "" },
				"no requester":    func(r *Request) { r.RequestedBy = "" },
				"no change":       func(r *Request) { r.Change = nil },
				"change not JSON": func(r *Request) { r.Change = json.RawMessage(`{"a":`) },
				"before not JSON": func(r *Request) { r.Before = json.RawMessage(`nope`) },
				"approved":        func(r *Request) { r.State = StateApproved },
				"decided by":      func(r *Request) { r.DecidedBy = "U1" },
				"too large":       func(r *Request) { r.Change = json.RawMessage(`"` + strings.Repeat("x", MaxSize) + `"`) },
			}
			for what, f := range bad {
				r := req("EFGH5678")
				f(r)
				if err := st.Create(ctx, r); !errors.Is(err, ErrInvalid) {
					t.Errorf("Create(%s) = %v, want ErrInvalid", what, err)
				}
			}
			if _, err := st.Get(ctx, "EFGH5678"); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get after refused creates = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := mk(newClock(), nil)
			if r, err := st.Get(ctx, "ZZZZ9999"); !errors.Is(err, ErrNotFound) || r != nil {
				t.Errorf("Get(unknown) = %v, %v; want nil, ErrNotFound", r, err)
			}
			if r, err := st.Decide(ctx, "ZZZZ9999", StateApproved, "U1", "slack:T0001/U1"); !errors.Is(err, ErrNotFound) || r != nil {
				t.Errorf("Decide(unknown) = %v, %v; want nil, ErrNotFound", r, err)
			}
			for _, id := range []string{"", "AB#CD234", "AB CD234", "ÄBCD2345"} {
				if _, err := st.Get(ctx, id); !errors.Is(err, ErrInvalid) {
					t.Errorf("Get(%q) = %v, want ErrInvalid", id, err)
				}
				if _, err := st.Decide(ctx, id, StateApproved, "U1", ""); !errors.Is(err, ErrInvalid) {
					t.Errorf("Decide(%q) = %v, want ErrInvalid", id, err)
				}
			}
		})
	}
}

func TestDecide(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			c := newClock()
			st := mk(c, nil)
			for _, id := range []string{"APPR2345", "REJE2345"} {
				if err := st.Create(ctx, req(id)); err != nil {
					t.Fatal(err)
				}
			}
			c.advance(10 * time.Minute)
			for id, to := range map[string]string{"APPR2345": StateApproved, "REJE2345": StateRejected} {
				got, err := st.Decide(ctx, strings.ToLower(id), to, "U0777", "slack:T0001/U0777")
				if err != nil {
					t.Fatalf("Decide(%s, %s) = %v", id, to, err)
				}
				if got.ID != id || got.State != to || got.DecidedBy != "U0777" || got.DecidedByName != "slack:T0001/U0777" ||
					!got.Decided.Equal(c.now()) || got.RequestedBy != "U0456EFGH" || !sameJSON(got.Change, req(id).Change) {
					t.Errorf("Decide(%s, %s) = %#v", id, to, got)
				}
				stored, err := st.Get(ctx, id)
				if err != nil || stored.State != to || stored.DecidedBy != "U0777" || !stored.Decided.Equal(got.Decided) ||
					!sameJSON(stored.Before, req(id).Before) || stored.ResponseURL != req(id).ResponseURL {
					t.Errorf("Get after Decide(%s) = %#v, %v", to, stored, err)
				}
			}
			// Bad decisions change nothing.
			if err := st.Create(ctx, req("PEND2345")); err != nil {
				t.Fatal(err)
			}
			for _, bad := range [][2]string{{StatePending, "U0777"}, {"done", "U0777"}, {StateApproved, ""}} {
				if _, err := st.Decide(ctx, "PEND2345", bad[0], bad[1], ""); !errors.Is(err, ErrInvalid) {
					t.Errorf("Decide(%q by %q) = %v, want ErrInvalid", bad[0], bad[1], err)
				}
			}
			if got, err := st.Get(ctx, "PEND2345"); err != nil || got.State != StatePending {
				t.Errorf("Get after refused decisions = %v, %v; want pending", got, err)
			}
		})
	}
}

// TestSelfApproval: the requester may not approve (their stable id, not
// their name, is compared), but may withdraw (reject) their request.
func TestSelfApproval(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := mk(newClock(), nil)
			for _, id := range []string{"SELF2345", "WDRW2345"} {
				if err := st.Create(ctx, req(id)); err != nil {
					t.Fatal(err)
				}
			}
			got, err := st.Decide(ctx, "SELF2345", StateApproved, "U0456EFGH", "someone else's name")
			if !errors.Is(err, ErrSelfApproval) || got == nil || got.State != StatePending {
				t.Errorf("Decide(approve by the requester) = %v, %v; want the pending request, ErrSelfApproval", got, err)
			}
			if got, err := st.Decide(ctx, "SELF2345", StateApproved, "U0999", "slack:T0001/U0456EFGH"); err != nil || got.State != StateApproved {
				t.Errorf("Decide(approve by another user of the same name) = %v, %v; want approved", got, err)
			}
			if got, err := st.Decide(ctx, "WDRW2345", StateRejected, "U0456EFGH", ""); err != nil || got.State != StateRejected {
				t.Errorf("Decide(reject by the requester) = %v, %v; want rejected", got, err)
			}
			// A Teams requester's other id (the 29: id) is theirs too.
			other := req("OTHR2345")
			other.RequestedByOther = "29:1abcDEF"
			if err := st.Create(ctx, other); err != nil {
				t.Fatal(err)
			}
			if got, err := st.Decide(ctx, "OTHR2345", StateApproved, "29:1abcDEF", "teams:t/29:1abcDEF"); !errors.Is(err, ErrSelfApproval) || got.State != StatePending {
				t.Errorf("Decide(approve by the requester's other id) = %v, %v; want ErrSelfApproval", got, err)
			}
		})
	}
}

func TestDecideTwice(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := mk(newClock(), nil)
			if err := st.Create(ctx, req("TWIC2345")); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Decide(ctx, "TWIC2345", StateApproved, "U0777", "slack:T0001/U0777"); err != nil {
				t.Fatal(err)
			}
			for _, d := range []struct{ to, by string }{
				{StateApproved, "U0888"}, {StateRejected, "U0888"}, {StateApproved, "U0777"},
			} {
				got, err := st.Decide(ctx, "TWIC2345", d.to, d.by, "")
				if !errors.Is(err, ErrDecided) || got == nil || got.State != StateApproved || got.DecidedBy != "U0777" ||
					got.DecidedByName != "slack:T0001/U0777" {
					t.Errorf("Decide(%s by %s) again = %v, %v; want the request approved by U0777, ErrDecided", d.to, d.by, got, err)
				}
			}
		})
	}
}

// TestExpiry: a pending request past its TTL cannot be decided; Get and
// Decide return it with ErrExpired. Its id stays taken. A decided request
// stays decided after its expiry.
func TestExpiry(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			c := newClock()
			st := mk(c, &Options{TTL: 30 * time.Minute})
			for _, id := range []string{"EXPI2345", "DONE2345"} {
				if err := st.Create(ctx, req(id)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := st.Decide(ctx, "DONE2345", StateRejected, "U0777", ""); err != nil {
				t.Fatal(err)
			}
			c.advance(29 * time.Minute)
			if got, err := st.Get(ctx, "EXPI2345"); err != nil || got.Expired(c.now()) {
				t.Fatalf("Get before the TTL = %v, %v; want it pending", got, err)
			}
			c.advance(time.Minute)
			got, err := st.Get(ctx, "EXPI2345")
			if !errors.Is(err, ErrExpired) || got == nil || got.State != StatePending || !got.Expired(c.now()) {
				t.Errorf("Get at the TTL = %v, %v; want the pending request, ErrExpired", got, err)
			}
			got, err = st.Decide(ctx, "EXPI2345", StateApproved, "U0777", "")
			if !errors.Is(err, ErrExpired) || got == nil || got.State != StatePending {
				t.Errorf("Decide at the TTL = %v, %v; want the pending request, ErrExpired", got, err)
			}
			if err := st.Create(ctx, req("EXPI2345")); !errors.Is(err, ErrExists) {
				t.Errorf("Create(the id of an expired request) = %v, want ErrExists", err)
			}
			c.advance(time.Hour)
			if got, err := st.Get(ctx, "DONE2345"); err != nil || got.State != StateRejected || got.Expired(c.now()) {
				t.Errorf("Get(decided, past its expiry) = %v, %v; want it rejected", got, err)
			}
			if got, err := st.Decide(ctx, "DONE2345", StateApproved, "U0888", ""); !errors.Is(err, ErrDecided) || got == nil || got.DecidedBy != "U0777" {
				t.Errorf("Decide(decided, past its expiry) = %v, %v; want ErrDecided by U0777", got, err)
			}
		})
	}
}

// TestConcurrentDecide: of 10 concurrent approvals (by 10 users) exactly
// one succeeds; every other names it.
func TestConcurrentDecide(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := mk(newClock(), nil)
			if err := st.Create(ctx, req("CONC2345")); err != nil {
				t.Fatal(err)
			}
			const n = 10
			type result struct {
				r   *Request
				err error
			}
			results := make([]result, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					to := StateApproved
					if i%3 == 2 {
						to = StateRejected
					}
					r, err := st.Decide(ctx, "CONC2345", to, fmt.Sprintf("U%04d", i), "")
					results[i] = result{r, err}
				}()
			}
			close(start)
			wg.Wait()
			var winner *Request
			for i, res := range results {
				if res.err == nil {
					if winner != nil {
						t.Fatalf("two Decide calls succeeded: %s and %s", winner.DecidedBy, res.r.DecidedBy)
					}
					winner = res.r
					if want := fmt.Sprintf("U%04d", i); res.r.DecidedBy != want {
						t.Errorf("call %d succeeded deciding by %s", i, res.r.DecidedBy)
					}
				}
			}
			if winner == nil {
				t.Fatalf("no Decide succeeded: %v", results)
			}
			for i, res := range results {
				if res.err == nil {
					continue
				}
				if !errors.Is(res.err, ErrDecided) || res.r == nil || res.r.DecidedBy != winner.DecidedBy || res.r.State != winner.State {
					t.Errorf("call %d = %v, %v; want ErrDecided naming %s", i, res.r, res.err, winner.DecidedBy)
				}
			}
			if got, err := st.Get(ctx, "CONC2345"); err != nil || got.DecidedBy != winner.DecidedBy || got.State != winner.State {
				t.Errorf("Get = %v, %v; want the winner's decision", got, err)
			}
		})
	}
}

// TestIDsIsolated: requests of different ids are separate; an id is
// matched in any letter case and kept in upper case.
func TestIDsIsolated(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := mk(newClock(), nil)
			ids := []string{"ABCD2345", "ABCD2346", "BCD2345", "ABCD23456"}
			for i, id := range ids {
				r := req(id)
				r.AssignmentID = fmt.Sprintf("asg-%d", i)
				if err := st.Create(ctx, r); err != nil {
					t.Fatalf("Create(%s) = %v", id, err)
				}
			}
			lower := req("wxyz2345")
			if err := st.Create(ctx, lower); err != nil || lower.ID != "WXYZ2345" {
				t.Fatalf("Create(lower case) = %v, id %q; want it stored as WXYZ2345", err, lower.ID)
			}
			if got, err := st.Get(ctx, "WXYZ2345"); err != nil || got.ID != "WXYZ2345" {
				t.Errorf("Get(WXYZ2345) = %v, %v", got, err)
			}
			if _, err := st.Decide(ctx, "abcd2345", StateApproved, "U0777", ""); err != nil {
				t.Fatal(err)
			}
			for i, id := range ids {
				got, err := st.Get(ctx, strings.ToLower(id))
				if err != nil || got.ID != id || got.AssignmentID != fmt.Sprintf("asg-%d", i) {
					t.Errorf("Get(%s) = %v, %v", id, got, err)
					continue
				}
				if want := map[bool]string{true: StateApproved, false: StatePending}[id == "ABCD2345"]; got.State != want {
					t.Errorf("Get(%s) state %s, want %s", id, got.State, want)
				}
			}
		})
	}
}

// TestMemoryBounded: a full embedded store drops expired requests, and
// refuses a new one rather than drop one that can still be decided.
func TestMemoryBounded(t *testing.T) {
	c := newClock()
	st := NewMemory(&Options{Now: c.now, MaxRequests: 3, TTL: time.Minute})
	for _, id := range []string{"AAAA2222", "BBBB2222"} {
		if err := st.Create(ctx, req(id)); err != nil {
			t.Fatal(err)
		}
	}
	c.advance(2 * time.Minute)
	if err := st.Create(ctx, req("CCCC2222")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, "AAAA2222"); !errors.Is(err, ErrExpired) {
		t.Errorf("Get(expired, store not full) = %v, want ErrExpired", err)
	}
	if err := st.Create(ctx, req("DDDD2222")); err != nil {
		t.Fatalf("Create(full of expired) = %v", err)
	}
	for _, id := range []string{"AAAA2222", "BBBB2222"} {
		if _, err := st.Get(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%s, dropped) = %v, want ErrNotFound", id, err)
		}
	}
	if err := st.Create(ctx, req("EEEE2222")); err != nil {
		t.Fatal(err)
	}
	if err := st.Create(ctx, req("FFFF2222")); !errors.Is(err, ErrFull) {
		t.Errorf("Create(full of live requests) = %v, want ErrFull", err)
	}
	for _, id := range []string{"CCCC2222", "DDDD2222", "EEEE2222"} {
		if got, err := st.Get(ctx, id); err != nil || got.State != StatePending {
			t.Errorf("Get(%s) = %v, %v; want it pending", id, got, err)
		}
	}
}

// TestNoResponseURLInText: what %v, %+v and slog show of a request leaves
// out the response URL (a capability).
func TestNoResponseURLInText(t *testing.T) {
	r := req("ABCD2345")
	for _, text := range []string{fmt.Sprint(r), fmt.Sprintf("%+v", r), r.LogValue().String(), r.String()} {
		if strings.Contains(text, "hooks.slack.com") || strings.Contains(text, "secret") {
			t.Errorf("text of a request holds its response URL: %s", text)
		}
		if !strings.Contains(text, "ABCD2345") {
			t.Errorf("text of a request lacks its id: %s", text)
		}
	}
}

// TestReopen: an approval whose change could not be applied is put back
// to pending by its approver, and can then be approved again; a request
// decided by someone else, or rejected, is not reopened.
func TestReopen(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := mk(newClock(), nil)
			if err := st.Create(ctx, req("REOP2345")); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Decide(ctx, "REOP2345", StateApproved, "U0APPROVE", "bob"); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Reopen(ctx, "REOP2345", "U0SOMEONE", time.Time{}, time.Time{}, ""); !errors.Is(err, ErrDecided) {
				t.Errorf("Reopen by another user = %v, want ErrDecided", err)
			}
			attempted := time.Date(2026, 11, 29, 8, 0, 0, 123000000, time.UTC)
			r, err := st.Reopen(ctx, "REOP2345", "U0APPROVE", time.Time{}, attempted, "slack:D1")
			if err != nil || r.State != StatePending || r.DecidedBy != "" {
				t.Fatalf("Reopen = %+v, %v", r, err)
			}
			// The write whose outcome is unknown is kept for the next
			// approval.
			if got, _ := st.Get(ctx, "REOP2345"); got.State != StatePending || !got.Attempted.Equal(attempted) {
				t.Errorf("after Reopen the request is %s, attempted %v", got.State, got.Attempted)
			}
			if _, err := st.Decide(ctx, "REOP2345", StateApproved, "U0APPROVE", "bob"); err != nil {
				t.Errorf("approving again after Reopen = %v", err)
			}
			// A second unknown attempt keeps the first: the earliest write
			// that may have landed, and who approved it.
			if _, err := st.Reopen(ctx, "REOP2345", "U0APPROVE", time.Time{}, attempted.Add(time.Minute), "slack:D2"); err != nil {
				t.Fatal(err)
			}
			if got, _ := st.Get(ctx, "REOP2345"); !got.Attempted.Equal(attempted) || got.AttemptedBy != "U0APPROVE" || got.AttemptedByName != "bob" ||
				!slices.Equal(got.AttemptedIDs, []string{"slack:D1", "slack:D2"}) {
				t.Errorf("after a second Reopen: attempted %v by %q %q, ids %v; want the first, by U0APPROVE bob, and both ids", got.Attempted, got.AttemptedBy, got.AttemptedByName, got.AttemptedIDs)
			}
			if _, err := st.Decide(ctx, "REOP2345", StateApproved, "U0APPROVE", "bob"); err != nil {
				t.Errorf("approving again after the second Reopen = %v", err)
			}
			if err := st.Create(ctx, req("REJE2345")); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Decide(ctx, "REJE2345", StateRejected, "U0APPROVE", "bob"); err != nil {
				t.Fatal(err)
			}
			// An approval that recorded writes and stopped (nothing unknown)
			// is kept among the request's own, without an attempt time.
			if err := st.Create(ctx, req("PART2345")); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Decide(ctx, "PART2345", StateApproved, "U0APPROVE", "bob"); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Reopen(ctx, "PART2345", "U0APPROVE", time.Time{}, time.Time{}, "slack:D0"); err != nil {
				t.Fatal(err)
			}
			if got, _ := st.Get(ctx, "PART2345"); !got.Attempted.IsZero() || !slices.Equal(got.AttemptedIDs, []string{"slack:D0"}) {
				t.Errorf("after a partial approval: attempted %v, ids %v; want none, and slack:D0", got.Attempted, got.AttemptedIDs)
			}
			if _, err := st.Reopen(ctx, "REJE2345", "U0APPROVE", time.Time{}, time.Time{}, ""); !errors.Is(err, ErrDecided) {
				t.Errorf("Reopen of a rejected request = %v, want ErrDecided", err)
			}
			if _, err := st.Reopen(ctx, "NONE2345", "U0APPROVE", time.Time{}, time.Time{}, ""); !errors.Is(err, ErrNotFound) {
				t.Errorf("Reopen of no request = %v", err)
			}
		})
	}
}

// TestFinishAndRetake: an approval that finished is marked so and is never
// retaken; one that never finished is retaken only as the decision the
// caller saw (not one made since, by the same approver or another), only
// before the request's expiry, and keeps its decision as the attempt.
func TestFinishAndRetake(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			c := newClock()
			st := mk(c, nil)
			for _, id := range []string{"FINI2345", "TAKE2345", "LATE2345"} {
				if err := st.Create(ctx, req(id)); err != nil {
					t.Fatal(err)
				}
			}
			d, err := st.Decide(ctx, "FINI2345", StateApproved, "U0APPROVE", "bob")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Finish(ctx, "FINI2345", "U0APPROVE", d.Decided.Add(time.Second)); !errors.Is(err, ErrDecided) {
				t.Errorf("Finish of another decision = %v, want ErrDecided", err)
			}
			if f, err := st.Finish(ctx, "FINI2345", "U0APPROVE", d.Decided); err != nil || f.Finished.IsZero() {
				t.Fatalf("Finish = %+v, %v", f, err)
			}
			if _, err := st.Retake(ctx, "FINI2345", "U0APPROVE", d.Decided); !errors.Is(err, ErrDecided) {
				t.Errorf("Retake of a finished approval = %v, want ErrDecided", err)
			}

			first, err := st.Decide(ctx, "TAKE2345", StateApproved, "U0APPROVE", "bob")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Retake(ctx, "TAKE2345", "U0OTHER", first.Decided); !errors.Is(err, ErrDecided) {
				t.Errorf("Retake naming another approver = %v, want ErrDecided", err)
			}
			r, err := st.Retake(ctx, "TAKE2345", "U0APPROVE", first.Decided)
			if err != nil || r.State != StatePending || !r.Attempted.Equal(first.Decided) || r.AttemptedBy != "U0APPROVE" {
				t.Fatalf("Retake = %+v, %v; want pending, the decision kept as the attempt", r, err)
			}
			c.advance(time.Second)
			again, err := st.Decide(ctx, "TAKE2345", StateApproved, "U0APPROVE", "bob")
			if err != nil {
				t.Fatal(err)
			}
			// A second taker that saw the first decision finds another.
			if _, err := st.Retake(ctx, "TAKE2345", "U0APPROVE", first.Decided); !errors.Is(err, ErrDecided) {
				t.Errorf("Retake of a decision made over = %v, want ErrDecided", err)
			}
			if got, _ := st.Get(ctx, "TAKE2345"); got.State != StateApproved || !got.Decided.Equal(again.Decided) {
				t.Errorf("after the refused Retake: %s decided %v, want the second decision standing", got.State, got.Decided)
			}
			// The first approval's late failure does not reopen the
			// second, running one.
			if _, err := st.Reopen(ctx, "TAKE2345", "U0APPROVE", first.Decided, time.Time{}, ""); !errors.Is(err, ErrDecided) {
				t.Errorf("Reopen of the decision taken over = %v, want ErrDecided", err)
			}

			late, err := st.Decide(ctx, "LATE2345", StateApproved, "U0APPROVE", "bob")
			if err != nil {
				t.Fatal(err)
			}
			c.advance(2 * time.Hour)
			if _, err := st.Retake(ctx, "LATE2345", "U0APPROVE", late.Decided); !errors.Is(err, ErrExpired) {
				t.Errorf("Retake past the expiry = %v, want ErrExpired", err)
			}
			if got, err := st.Get(ctx, "LATE2345"); err != nil || got.State != StateApproved {
				t.Errorf("after the refused Retake: %+v, %v; want it approved still", got, err)
			}
		})
	}
}
