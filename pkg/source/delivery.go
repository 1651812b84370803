package source

import "net/http"

// Delivery is what a sender's Authenticate read from a request whose
// signature (or credentials) it has verified: the delivery id, and the body
// parsed once into the sender's own payload. The same sender's Decode (or,
// for a chat sender, Invocation) reads the payload instead of the bytes, so
// a body is parsed once per delivery and only once it is authenticated.
type Delivery struct {
	// ID is the delivery id: the sender's, or one derived from the signed
	// bytes; "" when the sender names none.
	ID string
	// Body is the raw body as signed. Decoders read it only to word a
	// refusal, or when Payload is nil.
	Body []byte
	// Payload is the sender's parse of Body (its type is the sender's own,
	// and a parse error is kept in it for Decode to report); nil when
	// Authenticate parsed nothing. A Delivery built by hand, with only
	// Body, is parsed by Decode.
	Payload any
}

// Header is h.Get(key) for a key already in canonical form
// (http.CanonicalHeaderKey's): the first value, or "". It spares Get's
// check and canonicalisation of the key on every request.
func Header(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}
