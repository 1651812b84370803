package idempotency

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/enrollhook/enrollhook/pkg/awsapi"
	"github.com/enrollhook/enrollhook/pkg/awsapi/awsapitest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// stores returns every implementation under test, each on its own clock.
func stores(t *testing.T) map[string]func(*clock) Store {
	out := map[string]func(*clock) Store{
		"memory": func(c *clock) Store { return NewMemory(c.now, 0) },
	}
	if client := dynalite(t); client != nil {
		i := 0
		out["dynamodb"] = func(c *clock) Store {
			i++
			return NewDynamoDB(client.Client(t), createTable(t, client, fmt.Sprintf("%s-%d", t.Name(), i)), c.now)
		}
	}
	return out
}

func TestMain(m *testing.M) { awsapitest.Main(m) }

// dynalite is the DynamoDB-compatible server of this test binary
// (awsapitest: ENROLLHOOK_DYNALITE, required in CI), or nil.
func dynalite(t testing.TB) *awsapitest.Dynalite { return awsapitest.Start(t) }

// createTable creates an empty store table named after name and returns
// its name.
func createTable(t testing.TB, d *awsapitest.Dynalite, name string) string {
	t.Helper()
	return d.CreateTable(t, dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(attrID), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(attrID), KeyType: types.KeyTypeHash}},
	})
}

var t0 = time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)

