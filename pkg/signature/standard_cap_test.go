package signature

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestVerifyStandardReadsAtMostEightSignatures: rotation lets a sender send
// several v1 signatures, but a header padded with more than eight cannot
// make the receiver compute a MAC per entry: the ninth v1 entry is never
// read, even when it is the one that matches. Other versions do not count.
func TestVerifyStandardReadsAtMostEightSignatures(t *testing.T) {
	key, err := StandardKey(vecSecret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1614265330, 0)
	wrong := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = vecBadSig
		}
		return out
	}
	tests := []struct {
		name string
		sigs []string
		want error
	}{
		{"the match is the eighth v1 entry", append(wrong(7), vecSig), nil},
		{"the match is the ninth v1 entry", append(wrong(8), vecSig), ErrMismatch},
		{"the match after twenty", append(wrong(20), vecSig), ErrMismatch},
		{"other versions are not counted", append(strings.Fields(strings.Repeat("v2,AAAA ", 20)), append(wrong(7), vecSig)...), nil},
		{"the match first, then padding", append([]string{vecSig}, wrong(20)...), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := strings.Join(tt.sigs, " ")
			if err := VerifyStandard(key, vecID, vecTS, header, []byte(vecBody), now, 5*time.Minute); !errors.Is(err, tt.want) {
				t.Fatalf("VerifyStandard(%d entries) = %v, want %v", len(tt.sigs), err, tt.want)
			}
		})
	}
}
