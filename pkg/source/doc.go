// Package source holds what the sender adapters under it (generic,
// servicenow, jira, slack, teams) share: the one mapping from the errors of
// package signature to the refusal a caller receives (Wording.Refuse), with
// each sender's own words passed in, and the Delivery that an adapter's
// Authenticate returns and its Decode reads, so that a body is parsed once,
// after its signature is verified. The adapters import it and never each
// other; it imports change and signature only, and no adapter.
//
// It is not a part of signature, which stays pure functions over the
// standard library: the problem kinds a refusal carries belong to change.
package source