func TestProtocol(t *testing.T) {
	ctx := context.Background()
	answer := Response{Status: 200, Headers: map[string]string{"X-Graph-Request-Id": "g-1"}, Body: []byte(`{"id":"a"}`)}
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t.Run("first attempt holds, a duplicate waits", func(t *testing.T) {
				c := &clock{t: t0}
				st := mk(c)
				l, err := st.Begin(ctx, "k", "fp", t0.Add(10*time.Second))
				if err != nil || l.Replay != nil || l.Holder == "" {
					t.Fatalf("Begin = %+v, %v", l, err)
				}
				c.advance(3 * time.Second)
				_, err = st.Begin(ctx, "k", "fp", t0.Add(20*time.Second))
				var ip *InProgressError
				if !errors.As(err, &ip) || !errors.Is(err, ErrInProgress) {
					t.Fatalf("duplicate Begin = %v, want in progress", err)
				}
				if ip.RetryAfter < 7*time.Second || ip.RetryAfter > 8*time.Second {
					t.Errorf("RetryAfter = %v, want about the holder's remaining 7s", ip.RetryAfter)
				}
			})
			t.Run("completed answers are replayed", func(t *testing.T) {
				c := &clock{t: t0}
				st := mk(c)
				l, _ := st.Begin(ctx, "k", "fp", t0.Add(10*time.Second))
				if err := st.Complete(ctx, l, answer, t0.Add(48*time.Hour)); err != nil {
					t.Fatal(err)
				}
				c.advance(47 * time.Hour)
				r, err := st.Begin(ctx, "k", "fp", c.now().Add(10*time.Second))
				if err != nil || r.Replay == nil || r.Replay.Status != 200 || string(r.Replay.Body) != `{"id":"a"}` || r.Replay.Headers["X-Graph-Request-Id"] != "g-1" {
					t.Fatalf("Begin after completion = %+v, %v", r, err)
				}
			})
			t.Run("a completed record expires", func(t *testing.T) {
				c := &clock{t: t0}
				st := mk(c)
				l, _ := st.Begin(ctx, "k", "fp", t0.Add(10*time.Second))
				_ = st.Complete(ctx, l, answer, t0.Add(time.Hour))
				c.advance(time.Hour + time.Second)
				r, err := st.Begin(ctx, "k", "fp", c.now().Add(10*time.Second))
				if err != nil || r.Replay != nil {
					t.Fatalf("Begin after expiry = %+v, %v, want a fresh hold", r, err)
				}
			})
			t.Run("same key, different body", func(t *testing.T) {
				c := &clock{t: t0}
				st := mk(c)
				l, _ := st.Begin(ctx, "k", "fp", t0.Add(10*time.Second))
				if _, err := st.Begin(ctx, "k", "other", t0.Add(10*time.Second)); !errors.Is(err, ErrMismatch) {
					t.Fatalf("in progress: Begin(other) = %v, want ErrMismatch", err)
				}
				_ = st.Complete(ctx, l, answer, t0.Add(time.Hour))
				if _, err := st.Begin(ctx, "k", "other", t0.Add(10*time.Second)); !errors.Is(err, ErrMismatch) {
					t.Fatalf("completed: Begin(other) = %v, want ErrMismatch", err)
				}
			})
			t.Run("a failed attempt releases the key", func(t *testing.T) {
				c := &clock{t: t0}
				st := mk(c)
				l, _ := st.Begin(ctx, "k", "fp", t0.Add(10*time.Second))
				if err := st.Release(ctx, l); err != nil {
					t.Fatal(err)
				}
				r, err := st.Begin(ctx, "k", "fp", t0.Add(10*time.Second))
				if err != nil || r.Replay != nil {
					t.Fatalf("Begin after release = %+v, %v", r, err)
				}
			})
			t.Run("a dead holder is taken over after its expiry", func(t *testing.T) {
				c := &clock{t: t0}
				st := mk(c)
				dead, _ := st.Begin(ctx, "k", "fp", t0.Add(2*time.Second))
				c.advance(2*time.Second + time.Millisecond)
				live, err := st.Begin(ctx, "k", "fp", c.now().Add(10*time.Second))
				if err != nil || live.Replay != nil || live.Holder == dead.Holder {
					t.Fatalf("takeover Begin = %+v, %v", live, err)
				}
				if err := st.Complete(ctx, dead, answer, t0.Add(time.Hour)); !errors.Is(err, ErrLost) {
					t.Errorf("the dead holder's Complete = %v, want ErrLost", err)
				}
				_ = st.Release(ctx, dead) // must not remove the live holder's record
				if _, err := st.Begin(ctx, "k", "fp", c.now().Add(10*time.Second)); !errors.Is(err, ErrInProgress) {
					t.Errorf("after the dead holder's Release: Begin = %v, want the live holder still in progress", err)
				}
				if err := st.Complete(ctx, live, answer, c.now().Add(time.Hour)); err != nil {
					t.Errorf("live Complete = %v", err)
				}
			})
			t.Run("an attempt of unknown outcome leaves its note to the next hold", func(t *testing.T) {
				c := &clock{t: t0}
				st := mk(c)
				l, _ := st.Begin(ctx, "k", "fp", t0.Add(10*time.Second))
				if l.Attempt != nil {
					t.Fatalf("a first hold carries a note: %q", l.Attempt)
				}
				if err := st.Attempted(ctx, l, []byte(`{"prior":1}`), t0.Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
				if _, err := st.Begin(ctx, "k", "other", t0.Add(10*time.Second)); !errors.Is(err, ErrMismatch) {
					t.Fatalf("attempted: Begin(other) = %v, want ErrMismatch", err)
				}
				c.advance(time.Minute)
				retry, err := st.Begin(ctx, "k", "fp", c.now().Add(10*time.Second))
				if err != nil || retry.Replay != nil || string(retry.Attempt) != `{"prior":1}` {
					t.Fatalf("the retry's Begin = %+v, %v; want a hold with the note", retry, err)
				}
				if _, err := st.Begin(ctx, "k", "fp", c.now().Add(10*time.Second)); !errors.Is(err, ErrInProgress) {
					t.Fatalf("while the retry holds it: Begin = %v, want in progress", err)
				}
				// The retry fails too, without knowing more: its release
				// keeps the first attempt's note.
				if err := st.Release(ctx, retry); err != nil {
					t.Fatal(err)
				}
				again, err := st.Begin(ctx, "k", "fp", c.now().Add(10*time.Second))
				if err != nil || string(again.Attempt) != `{"prior":1}` {
					t.Fatalf("after the retry's release: Begin = %+v, %v; want the note still", again, err)
				}
				// This one settles it: the note goes with the answer.
				if err := st.Complete(ctx, again, answer, c.now().Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
				c.advance(time.Hour + time.Second)
				fresh, err := st.Begin(ctx, "k", "fp", c.now().Add(10*time.Second))
				if err != nil || fresh.Replay != nil || fresh.Attempt != nil {
					t.Fatalf("after the answer expired: Begin = %+v, %v; want a fresh hold without a note", fresh, err)
				}
			})
			t.Run("a note expires", func(t *testing.T) {
				c := &clock{t: t0}
				st := mk(c)
				l, _ := st.Begin(ctx, "k", "fp", t0.Add(10*time.Second))
				_ = st.Attempted(ctx, l, []byte(`n`), t0.Add(time.Hour))
				c.advance(time.Hour + time.Second)
				r, err := st.Begin(ctx, "k", "other", c.now().Add(10*time.Second))
				if err != nil || r.Replay != nil || r.Attempt != nil {
					t.Fatalf("Begin after the note expired = %+v, %v; want a fresh hold, any body", r, err)
				}
			})
			t.Run("a note outlives a holder that died", func(t *testing.T) {
				c := &clock{t: t0}
				st := mk(c)
				l, _ := st.Begin(ctx, "k", "fp", t0.Add(10*time.Second))
				_ = st.Attempted(ctx, l, []byte(`n`), t0.Add(time.Hour))
				dead, _ := st.Begin(ctx, "k", "fp", t0.Add(2*time.Second))
				c.advance(2*time.Second + time.Millisecond)
				live, err := st.Begin(ctx, "k", "fp", c.now().Add(10*time.Second))
				if err != nil || live.Holder == dead.Holder || string(live.Attempt) != "n" {
					t.Fatalf("takeover Begin = %+v, %v; want a new hold with the note", live, err)
				}
				if err := st.Attempted(ctx, dead, []byte(`other`), t0.Add(time.Hour)); !errors.Is(err, ErrLost) {
					t.Errorf("the dead holder's Attempted = %v, want ErrLost", err)
				}
				if _, err := st.Begin(ctx, "k", "fp", c.now().Add(10*time.Second)); !errors.Is(err, ErrInProgress) {
					t.Errorf("after the dead holder's Attempted: Begin = %v, want the live holder still in progress", err)
				}
			})
			t.Run("a note kept before the write outlives a holder that died, for its own delivery only", func(t *testing.T) {
				c := &clock{t: t0}
				st := mk(c)
				l, _ := st.Begin(ctx, "k", "fp", t0.Add(2*time.Second))
				if err := st.Note(ctx, l, []byte(`before the write`), t0.Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
				c.advance(2*time.Second + time.Millisecond) // the holder died after its write
				if _, err := st.Begin(ctx, "k", "other", c.now().Add(2*time.Second)); !errors.Is(err, ErrMismatch) {
					t.Fatalf("another body while the note lives: Begin = %v, want ErrMismatch", err)
				}
				retry, err := st.Begin(ctx, "k", "fp", c.now().Add(2*time.Second))
				if err != nil || string(retry.Attempt) != "before the write" {
					t.Fatalf("the retry = %+v, %v; want the hold with the note", retry, err)
				}
				c.advance(2*time.Second + time.Millisecond) // the retry died too
				if _, err := st.Begin(ctx, "k", "other", c.now().Add(2*time.Second)); !errors.Is(err, ErrMismatch) {
					t.Fatalf("another body after a second death: Begin = %v, want ErrMismatch", err)
				}
				again, err := st.Begin(ctx, "k", "fp", c.now().Add(10*time.Second))
				if err != nil || string(again.Attempt) != "before the write" {
					t.Fatalf("the next retry = %+v, %v; want the note still", again, err)
				}
				if err := st.Note(ctx, retry, []byte(`late`), t0.Add(time.Hour)); !errors.Is(err, ErrLost) {
					t.Errorf("a dead holder's Note = %v, want ErrLost", err)
				}
			})
			t.Run("a note of an attempt that wrote nothing goes with its release", func(t *testing.T) {
				c := &clock{t: t0}
				st := mk(c)
				l, _ := st.Begin(ctx, "k", "fp", t0.Add(10*time.Second))
				_ = st.Note(ctx, l, []byte(`n`), t0.Add(time.Hour))
				if err := st.Release(ctx, l); err != nil {
					t.Fatal(err)
				}
				r, err := st.Begin(ctx, "k", "other", t0.Add(10*time.Second))
				if err != nil || r.Attempt != nil {
					t.Fatalf("Begin after the release = %+v, %v; want a fresh hold, any body, no note", r, err)
				}
				_ = st.Note(ctx, r, []byte(`n`), t0.Add(time.Hour))
				if err := st.Complete(ctx, r, answer, t0.Add(time.Minute)); err != nil {
					t.Fatal(err)
				}
				c.advance(time.Minute + time.Second)
				if r, err := st.Begin(ctx, "k", "fp", c.now().Add(10*time.Second)); err != nil || r.Attempt != nil {
					t.Fatalf("Begin after the completed answer expired = %+v, %v; want a fresh hold, no note", r, err)
				}
			})
			t.Run("a retry that keeps its note anew carries it, and its release puts that back", func(t *testing.T) {
				c := &clock{t: t0}
				st := mk(c)
				l, _ := st.Begin(ctx, "k", "fp", t0.Add(10*time.Second))
				if err := st.Attempted(ctx, l, []byte(`n1`), t0.Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
				c.advance(50 * time.Minute)
				retry, err := st.Begin(ctx, "k", "fp", c.now().Add(10*time.Second))
				if err != nil || string(retry.Attempt) != "n1" {
					t.Fatalf("the retry = %+v, %v", retry, err)
				}
				if err := st.Note(ctx, retry, []byte(`n2`), c.now().Add(time.Hour)); err != nil || string(retry.Attempt) != "n2" {
					t.Fatalf("Note = %v, the lease carries %q; want n2", err, retry.Attempt)
				}
				if err := st.Release(ctx, retry); err != nil {
					t.Fatal(err)
				}
				c.advance(20 * time.Minute) // past n1's expiry, before n2's
				next, err := st.Begin(ctx, "k", "fp", c.now().Add(10*time.Second))
				if err != nil || string(next.Attempt) != "n2" {
					t.Errorf("the next attempt = %+v, %v; want the note n2, kept until its own expiry", next, err)
				}
			})
			t.Run("50 concurrent identical deliveries, one holder", func(t *testing.T) {
				c := &clock{t: t0}
				st := mk(c)
				var wg sync.WaitGroup
				var mu sync.Mutex
				held, waiting := 0, 0
				for i := 0; i < 50; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						l, err := st.Begin(ctx, "k", "fp", t0.Add(10*time.Second))
						mu.Lock()
						defer mu.Unlock()
						switch {
						case err == nil && l.Replay == nil:
							held++
						case errors.Is(err, ErrInProgress):
							waiting++
						default:
							t.Errorf("Begin = %+v, %v", l, err)
						}
					}()
				}
				wg.Wait()
				if held != 1 || waiting != 49 {
					t.Fatalf("held %d, waiting %d; want 1 and 49", held, waiting)
				}
			})
		})
	}
}

