// Package change owns the domain of enrollhook: a requested change to one
// Intune enrollment configuration assignment (Request), the Graph
// representation of that assignment and its polymorphic target, the rules
// that make a request valid, the coded errors every other package speaks,
// and the one normalisation of user identities (NormalizeIdentity,
// Ticket.SelfApproved) that separation of duties compares, wherever it is
// checked (pkg/policy, the Jira sender).
//
// It imports no other enrollhook package. Adapters (source decoders, the
// Graph client, the HTTP handler) depend on it, never the reverse.
package change
