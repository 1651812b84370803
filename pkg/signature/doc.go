// Package signature holds the webhook signature schemes as functions over
// (headers, raw body, secret, now): no I/O, constant-time comparison. The
// body is hashed as received and never parsed to decide whether it is
// authentic. Only after a mismatch does the re-encoding check
// (reencode.go) lay out a few likely originals of the body to tell a body
// changed on the way (ErrReencoded) from a wrong secret (ErrMismatch);
// that check never accepts a request, and it draws on a per-process
// hashing budget so that a flood of forged deliveries costs one MAC each.
// It imports only the standard library.
package signature
