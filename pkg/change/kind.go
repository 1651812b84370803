package change

import "strings"

// Kind refines a Code: the exact reason a request was refused. Its value is
// the slug of the problem type the caller receives
// ("urn:enrollhook:problem:" + kind), so it is part of the contract: every
// kind is listed in the OpenAPI document's ProblemType, and a test holds the
// two lists equal. An Error without a Kind answers with its Code's slug.
type Kind string

// Kinds of refusal, by the code they refine.
const (
	// CodeMalformed
	KindMalformedRequest Kind = "malformed-request" // a body that is not the sender's format, or a message that is not a queued change

	// CodeUnauthenticated
	KindSignatureMissing    Kind = "signature-missing"
	KindSignatureMalformed  Kind = "signature-malformed"
	KindSignatureMismatch   Kind = "signature-mismatch"
	KindCredentialsMissing  Kind = "credentials-missing"  // HTTP Basic (ServiceNow)
	KindCredentialsMismatch Kind = "credentials-mismatch" // HTTP Basic (ServiceNow)
	KindTimestampOutside    Kind = "timestamp-out-of-window"
	KindBodyReencoded       Kind = "body-re-encoded"
	KindSourceNotConfigured Kind = "source-not-configured"

	// CodeForbidden
	KindSeparationOfDuties Kind = "separation-of-duties" // the sender's own check (Jira's event user is the reporter)
	// The guardrail policy's rules (pkg/policy).
	KindPolicyConfiguration      Kind = "policy-configuration"
	KindPolicyGroup              Kind = "policy-group"
	KindPolicyFilter             Kind = "policy-filter"
	KindPolicyCollection         Kind = "policy-collection"
	KindPolicyTargetKind         Kind = "policy-target-kind"
	KindPolicyWideTarget         Kind = "policy-wide-target"
	KindPolicySeparationOfDuties Kind = "policy-separation-of-duties"
	KindPolicyCommand            Kind = "policy-command"
	KindPolicyWindowRequired     Kind = "policy-window-required" // the policy requires a change window the ticket does not give
	KindPolicyWindowTooLong      Kind = "policy-window-too-long" // the ticket's window is longer than the policy allows
	KindPolicyEvent              Kind = "policy-event"           // an EventBridge event whose source, account or detail-type the policy does not allow-list

	KindOutsideWindow Kind = "outside-change-window" // an approved change outside its window (or the chat hours)

	// CodeUnknownSource
	KindUnknownRoute Kind = "unknown-route"

	// CodeConflict
	KindDeliveryInProgress Kind = "delivery-in-progress"
	KindDeliveryMismatch   Kind = "delivery-mismatch"
	KindDeliveryDryRun     Kind = "delivery-was-dry-run"

	KindNothingToRevert Kind = "nothing-to-revert" // a revert of a ticket with no change standing
	KindDrifted         Kind = "drifted"           // Graph no longer holds what a reverted change applied

	// CodeUnavailable
	KindDedupeUnavailable Kind = "dedupe-unavailable"
	KindWriteLimit        Kind = "write-limit"
	KindQueueUnavailable  Kind = "queue-unavailable"
	KindRecordUnavailable Kind = "record-unavailable" // the change record could not be read or written
)

// kindTable is the one table of kinds: the code each refines and, where
// the code's title would mislead, a title of its own. The problem writer
// reads titles from it (Kind.Title).
var kindTable = [...]struct {
	kind  Kind
	code  Code
	title string
}{
	{KindMalformedRequest, CodeMalformed, "Malformed request"},
	{KindSignatureMissing, CodeUnauthenticated, ""},
	{KindSignatureMalformed, CodeUnauthenticated, ""},
	{KindSignatureMismatch, CodeUnauthenticated, ""},
	{KindCredentialsMissing, CodeUnauthenticated, ""},
	{KindCredentialsMismatch, CodeUnauthenticated, ""},
	{KindTimestampOutside, CodeUnauthenticated, ""},
	{KindBodyReencoded, CodeUnauthenticated, ""},
	{KindSourceNotConfigured, CodeUnauthenticated, ""},
	{KindSeparationOfDuties, CodeForbidden, "Requester cannot approve"},
	{KindPolicyConfiguration, CodeForbidden, "Configuration not allowed by policy"},
	{KindPolicyGroup, CodeForbidden, "Group not allowed by policy"},
	{KindPolicyFilter, CodeForbidden, "Filter not allowed by policy"},
	{KindPolicyCollection, CodeForbidden, "Collection not allowed by policy"},
	{KindPolicyTargetKind, CodeForbidden, "Target kind not allowed by policy"},
	{KindPolicyWideTarget, CodeForbidden, "Wide target not allowed by policy"},
	{KindPolicySeparationOfDuties, CodeForbidden, "Requester cannot approve"},
	{KindPolicyCommand, CodeForbidden, "Command not allowed by policy"},
	{KindPolicyWindowRequired, CodeForbidden, "Change window required by policy"},
	{KindPolicyWindowTooLong, CodeForbidden, "Change window longer than policy allows"},
	{KindPolicyEvent, CodeForbidden, "Event not allowed by policy"},
	{KindOutsideWindow, CodeForbidden, "Outside the change window"},
	{KindUnknownRoute, CodeUnknownSource, ""},
	{KindDeliveryInProgress, CodeConflict, "Delivery in progress"},
	{KindDeliveryMismatch, CodeConflict, "Delivery id reused"},
	{KindDeliveryDryRun, CodeConflict, "Delivery id spent on a dry run"},
	{KindNothingToRevert, CodeNotFound, "Nothing to revert"},
	{KindDrifted, CodeConflict, "Assignment changed since"},
	{KindDedupeUnavailable, CodeUnavailable, "De-duplication store unavailable"},
	{KindWriteLimit, CodeUnavailable, "Write limit reached"},
	{KindQueueUnavailable, CodeUnavailable, "Queue unavailable"},
	{KindRecordUnavailable, CodeUnavailable, "Change record unavailable"},
}

// Kinds returns every kind, grouped by code.
func Kinds() []Kind {
	out := make([]Kind, len(kindTable))
	for i, k := range kindTable {
		out[i] = k.kind
	}
	return out
}

// PolicyKinds returns the kinds of the guardrail policy's refusals: those
// whose slug starts with "policy-".
func PolicyKinds() []Kind {
	var out []Kind
	for _, e := range kindTable {
		if strings.HasPrefix(string(e.kind), "policy-") {
			out = append(out, e.kind)
		}
	}
	return out
}

// Code returns the code k refines; "" for a kind not in the table.
func (k Kind) Code() Code {
	for _, e := range kindTable {
		if e.kind == k {
			return e.code
		}
	}
	return ""
}

// Title returns k's own problem title, or "" when the title of its code
// applies.
func (k Kind) Title() string {
	for _, e := range kindTable {
		if e.kind == k {
			return e.title
		}
	}
	return ""
}

// Codes returns every code, in the order of their declaration.
func Codes() []Code {
	return []Code{CodeMalformed, CodeUnauthenticated, CodeNotApproved, CodeForbidden, CodeUnknownSource,
		CodeNotFound, CodeMethodNotAllowed, CodeConflict, CodeTooLarge, CodeMediaType, CodeInvalid,
		CodeGraphRefused, CodeGraphPermission, CodeUnavailable, CodeTimeout, CodeInternal}
}

// Refuse returns an *Error of kind k (with the code k refines) and a
// caller-safe message.
func Refuse(k Kind, message string) *Error {
	return &Error{Code: k.Code(), Kind: k, Message: message}
}
