package record

import (
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

// clock is a settable clock, anchored on the real time so that the tests
// pass on any date.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().UTC()} }

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

// rec is a complete apply record.
func rec(id, sender, ticket, conf, asg string, at time.Time) *Record {
	return &Record{
		ID: id, Action: ActionApply, Sender: sender, DeliveryID: strings.TrimPrefix(id, sender+":"),
		Ticket: Ticket{ID: ticket, System: "servicenow", URL: "https://example.service-now.com/chg",
			RequestedBy: "Ada", RequestedByID: "u-1", ApprovedBy: "Grace", ApprovedByID: "u-2"},
		ConfigurationID: conf, AssignmentID: asg,
		Before:          json.RawMessage(`{"id": "` + asg + `", "target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}}`),
		After:           json.RawMessage(`{"id":"` + asg + `","target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"g"}}`),
		GraphRequestIDs: []string{"req-1", "req-2"},
		Time:            at,
	}
}

func ids(rs []Record) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

var ctx = context.Background()

func TestRoundTrip(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			c := newClock()
			st := mk(c, nil)
			r := rec("generic:msg_1", "generic", "CHG001", "conf-1", "conf-1_asg", time.Time{})
			r.State = ""
			if err := st.Put(ctx, r); err != nil {
				t.Fatalf("Put = %v", err)
			}
			if !r.Time.Equal(c.now()) || r.State != StateApplied {
				t.Errorf("Put left Time %v, State %q; want the store's clock %v and %q", r.Time, r.State, c.now(), StateApplied)
			}
			got, err := st.Get(ctx, "generic:msg_1")
			if err != nil {
				t.Fatalf("Get = %v", err)
			}
			if !got.Time.Equal(r.Time) || got.Sender != "generic" || got.Ticket != r.Ticket || got.Ticket.ApprovedByID != "u-2" ||
				got.ConfigurationID != "conf-1" || got.AssignmentID != "conf-1_asg" || got.Action != ActionApply ||
				!slices.Equal(got.GraphRequestIDs, []string{"req-1", "req-2"}) || got.DeliveryID != "msg_1" {
				t.Errorf("Get = %+v, want what was put: %+v", got, r)
			}
			if string(got.Before) != `{"id":"conf-1_asg","target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}` ||
				string(got.After) != string(r.After) {
				t.Errorf("Get: before %s, after %s; want Graph's JSON, compacted", got.Before, got.After)
			}
			rv := rec("generic:msg_2", "generic", "CHG001", "conf-1", "conf-1_asg", c.now().Add(time.Minute))
			rv.Action, rv.Reverts, rv.Before, rv.After = ActionRevert, "generic:msg_1", r.After, json.RawMessage("null")
			if err := st.Put(ctx, rv); err != nil {
				t.Fatalf("Put(revert) = %v", err)
			}
			if got, err := st.Get(ctx, "generic:msg_2"); err != nil || got.Reverts != "generic:msg_1" || got.Action != ActionRevert || string(got.After) != "null" {
				t.Errorf("Get(revert) = %+v, %v", got, err)
			}
		})
	}
}

func TestIdempotentPut(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			c := newClock()
			st := mk(c, nil)
			r := rec("slack:T1:abc", "slack", "CHG1", "conf", "asg", time.Time{})
			for i := 0; i < 3; i++ {
				if err := st.Put(ctx, r); err != nil {
					t.Fatalf("Put #%d = %v", i+1, err)
				}
				c.advance(time.Second) // a retry comes later: the filled-in time holds
			}
			again := *r
			again.Before = json.RawMessage(" {\"id\" : \"asg\", \"target\":{\"@odata.type\":\"#microsoft.graph.allDevicesAssignmentTarget\"}}\n")
			if err := st.Put(ctx, &again); err != nil {
				t.Errorf("Put(the same record, other whitespace) = %v, want nil", err)
			}
			if got, _ := st.ByTicket(ctx, "slack", "CHG1"); len(got) != 1 {
				t.Errorf("ByTicket after repeated puts = %q, want one record", ids(got))
			}
			if got, _ := st.ByAssignment(ctx, "conf", "asg", 10); len(got) != 1 {
				t.Errorf("ByAssignment after repeated puts = %q, want one record", ids(got))
			}
			other := *r
			other.After = json.RawMessage(`{"id":"asg","target":{"@odata.type":"#microsoft.graph.allLicensedUsersAssignmentTarget"}}`)
			other.Time = r.Time.Add(time.Hour)
			if err := st.Put(ctx, &other); !errors.Is(err, ErrConflict) {
				t.Fatalf("Put(another record, same id) = %v, want ErrConflict", err)
			}
			got, err := st.Get(ctx, r.ID)
			if err != nil || string(got.After) != string(r.After) || !got.Time.Equal(r.Time) {
				t.Errorf("Get after a conflict = %+v, %v; want the first record", got, err)
			}
			if got, _ := st.ByTicket(ctx, "slack", "CHG1"); len(got) != 1 {
				t.Errorf("ByTicket after a conflict = %q, want one record", ids(got))
			}
		})
	}
}

