package change

import (
	"bytes"
	"fmt"
	"testing"
)

// addAll adds each name to a fresh set (hashing with hash, nil for the
// default) and returns what add reported for each.
func addAll(list [][]byte, hash func([]byte) uint64) []bool {
	s := names{hash: hash}
	out := make([]bool, len(list))
	for i, n := range list {
		out[i] = s.add(n)
	}
	return out
}

// repeatsByFold is the oracle: each name repeats an earlier one when
// bytes.EqualFold holds between them, as encoding/json matches names.
func repeatsByFold(list [][]byte) []bool {
	out := make([]bool, len(list))
	for i := range list {
		for _, prev := range list[:i] {
			if bytes.EqualFold(prev, list[i]) {
				out[i] = true
				break
			}
		}
	}
	return out
}

// clashing hashes names so that many different ones share a hash, which
// maphash as good as never does: the comparisons behind the hash must
// still tell them apart.
func clashing(folded []byte) uint64 { return uint64(len(folded) % 3) }

func checkNames(t *testing.T, list [][]byte) {
	t.Helper()
	want := repeatsByFold(list)
	for _, h := range []struct {
		name string
		fn   func([]byte) uint64
	}{{"maphash", nil}, {"clashing", clashing}} {
		if got := addAll(list, h.fn); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: repeats of %q = %v, want %v", h.name, list, got, want)
		}
	}
}

// TestNamesPastTheBuffer: an object of more names than the set keeps
// unhashed finds a repeat in another case (including the Kelvin sign and
// the long s, which fold to K and S), whether the first spelling was kept
// before or after the set began to hash, and takes no distinct name for a
// repeat, even when every name shares a hash with others.
func TestNamesPastTheBuffer(t *testing.T) {
	var list [][]byte
	for i := 0; i < 40; i++ {
		list = append(list, []byte(fmt.Sprintf("field_%d", i)))
	}
	list = append(list, []byte("FIELD_3"), []byte("Field_30"), []byte("ticket"), []byte("tic\u212aet"), []byte("\u017fys"), []byte("SYS"), []byte("field_41"))
	checkNames(t, list)
	got := addAll(list, clashing)
	for i, want := range []bool{true, true, false, true, false, true, false} {
		if got[40+i] != want {
			t.Errorf("%q repeats = %v, want %v", list[40+i], got[40+i], want)
		}
	}
}

// FuzzNames holds add to the pairwise bytes.EqualFold oracle over lists
// long enough to pass the unhashed buffer, with real and clashing hashes.
func FuzzNames(f *testing.F) {
	f.Add([]byte("a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,A"), uint8(0))
	f.Add([]byte("k,\u212a,\u017f,S,\xff,\xfe,x"), uint8(20))
	f.Fuzz(func(t *testing.T, data []byte, pad uint8) {
		var list [][]byte
		for i := 0; i < int(pad%40); i++ {
			list = append(list, []byte(fmt.Sprintf("pad%d", i)))
		}
		list = append(list, bytes.Split(data, []byte(","))...)
		checkNames(t, list)
	})
}
