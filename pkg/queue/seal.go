package queue

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// A queued message is sealed: the webhook (and a schedule, which carries
// the webhook's body unchanged) sends the message's JSON behind an
// HMAC-SHA256 of it under a key the worker holds too, and the worker
// checks it on the raw body before it reads anything. The queue is a trust
// boundary: whoever may send to it (sqs:SendMessage, a redrive) could
// otherwise hand the worker a change no sender approved.
//
// A sealed body is "v2." + base64url(MAC) + "." + JSON, the MAC over
// "v2." + JSON.

// Key is the key messages are sealed with.
type Key struct{ k []byte }

// MinKeyLength is the shortest key NewKey takes, in bytes.
const MinKeyLength = 32

// NewKey returns the key of secret, at least MinKeyLength bytes.
func NewKey(secret string) (*Key, error) {
	if len(secret) < MinKeyLength {
		return nil, fmt.Errorf("queue: the key must be at least %d bytes", MinKeyLength)
	}
	return &Key{k: []byte(secret)}, nil
}

// DevelopmentSecret is the published key of the in-process queue (make
// run) and of tests; configuration refuses it for a queue on AWS.
const DevelopmentSecret = "enrollhook-development-queue-key-published-0001"

var developmentKey = &Key{k: []byte(DevelopmentSecret)}

// or is k, or the development key when k is nil (the in-process queue and
// tests; the functions are always given a key of their own).
func (k *Key) or() *Key {
	if k == nil {
		return developmentKey
	}
	return k
}

// sealPrefix starts every sealed body; it names the format's version.
const sealPrefix = "v2."

// ErrNotSealed is returned by Open for a body that is not sealed with the
// key: not sent by this deployment's webhook, or changed on the way. It
// wraps ErrMalformed: such a message is never retried.
var ErrNotSealed = fmt.Errorf("%w: not sealed by this deployment (the webhook's key)", ErrMalformed)

// Seal returns the message body sent to the queue, sealed with k.
func (m *Message) Seal(k *Key) ([]byte, error) {
	js, err := m.encode()
	if err != nil {
		return nil, err
	}
	mac := k.or().mac(js)
	out := make([]byte, 0, len(sealPrefix)+base64.RawURLEncoding.EncodedLen(len(mac))+1+len(js))
	out = append(out, sealPrefix...)
	out = base64.RawURLEncoding.AppendEncode(out, mac)
	out = append(out, '.')
	return append(out, js...), nil
}

// Open checks body's seal under k on the raw bytes, in constant time, and
// only then reads the message. Errors wrap ErrMalformed (ErrNotSealed for
// a seal that does not hold).
func Open(k *Key, body []byte) (*Message, error) {
	rest, ok := bytes.CutPrefix(body, []byte(sealPrefix))
	if !ok {
		return nil, ErrNotSealed
	}
	enc, js, ok := bytes.Cut(rest, []byte("."))
	if !ok {
		return nil, ErrNotSealed
	}
	// The MAC's exact length first (Decode writes as much as enc holds),
	// and its one canonical spelling (Strict: no stray low bits).
	if len(enc) != base64.RawURLEncoding.EncodedLen(sha256.Size) {
		return nil, ErrNotSealed
	}
	got := make([]byte, sha256.Size)
	if n, err := base64.RawURLEncoding.Strict().Decode(got, enc); err != nil || n != sha256.Size {
		return nil, ErrNotSealed
	}
	if !hmac.Equal(got, k.or().mac(js)) {
		return nil, ErrNotSealed
	}
	return decode(js)
}

func (k *Key) mac(js []byte) []byte {
	h := hmac.New(sha256.New, k.k)
	h.Write([]byte(sealPrefix))
	h.Write(js)
	return h.Sum(nil)
}