func TestOrdering(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			c := newClock()
			st := mk(c, nil)
			t0 := c.now().Truncate(time.Second).Add(-time.Hour)
			// Put out of order; two share a time and sort by id. The
			// times cross a whole second (no fraction), which a
			// trimmed RFC 3339 form would sort wrongly.
			for _, p := range []struct {
				id string
				at time.Duration
			}{
				{"d", 3 * time.Second}, {"b", time.Second}, {"e", 3*time.Second + 500*time.Millisecond},
				{"a", 0}, {"c2", 2 * time.Second}, {"c1", 2 * time.Second}, {"z", 999 * time.Millisecond},
			} {
				if err := st.Put(ctx, rec(p.id, "jira", "OPS-1", "conf", "asg", t0.Add(p.at))); err != nil {
					t.Fatal(err)
				}
			}
			got, err := st.ByTicket(ctx, "jira", "OPS-1")
			if want := []string{"a", "z", "b", "c1", "c2", "d", "e"}; err != nil || !slices.Equal(ids(got), want) {
				t.Errorf("ByTicket = %q, %v; want oldest first %q", ids(got), err, want)
			}
			got, err = st.ByAssignment(ctx, "conf", "asg", 10)
			if want := []string{"e", "d", "c2", "c1", "b", "z", "a"}; err != nil || !slices.Equal(ids(got), want) {
				t.Errorf("ByAssignment = %q, %v; want latest first %q", ids(got), err, want)
			}
		})
	}
}

func TestHistoryLimit(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			c := newClock()
			st := mk(c, nil)
			t0 := c.now().Add(-time.Hour)
			var all []string
			for i := 0; i < 13; i++ {
				id := fmt.Sprintf("generic:m%02d", i)
				// Several tickets on one assignment: history is per
				// assignment, whatever the ticket.
				if err := st.Put(ctx, rec(id, "generic", fmt.Sprintf("CHG%d", i%3), "conf", "asg", t0.Add(time.Duration(i)*time.Minute))); err != nil {
					t.Fatal(err)
				}
				all = append([]string{id}, all...)
			}
			_ = st.Put(ctx, rec("generic:other", "generic", "CHG0", "conf", "asg2", t0))
			for _, tc := range []struct{ limit, want int }{{5, 5}, {1, 1}, {0, DefaultHistory}, {-1, DefaultHistory}, {13, 13}, {500, 13}} {
				got, err := st.ByAssignment(ctx, "conf", "asg", tc.limit)
				if err != nil || !slices.Equal(ids(got), all[:tc.want]) {
					t.Errorf("ByAssignment(limit %d) = %q, %v; want the latest %d: %q", tc.limit, ids(got), err, tc.want, all[:tc.want])
				}
			}
			if got, err := st.ByTicket(ctx, "generic", "CHG1"); err != nil || len(got) != 4 {
				t.Errorf("ByTicket(CHG1) = %q, %v; want its 4 records", ids(got), err)
			}
		})
	}
}

