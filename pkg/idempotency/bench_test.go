package idempotency

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// BenchmarkStore is the de-duplication overhead of one delivery: the
// conditional write that takes it and the write that stores its answer
// (Begin and Complete, as the handler calls them). Keys cycle through
// 10000, each completed record already expired, so the embedded store stays
// at a steady size instead of filling up. dynalite runs on loopback in another process (Node.js), so its
// figure is the protocol's round trips plus the SDK's signing and
// encoding, not DynamoDB's own latency.
func BenchmarkStore(b *testing.B) {
	resp := Response{Status: 200, Headers: map[string]string{"X-Graph-Request-Id": "5f0c0a4e-0000-4000-8000-000000000001"},
		Body: make([]byte, 600)}
	run := func(b *testing.B, s Store) {
		ctx := context.Background()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			l, err := s.Begin(ctx, "generic:msg_bench_"+strconv.Itoa(i%10000), "fingerprint", time.Now().Add(25*time.Second))
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Complete(ctx, l, resp, time.Now().Add(-time.Second)); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("embedded", func(b *testing.B) { run(b, NewMemory(nil, 0)) })
	b.Run("dynalite", func(b *testing.B) {
		client := dynalite(b)
		if client == nil {
			b.Skip("ENROLLHOOK_DYNALITE not set")
		}
		run(b, NewDynamoDB(client.Client(b), createTable(b, client, "bench-"+strconv.FormatInt(time.Now().UnixNano(), 36)), nil))
	})
}