// lostAnswers is a DynamoDB client whose answers to the first call of each
// named operation are lost on the way back, so that the call is sent again,
// as awsapi's retry does after a reset connection: the first call took
// effect, and the retry meets its own write.
type lostAnswers struct {
	DynamoDBAPI
	mu   sync.Mutex
	lose map[string]int // how many of the next calls of each operation
}

func (l *lostAnswers) JSON(ctx context.Context, target string, in, out any) error {
	l.mu.Lock()
	lose := l.lose[target] > 0
	l.lose[target]--
	l.mu.Unlock()
	if lose {
		if err := l.DynamoDBAPI.JSON(ctx, target, in, nil); err != nil {
			return err
		}
	}
	return l.DynamoDBAPI.JSON(ctx, target, in, out)
}

// TestDynamoDBRetriedCallsMeetTheirOwnWrite: a delivery whose taking,
// giving up (Attempted) or completing UpdateItem was applied but answered
// too late to be read is still this attempt's, not "in progress" against
// itself or "lost", and the note an attempt left still comes with the hold.
func TestDynamoDBRetriedCallsMeetTheirOwnWrite(t *testing.T) {
	client := dynalite(t)
	if client == nil {
		t.Skip("no dynalite")
	}
	lossy := &lostAnswers{DynamoDBAPI: client.Client(t), lose: map[string]int{awsapi.DynamoDBTarget + "UpdateItem": 2}}
	st := NewDynamoDB(lossy, createTable(t, client, "lost-answers"), nil)
	ctx := context.Background()
	first, err := st.Begin(ctx, "generic:msg_1", "fp", time.Now().Add(time.Minute))
	if err != nil || first == nil || first.Replay != nil {
		t.Fatalf("Begin after a lost answer = %+v, %v; want this attempt's lease", first, err)
	}
	if err := st.Attempted(ctx, first, []byte(`note`), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Attempted after a lost answer = %v, want nil", err)
	}
	lossy.lose[awsapi.DynamoDBTarget+"UpdateItem"] = 1 // the taking update
	l, err := st.Begin(ctx, "generic:msg_1", "fp", time.Now().Add(time.Minute))
	if err != nil || l == nil || l.Replay != nil || string(l.Attempt) != "note" {
		t.Fatalf("Begin after a lost answer = %+v, %v; want this attempt's lease with the note", l, err)
	}
	// Note and Complete, each answered too late.
	lossy.lose[awsapi.DynamoDBTarget+"UpdateItem"] = 1
	if err := st.Note(ctx, l, []byte(`note`), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Note after a lost answer = %v, want nil", err)
	}
	lossy.lose[awsapi.DynamoDBTarget+"UpdateItem"] = 1
	if err := st.Complete(ctx, l, Response{Status: 200, Body: []byte(`{}`)}, time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Complete after a lost answer = %v, want nil", err)
	}
	again, err := st.Begin(ctx, "generic:msg_1", "fp", time.Now().Add(time.Minute))
	if err != nil || again.Replay == nil || again.Replay.Status != 200 {
		t.Fatalf("the next attempt = %+v, %v; want the stored answer", again, err)
	}
}
