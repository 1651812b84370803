package change

import (
	"bytes"
	"strings"
)

// Graph type names. Graph writes them with a leading '#'; callers may omit it
// and Normalize adds it back, so Graph always receives the '#' form.
const (
	TypeAssignment = "#microsoft.graph.enrollmentConfigurationAssignment"

	TypeGroup        = "#microsoft.graph.groupAssignmentTarget"
	TypeExclusion    = "#microsoft.graph.exclusionGroupAssignmentTarget"
	TypeAllLicensed  = "#microsoft.graph.allLicensedUsersAssignmentTarget"
	TypeAllDevices   = "#microsoft.graph.allDevicesAssignmentTarget"
	TypeCMCollection = "#microsoft.graph.configurationManagerCollectionAssignmentTarget"
	// TypeScopeTagGroup is documented on the Intune pages but absent from the
	// public Graph schema (the CSDL of v1.0 and beta); it is accepted as
	// documented and Graph has the last word.
	TypeScopeTagGroup = "#microsoft.graph.scopeTagGroupAssignmentTarget"
)

// Filter types (deviceAndAppManagementAssignmentFilterType, beta only).
const (
	FilterNone    = "none"
	FilterInclude = "include"
	FilterExclude = "exclude"
)

// ApprovedState is the only ticket state that may change anything.
const ApprovedState = "approved"

// Request is one requested change, whatever sender it came from: the generic
// envelope (docs/contract.md), which the ITSM and chat adapters
// also produce.
type Request struct {
	Ticket Ticket `json:"ticket"`
	// Action is ActionApply (the default, also when empty) or
	// ActionRevert: put back what the ticket's changes replaced (the
	// change record's "before"); a revert names its ticket only.
	Action          string     `json:"action,omitempty" validate:"omitempty,oneof=apply revert"`
	ConfigurationID string     `json:"configurationId" validate:"required,graphkey"`
	AssignmentID    string     `json:"assignmentId" validate:"required,graphkey"`
	Assignment      Assignment `json:"assignment"`
	// DryRun is set when the envelope's top level has a property spelled
	// like the dry-run flag (IsDryRunName) that asks for one (AsksDryRun):
	// the signed body asks for a dry run, which every route honours as it
	// does its own flags. Never sent on (the queue carries no dry run).
	DryRun bool `json:"-" validate:"-"`

	// patchBody is PatchBody's encoding, made on its first call.
	patchBody AssignmentJSON
}

// Ticket names the approval behind a change, for the approval gate and the
// audit trail.
type Ticket struct {
	ID          string `json:"id" validate:"required,max=128,safetext"`
	System      string `json:"system,omitempty" validate:"omitempty,max=64,safetext"`
	State       string `json:"state" validate:"required,max=64,safetext"`
	RequestedBy string `json:"requestedBy,omitempty" validate:"omitempty,max=256,safetext"`
	// ApprovedBy is required when State is approved (in any letter case):
	// an approval without an approver cannot be audited.
	ApprovedBy string `json:"approvedBy,omitempty" validate:"omitempty,max=256,safetext"`
	// RequestedByID and ApprovedByID are the sender's stable ids of the
	// requester and the approver (a ServiceNow sys_id, a Jira accountId),
	// when it gives them. Separation of duties compares them as well as the
	// names (Ticket.SelfApproved); the names stay what the audit trail
	// records.
	RequestedByID string `json:"requestedById,omitempty" validate:"omitempty,max=256,safetext"`
	ApprovedByID  string `json:"approvedById,omitempty" validate:"omitempty,max=256,safetext"`
	URL           string `json:"url,omitempty" validate:"omitempty,max=2048,http_url"`
	// Window is the approved change window, when the ticket has one
	// (window.go).
	Window *Window `json:"window,omitempty"`
	// Record is the ServiceNow record the ticket is, as "table/sys_id", for
	// the optional write-back of the outcome (pkg/writeback); set by the
	// ServiceNow sender only, never read from an envelope (queue.Message
	// carries it to the worker).
	Record string `json:"-" validate:"-"`
}

// Assignment is the Graph enrollmentConfigurationAssignment as sent in a
// PATCH body. ID is accepted only when it repeats the assignment id of the
// request, and is never sent (it is the key, not a writable property).
type Assignment struct {
	// ODataType and ID have no field rules (check compares them), so
	// the validator skips them.
	ODataType string `json:"@odata.type,omitempty" validate:"-"`
	ID        string `json:"id,omitempty" validate:"-"`
	// Target's rules are checked apart, by value (Request.check).
	Target *Target `json:"target" validate:"-"`
	// Source and SourceID exist on beta only.
	Source   string `json:"source,omitempty" validate:"omitempty,oneof=direct policySets"`
	SourceID string `json:"sourceId,omitempty" validate:"omitempty,max=256,safetext"`
}

