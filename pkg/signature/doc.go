// Package signature holds the webhook signature schemes as pure functions over
// (headers, raw body, secret): no parsing of the body, no I/O, constant-time
// comparison. It imports only the standard library.
package signature
