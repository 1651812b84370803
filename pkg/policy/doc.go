// Package policy owns the guardrails an operator puts around approved
// changes: per sender, which enrollment configurations may be changed,
// which groups, filters and Configuration Manager collections may be
// targeted and which target kinds (the wide allDevices and allLicensedUsers
// targets only when listed); separation of duties between requester and
// approver; which chat users may run which commands; and which
// EventBridge events may ask at all (the eventbridge section: source,
// account and detail-type, each allow-listed; without it every event is
// refused, CheckEvent).
//
// A Policy is parsed and validated once, at cold start (Parse, with every
// problem listed), or is the built-in Default. Its checks return
// *change.Error with change.CodeForbidden and a Kind that names the rule
// (change.KindPolicyConfiguration, ...), so the webhook answers 403 with that
// problem type.
//
// It imports change, chat (the command verbs a chat rule names) and sender
// (the registry that says which senders exist and which of them are chat
// senders); the apply pipeline imports it.
package policy