// Target is the polymorphic deviceAndAppManagementAssignmentTarget, flattened:
// which properties may be set depends on ODataType (see Subtypes).
type Target struct {
	ODataType     string `json:"@odata.type" validate:"-"` // checked by the target's struct rule
	GroupID       string `json:"groupId,omitempty" validate:"omitempty,uuid"`
	CollectionID  string `json:"collectionId,omitempty" validate:"omitempty,cmcollection"`
	TargetType    string `json:"targetType,omitempty" validate:"omitempty,oneof=user device"`
	EntraObjectID string `json:"entraObjectId,omitempty" validate:"omitempty,uuid"`
	FilterID      string `json:"deviceAndAppManagementAssignmentFilterId,omitempty" validate:"omitempty,uuid"`
	FilterType    string `json:"deviceAndAppManagementAssignmentFilterType,omitempty" validate:"omitempty,oneof=none include exclude"`
}

// Subtypes lists every accepted target @odata.type with the properties of its
// own (beyond the two filter properties every subtype has on beta) and which
// of them are required.
var Subtypes = map[string]struct {
	Own      []string
	Required []string
}{
	TypeGroup:         {Own: []string{"groupId"}, Required: []string{"groupId"}},
	TypeExclusion:     {Own: []string{"groupId"}, Required: []string{"groupId"}},
	TypeAllLicensed:   {},
	TypeAllDevices:    {},
	TypeCMCollection:  {Own: []string{"collectionId"}, Required: []string{"collectionId"}},
	TypeScopeTagGroup: {Own: []string{"targetType", "entraObjectId"}, Required: []string{"targetType", "entraObjectId"}},
}

// ShortType returns a Graph type name without '#microsoft.graph.', for
// messages and logs.
func ShortType(t string) string {
	return strings.TrimPrefix(strings.TrimPrefix(t, "#"), "microsoft.graph.")
}

// normalizeType adds the '#' Graph writes, so both spellings compare equal.
// A known type comes back as its constant, without building it again.
func normalizeType(t string) string {
	if t == "" || strings.HasPrefix(t, "#") {
		return t
	}
	if known, ok := withoutHash[t]; ok {
		return known
	}
	return "#" + t
}

// withoutHash maps each known type (the target subtypes and the
// assignment) without its leading '#' to the type.
var withoutHash = func() map[string]string {
	m := map[string]string{TypeAssignment[1:]: TypeAssignment}
	for known := range Subtypes {
		m[known[1:]] = known
	}
	return m
}()

// Normalize rewrites r in place to the form Graph receives: '#'-prefixed
// type names, the assignment type always set, no key in the body.
func (r *Request) Normalize() {
	r.patchBody = nil // PatchBody encodes the normalized assignment
	if r.Reverts() {
		return // a revert names no assignment
	}
	r.Assignment.ODataType = TypeAssignment
	r.Assignment.ID = ""
	if r.Assignment.Target != nil {
		r.Assignment.Target.ODataType = normalizeType(r.Assignment.Target.ODataType)
	}
}

// AssignmentJSON is an Assignment as PatchBody encodes it: JSON by
// construction, so the Graph client sends it without checking it again.
type AssignmentJSON []byte

// MarshalJSON is the encoding itself, so that marshalling an
// AssignmentJSON (or a pointer to one) gives the assignment's JSON.
func (a AssignmentJSON) MarshalJSON() ([]byte, error) { return a, nil }

// PatchBodyRef is PatchBody by reference: a pointer costs no allocation
// where an interface holds it (the Graph client's body).
func (r *Request) PatchBodyRef() *AssignmentJSON {
	r.PatchBody()
	return &r.patchBody
}

// PatchBody returns the JSON of r.Assignment as Graph's PATCH of the
// assignment carries it (json.Marshal of the Assignment: its omitempty
// rules, no id once Normalize has run). It is encoded once, on the first
// call, and the same bytes are returned afterwards: the PATCH body and the
// de-duplication fingerprint (apply.Key) are the one encoding. A Request
// is not changed after Decode or Normalize; code that builds or changes
// one calls PatchBody only once it is done (Normalize drops an encoding
// made before it). The bytes are shared: do not modify them.
func (r *Request) PatchBody() AssignmentJSON {
	if r.patchBody == nil {
		// Encoded on the stack, kept in an allocation of its size.
		var buf [512]byte
		r.patchBody = bytes.Clone(r.Assignment.appendJSON(buf[:0]))
	}
	return r.patchBody
}

// Actions of a request (Request.Action).
const (
	ActionApply  = "apply"
	ActionRevert = "revert"
)

// Reverts reports whether the request is a revert.
func (r *Request) Reverts() bool { return r.Action == ActionRevert }

// Approved reports whether the ticket state allows a change.
func (r *Request) Approved() bool { return strings.EqualFold(r.Ticket.State, ApprovedState) }