func TestIsolation(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			c := newClock()
			st := mk(c, nil)
			at := c.now()
			// Pairs that would meet if the key joined its parts with '#'
			// unescaped, or folded case.
			for _, r := range []*Record{
				rec("1", "generic", "A#B", "c#1", "a", at),
				rec("2", "generic#A", "B", "c", "1#a", at),
				rec("3", "generic", "A%23B", "c%231", "a", at),
				rec("4", "generic", "chg1", "C", "A", at),
				rec("5", "generic", "CHG1", "c", "a", at),
				rec("6", "jira", "CHG1", "c", "a", at),
			} {
				if err := st.Put(ctx, r); err != nil {
					t.Fatalf("Put(%s) = %v", r.ID, err)
				}
			}
			for _, tc := range []struct {
				sender, ticket string
				want           string
			}{
				{"generic", "A#B", "1"}, {"generic#A", "B", "2"}, {"generic", "A%23B", "3"},
				{"generic", "chg1", "4"}, {"generic", "CHG1", "5"}, {"jira", "CHG1", "6"},
				{"generic", "A", ""}, {"generic", "Chg1", ""}, {"generic#A#B", "", ""},
			} {
				got, err := st.ByTicket(ctx, tc.sender, tc.ticket)
				if tc.ticket == "" {
					if !errors.Is(err, ErrInvalid) {
						t.Errorf("ByTicket(%q, %q) = %q, %v; want ErrInvalid", tc.sender, tc.ticket, ids(got), err)
					}
					continue
				}
				if want := strings.Fields(tc.want); err != nil || !slices.Equal(ids(got), want) {
					t.Errorf("ByTicket(%q, %q) = %q, %v; want %q", tc.sender, tc.ticket, ids(got), err, want)
				}
			}
			for _, tc := range []struct{ conf, asg, want string }{
				{"c#1", "a", "1"}, {"c", "1#a", "2"}, {"c%231", "a", "3"}, {"C", "A", "4"}, {"c", "a", "6 5"}, {"c", "A", ""},
			} {
				got, err := st.ByAssignment(ctx, tc.conf, tc.asg, 10)
				if want := strings.Fields(tc.want); err != nil || !slices.Equal(ids(got), want) {
					t.Errorf("ByAssignment(%q, %q) = %q, %v; want %q", tc.conf, tc.asg, ids(got), err, want)
				}
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := mk(newClock(), nil)
			_ = st.Put(ctx, rec("generic:msg_1", "generic", "CHG1", "c", "a", time.Time{}))
			for _, id := range []string{"generic:msg_2", "GENERIC:MSG_1", "msg_1", "generic:msg_1#"} {
				got, err := st.Get(ctx, id)
				var nf *NotFoundError
				if !errors.As(err, &nf) || nf.ID != id || !errors.Is(err, ErrNotFound) || got != nil {
					t.Errorf("Get(%q) = %+v, %v; want *NotFoundError", id, got, err)
				}
			}
			if got, err := st.ByTicket(ctx, "generic", "CHG2"); err != nil || len(got) != 0 {
				t.Errorf("ByTicket(a ticket without records) = %q, %v; want none", ids(got), err)
			}
			if _, err := st.Get(ctx, ""); !errors.Is(err, ErrInvalid) {
				t.Errorf("Get(\"\") = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	big := json.RawMessage(`"` + strings.Repeat("x", MaxSize) + `"`)
	half := json.RawMessage(`"` + strings.Repeat("x", MaxSize/2) + `"`)
	for _, tc := range []struct {
		name  string
		edit  func(r *Record)
		want  error
		field string
	}{
		{"no id", func(r *Record) { r.ID = "" }, ErrInvalid, "id"},
		{"no sender", func(r *Record) { r.Sender = "" }, ErrInvalid, "sender"},
		{"no ticket", func(r *Record) { r.Ticket.ID = "" }, ErrInvalid, "ticket.id"},
		{"no configuration", func(r *Record) { r.ConfigurationID = "" }, ErrInvalid, "configurationId"},
		{"no assignment", func(r *Record) { r.AssignmentID = "" }, ErrInvalid, "assignmentId"},
		{"no action", func(r *Record) { r.Action = "" }, ErrInvalid, "action"},
		{"unknown action", func(r *Record) { r.Action = "delete" }, ErrInvalid, "action"},
		{"revert without its record", func(r *Record) { r.Action = ActionRevert }, ErrInvalid, "reverts"},
		{"apply naming a record", func(r *Record) { r.Reverts = "x" }, ErrInvalid, "reverts"},
		{"unknown state", func(r *Record) { r.State = "planned" }, ErrInvalid, "state"},
		{"no before", func(r *Record) { r.Before = nil }, ErrInvalid, "before"},
		{"after not JSON", func(r *Record) { r.After = json.RawMessage(`{"id":`) }, ErrInvalid, "after"},
		{"ticket id not UTF-8", func(r *Record) { r.Ticket.ID = "CHG\xff" }, ErrInvalid, "ticket.id"},
		{"id too long", func(r *Record) { r.ID = strings.Repeat("i", MaxIDLength+1) }, ErrInvalid, "id"},
		{"empty graph request id", func(r *Record) { r.GraphRequestIDs = []string{""} }, ErrInvalid, "graphRequestIds"},
		{"time out of range", func(r *Record) { r.Time = time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC) }, ErrInvalid, "time"},
		{"before too large", func(r *Record) { r.Before = big }, ErrTooLarge, "before"},
		{"record too large", func(r *Record) { r.Before, r.After = half, half }, ErrTooLarge, "bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for name, mk := range stores(t) {
				st := mk(newClock(), nil)
				r := rec("generic:m", "generic", "CHG1", "c", "a", time.Time{})
				tc.edit(r)
				err := st.Put(ctx, r)
				if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.field) {
					t.Errorf("%s: Put = %v, want %v naming %s", name, err, tc.want, tc.field)
				}
				if got, err := st.ByTicket(ctx, "generic", "CHG1"); err != nil || len(got) != 0 {
					t.Errorf("%s: ByTicket after a refused Put = %q, %v; want nothing stored", name, ids(got), err)
				}
			}
		})
	}
	if err := NewMemory(nil).Put(ctx, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("Put(nil) = %v, want ErrInvalid", err)
	}
}

