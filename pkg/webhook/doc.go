// Package webhook is the http.Handler that runs the request path of
// DESIGN.md: route, read the raw body under a cap, authenticate the sender on
// those bytes, decode and validate, gate on approval, apply through Graph,
// and answer with the updated assignment or an RFC 9457 problem. For the
// senders configured async it queues the approved change instead and
// answers 202; Handler.Process is the worker that applies a queued change,
// through the same apply step (async.go).
//
// It is the only package that writes HTTP responses. It declares what it
// needs from its collaborators (Graph, Source) and imports the sender
// adapters, the Graph client and the domain; nothing imports it but the
// functions.
package webhook
