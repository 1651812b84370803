package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"sync"
)

// A keyed HMAC-SHA256 costs several allocations to build (the state, two
// digests, the pads), more than the rest of a refusal together. A sender
// has one or two keys for the life of the process, so the states of a few
// keys are kept and reset instead of rebuilt; further keys (tests, fuzzing)
// build their own.

// maxPooledKeys bounds the keys whose states are kept.
const maxPooledKeys = 16

// macState is one reusable keyed HMAC-SHA256 with room for its sum and the
// bytes written before the body.
type macState struct {
	h      hash.Hash
	sum    [sha256.Size]byte
	prefix []byte
}

var macPools struct {
	sync.RWMutex
	byKey map[string]*sync.Pool
}

// getMAC returns a reset HMAC-SHA256 state for key; give it back with
// putMAC.
func getMAC(key []byte) *macState {
	macPools.RLock()
	p := macPools.byKey[string(key)]
	macPools.RUnlock()
	if p == nil {
		p = newMACPool(key)
	}
	if p == nil {
		return &macState{h: hmac.New(sha256.New, key)}
	}
	m := p.Get().(*macState)
	m.h.Reset()
	return m
}

// newMACPool registers a pool for key; nil when maxPooledKeys are kept.
func newMACPool(key []byte) *sync.Pool {
	macPools.Lock()
	defer macPools.Unlock()
	if p := macPools.byKey[string(key)]; p != nil {
		return p
	}
	if len(macPools.byKey) >= maxPooledKeys {
		return nil
	}
	if macPools.byKey == nil {
		macPools.byKey = map[string]*sync.Pool{}
	}
	k := string(key)
	p := &sync.Pool{New: func() any { return &macState{h: hmac.New(sha256.New, []byte(k))} }}
	macPools.byKey[k] = p
	return p
}

// putMAC gives m back for key.
func putMAC(key []byte, m *macState) {
	macPools.RLock()
	p := macPools.byKey[string(key)]
	macPools.RUnlock()
	if p != nil {
		p.Put(m)
	}
}

// standard is the Standard Webhooks MAC of "id.ts.body", in m.sum.
func (m *macState) standard(id, ts string, body []byte) []byte {
	m.h.Reset()
	m.prefix = append(append(append(append(m.prefix[:0], id...), '.'), ts...), '.')
	m.h.Write(m.prefix)
	m.h.Write(body)
	return m.h.Sum(m.sum[:0])
}