func TestConcurrentPuts(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			c := newClock()
			st := mk(c, nil)
			at := c.now()
			same := rec("generic:same", "generic", "CHG1", "c", "a", at)
			var wg sync.WaitGroup
			var mu sync.Mutex
			var sameErrs, distinctErrs []error
			won, conflicts := 0, 0
			for i := 0; i < 20; i++ {
				wg.Add(3)
				go func() { // twenty different changes of the ticket
					defer wg.Done()
					err := st.Put(ctx, rec(fmt.Sprintf("generic:%02d", i), "generic", "CHG1", "c", "a", at.Add(time.Duration(i)*time.Millisecond)))
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						distinctErrs = append(distinctErrs, err)
					}
				}()
				go func() { // one record, retried twenty times
					defer wg.Done()
					r := *same
					err := st.Put(ctx, &r)
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						sameErrs = append(sameErrs, err)
					}
				}()
				go func() { // twenty different records racing for one id
					defer wg.Done()
					r := rec("generic:raced", "generic", "CHG1", "c", "a", at.Add(time.Duration(i)*time.Second))
					err := st.Put(ctx, r)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						won++
					case errors.Is(err, ErrConflict):
						conflicts++
					default:
						t.Errorf("raced Put = %v", err)
					}
				}()
			}
			wg.Wait()
			if len(distinctErrs) > 0 || len(sameErrs) > 0 {
				t.Fatalf("Put errors: distinct %v, same %v", distinctErrs, sameErrs)
			}
			if won != 1 || conflicts != 19 {
				t.Errorf("raced puts: %d stored, %d conflicts; want 1 and 19", won, conflicts)
			}
			got, err := st.ByTicket(ctx, "generic", "CHG1")
			if err != nil || len(got) != 22 {
				t.Fatalf("ByTicket = %d records %q, %v; want 22 (20 changes, the retried one once, the raced id once)", len(got), ids(got), err)
			}
			raced := 0
			for _, r := range got {
				if r.ID == "generic:raced" {
					raced++
				}
			}
			if raced != 1 {
				t.Errorf("ByTicket holds the raced id %d times, want once", raced)
			}
		})
	}
}

