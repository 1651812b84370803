// Package change owns the domain of enrollhook: a requested change to one
// Intune enrollment configuration assignment (Request), the Graph
// representation of that assignment and its polymorphic target, the rules
// that make a request valid, the coded errors every other package speaks,
// and the one normalisation of user identities (NormalizeIdentity,
// Ticket.SelfApproved) that separation of duties compares, wherever it is
// checked (pkg/policy, the Jira sender).
//
// Decode reads the generic envelope in one pass (decode.go): a small JSON
// reader, guided by one table per object of the envelope, checks that the
// body is JSON, fills the Request and notes repeated properties (at any
// depth), unknown properties of /assignment and /assignment/target and the
// first value of the wrong type, all in the same walk. It accepts and
// decodes what encoding/json's Unmarshal would (names matched ignoring case
// by Unicode simple folding, strings unescaped the same way); the old
// two-pass Decode is kept in the tests as the oracle a differential fuzz
// target compares it with. The field rules then run on the decoded value
// (github.com/go-playground/validator and the checks of validate.go), as
// they do for a Request an adapter builds (Request.Validate). Adding a
// property to the envelope is a field with its json tag and one line in
// the table of its object; a test holds the two to each other.
//
// The same reader serves the senders that build a Request themselves:
// DecodeTarget reads an assignment target, shorthand or Graph form, guided
// by the tables of both at once; Read reads the envelope as Decode does,
// keeping a top-level property a sender signs (Jira Automation's
// timestamp), for a sender's Authenticate to read a body once and its
// Decode to validate what was read. Scanner (scanner.go) is the same machinery for a
// sender's own payload: the adapter walks the objects it knows, reads their
// strings, raw values and targets (Scanner.Target, decoded later under the
// options of the adapter's Decode), and learns in the same pass whether
// the body is JSON and whether any name repeats at any depth (the
// ServiceNow and Jira senders).
//
// It imports no other enrollhook package. Adapters (source decoders, the
// Graph client, the HTTP handler) depend on it, never the reverse.
package change
