package signature

import (
	"bytes"
	"testing"
	"time"
)

// TestDiagnosisBudget: the re-encoding check stops once its hashing
// budget is spent (the delivery is then refused as a plain mismatch) and
// resumes as the budget refills.
func TestDiagnosisBudget(t *testing.T) {
	now := time.Now()
	b := &hashBudget{rate: 1000, burst: 1000, now: func() time.Time { return now }}
	original := []byte(`{"ticket":{"id":"CHG0001","state":"approved"},"configurationId":"c1","assignmentId":"a1"}`)
	received := append(append([]byte{}, original...), '\n') // a newline added on the way
	matches := func(c []byte) bool { return bytes.Equal(c, original) }

	found := 0
	for range 50 {
		if b.reencoded(jsonBody, received, matches) {
			found++
		}
	}
	// Each check hashes one candidate of len(original) bytes before it
	// matches, and starts while the budget holds len(received).
	want := 0
	for left := 1000; left >= len(received); left -= len(original) {
		want++
	}
	if found != want || want < 2 {
		t.Errorf("%d of 50 checks ran within a budget of 1000 bytes, want %d", found, want)
	}
	if b.reencoded(jsonBody, received, matches) {
		t.Error("the check ran with its budget spent")
	}
	now = now.Add(time.Second)
	if !b.reencoded(jsonBody, received, matches) {
		t.Error("the check did not run again once the budget refilled")
	}
	// The refill stops at the burst.
	now = now.Add(time.Hour)
	b.allow(0)
	if b.avail != 1000 {
		t.Errorf("after an hour the budget holds %v bytes, want the burst of 1000", b.avail)
	}
}

// TestDiagnosisBudgetSkipsWithoutHashing: a body larger than what is left
// is not checked at all.
func TestDiagnosisBudgetSkipsWithoutHashing(t *testing.T) {
	now := time.Now()
	b := &hashBudget{rate: 100, burst: 100, now: func() time.Time { return now }}
	body := bytes.Repeat([]byte("x"), 101)
	called := false
	if b.reencoded(jsonBody, body, func([]byte) bool { called = true; return true }) || called {
		t.Error("a body larger than the budget was checked")
	}
}