func TestRetention(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			c := newClock()
			st := mk(c, &Options{Retention: 7 * 24 * time.Hour})
			old := rec("generic:m", "generic", "CHG1", "c", "a", time.Time{})
			if err := st.Put(ctx, old); err != nil {
				t.Fatal(err)
			}
			c.advance(7*24*time.Hour - time.Second)
			if _, err := st.Get(ctx, "generic:m"); err != nil {
				t.Fatalf("Get a second before the retention ends = %v", err)
			}
			c.advance(time.Second)
			if got, err := st.Get(ctx, "generic:m"); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get once the retention ended = %+v, %v; want ErrNotFound", got, err)
			}
			if got, err := st.ByTicket(ctx, "generic", "CHG1"); err != nil || len(got) != 0 {
				t.Errorf("ByTicket once the retention ended = %q, %v; want none", ids(got), err)
			}
			if got, err := st.ByAssignment(ctx, "c", "a", 10); err != nil || len(got) != 0 {
				t.Errorf("ByAssignment once the retention ended = %q, %v; want none", ids(got), err)
			}
			// The id is free again: a new record takes it.
			fresh := rec("generic:m", "generic", "CHG2", "c", "a", time.Time{})
			if err := st.Put(ctx, fresh); err != nil {
				t.Fatalf("Put under an expired id = %v", err)
			}
			if got, err := st.Get(ctx, "generic:m"); err != nil || got.Ticket.ID != "CHG2" {
				t.Errorf("Get = %+v, %v; want the new record", got, err)
			}
		})
	}
}

// TestMemoryBound: the embedded store keeps at most MaxRecords; expired
// records make room first, then the oldest change goes.
func TestMemoryBound(t *testing.T) {
	c := newClock()
	m := NewMemory(&Options{Now: c.now, MaxRecords: 3, Retention: time.Hour})
	t0 := c.now().Add(-time.Minute)
	for i, id := range []string{"b", "a", "c"} {
		_ = m.Put(ctx, rec(id, "generic", "CHG1", "c", "x", t0.Add(time.Duration(3-i)*time.Second)))
	}
	// Full: "c" has the oldest time and goes.
	if err := m.Put(ctx, rec("d", "generic", "CHG1", "c", "x", t0.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	got, _ := m.ByTicket(ctx, "generic", "CHG1")
	if want := []string{"a", "b", "d"}; !slices.Equal(ids(got), want) {
		t.Errorf("after a Put into a full store: %q, want %q (the oldest change evicted)", ids(got), want)
	}
	if _, err := m.Get(ctx, "c"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(evicted) = %v, want ErrNotFound", err)
	}
	// Expired records go first, however recent their change.
	c.advance(30 * time.Minute)
	_ = m.Put(ctx, rec("e", "generic", "CHG2", "c", "x", t0))
	c.advance(31 * time.Minute) // b and d expired (a made room for e); e has not
	for _, id := range []string{"f", "g"} {
		if err := m.Put(ctx, rec(id, "generic", "CHG2", "c", "x", t0.Add(-time.Hour))); err != nil {
			t.Fatal(err)
		}
	}
	got, _ = m.ByTicket(ctx, "generic", "CHG2")
	if want := []string{"f", "g", "e"}; !slices.Equal(ids(got), want) {
		t.Errorf("after the older records expired: %q, want %q", ids(got), want)
	}
	m.mu.Lock()
	n, tickets, asgs := len(m.byID), len(m.byTicket), len(m.byAssignment)
	m.mu.Unlock()
	if n != 3 || tickets != 1 || asgs != 1 {
		t.Errorf("the store holds %d records in %d tickets and %d assignments; want 3, 1, 1 (nothing left behind)", n, tickets, asgs)
	}
}

func FuzzKeys(f *testing.F) {
	f.Add("generic", "A#B", "generic#A", "B")
	f.Add("generic", "A%23B", "generic", "A#B")
	f.Add("a%", "b", "a", "%b")
	f.Fuzz(func(t *testing.T, s1, t1, s2, t2 string) {
		if s1 == s2 && t1 == t2 {
			return
		}
		if ticketKey(s1, t1) == ticketKey(s2, t2) {
			t.Fatalf("ticketKey(%q, %q) == ticketKey(%q, %q)", s1, t1, s2, t2)
		}
		if assignmentKey(s1, t1) == assignmentKey(s2, t2) {
			t.Fatalf("assignmentKey(%q, %q) == assignmentKey(%q, %q)", s1, t1, s2, t2)
		}
		if t1 != t2 && idKey(t1) == idKey(t2) {
			t.Fatalf("idKey(%q) == idKey(%q)", t1, t2)
		}
	})
}
