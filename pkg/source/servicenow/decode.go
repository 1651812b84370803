package servicenow

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"path"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/sender"
	"github.com/enrollhook/enrollhook/pkg/source"
)

// Payload is the approval contract a ServiceNow instance sends
// (docs/senders/servicenow.md). Unknown properties are ignored everywhere
// except inside data.intune, where a typo must not become a silent no-op.
// The one parse of a delivery reads data.intune as its properties (wire),
// so that it finds the unknown ones as well; Payload is the typed shape
// that words a refusal the way encoding/json reports a wrong type.
type Payload struct {
	Type      string `json:"type,omitempty"`
	Timestamp string `json:"timestamp,omitempty"`
	Data      *Data  `json:"data"`
}

// Data is the payload's data object.
type Data struct {
	Approval *Approval `json:"approval"`
	Record   *Record   `json:"record"`
	Intune   *Intune   `json:"intune"`
}

// Approval is the sysapproval_approver record that decided.
type Approval struct {
	SysID       string          `json:"sys_id"`
	State       string          `json:"state"`
	SysModCount json.RawMessage `json:"sys_mod_count"`
	Approver    User            `json:"approver"`
	SourceTable string          `json:"source_table,omitempty"`
	// DocumentID is the approved record's sys_id (the document_id field),
	// used for the write-back when data.record has no sys_id.
	DocumentID string `json:"document_id,omitempty"`
	Comments   string `json:"comments,omitempty"`
}

// Record is the approved task (change_request, sc_req_item, ...).
type Record struct {
	Table       string `json:"table,omitempty"`
	SysID       string `json:"sys_id,omitempty"`
	Number      string `json:"number"`
	Approval    string `json:"approval,omitempty"`
	RequestedBy User   `json:"requested_by"`
	URL         string `json:"url,omitempty"`
	// State is the record's state as getValue returns it (a change
	// request's "-1", "3", ...); the configured back-out state makes the
	// delivery a revert (Options.RevertState).
	State string `json:"state,omitempty"`
	// StartDate and EndDate are the change request's planned start and
	// end, the ticket's change window: RFC 3339, or the GlideDateTime
	// value yyyy-MM-dd HH:mm:ss, which is UTC (getValue; the display value
	// is in the user's time zone and is not read as such). Both or
	// neither.
	StartDate string `json:"start_date,omitempty"`
	EndDate   string `json:"end_date,omitempty"`
}

// Intune names the change: the configuration, the assignment and its new
// target, in shorthand ({"type":"group",...}) or Graph form. Action
// "revert" asks for a revert of the ticket instead, which names nothing
// else.
type Intune struct {
	ConfigurationID string          `json:"configurationId"`
	AssignmentID    string          `json:"assignmentId"`
	Target          json.RawMessage `json:"target"`
	Source          string          `json:"source,omitempty"`
	Action          string          `json:"action,omitempty"`
	// target is Target as the one pass read it (readOnePass), in place of
	// its bytes.
	target *change.TargetReading
}

// hasTarget reports whether the target is set, and not null.
func (in *Intune) hasTarget() bool {
	if in.target != nil {
		return !in.target.Null()
	}
	return len(in.Target) > 0 && string(bytes.TrimSpace(in.Target)) != "null"
}

// decodeTarget is the target decoded and validated (change.DecodeTarget),
// with its pointer at.
func (in *Intune) decodeTarget(at string, opts *change.Options) (*change.Target, []change.FieldError) {
	if in.target != nil {
		return in.target.Decode(at, opts)
	}
	return change.DecodeTarget(in.Target, at, opts)
}

var intuneKeys = []string{"action", "configurationId", "assignmentId", "target", "source"}

// User is a sys_user reference, sent as a string (user_name or email) or as
// an object {sys_id, user_name, email, name}. The Table API's reference
// shape {value, display_value, link} is read too: value is the sys_id,
// display_value the name.
type User struct {
	SysID    string `json:"sys_id,omitempty"`
	UserName string `json:"user_name,omitempty"`
	Email    string `json:"email,omitempty"`
	Name     string `json:"name,omitempty"`

	idKey string // the property the sys_id came from, for field errors
}

// UnmarshalJSON accepts a string or an object. An object is decoded from
// the bytes the enclosing decode hands over: a value that may be a string
// or an object is looked at twice under encoding/json.
func (u *User) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		s, err := source.Unquote(b)
		if err != nil {
			return err
		}
		*u = User{UserName: s}
		return nil
	}
	var p struct {
		SysID        string `json:"sys_id"`
		UserName     string `json:"user_name"`
		Email        string `json:"email"`
		Name         string `json:"name"`
		Value        string `json:"value"`
		DisplayValue string `json:"display_value"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*u = User{SysID: p.SysID, UserName: p.UserName, Email: p.Email, Name: p.Name, idKey: "sys_id"}
	if u.SysID == "" && p.Value != "" {
		u.SysID, u.idKey = p.Value, "value"
	}
	if u.Name == "" {
		u.Name = p.DisplayValue
	}
	return nil
}

// id is the user's sys_id in the form the ticket carries (lower case), the
// stable id separation of duties compares; "" when it is not a sys_id
// (checkID refuses it).
func (u User) id() string {
	if id := strings.TrimSpace(u.SysID); sender.IsServiceNowSysID(id) {
		return strings.ToLower(id)
	}
	return ""
}

// checkID refuses a sys_id that is not one, at the pointer of the user.
func (u User) checkID(at string) []change.FieldError {
	if u.SysID == "" || sender.IsServiceNowSysID(strings.TrimSpace(u.SysID)) {
		return nil
	}
	return []change.FieldError{{Field: at + "/" + u.idKey, Reason: "must be the user's sys_id (32 hexadecimal characters)"}}
}

// String names the user for the audit trail: email, else user_name, else
// name, else sys_id.
func (u User) String() string {
	for _, s := range []string{u.Email, u.UserName, u.Name, u.SysID} {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}

// envelopePointers maps the generic envelope's pointers to the contract's.
var envelopePointers = map[string]string{
	"/ticket/id":          "/data/record/number",
	"/ticket/state":       "/data/approval/state",
	"/ticket/approvedBy":  "/data/approval/approver",
	"/ticket/requestedBy": "/data/record/requested_by",
	// The ids' own pointers are set per delivery (sys_id or value).
	"/ticket/approvedById":  "/data/approval/approver",
	"/ticket/requestedById": "/data/record/requested_by",
	"/ticket/url":           "/data/record/url",
	"/ticket/window/start":  "/data/record/start_date",
	"/ticket/window/end":    "/data/record/end_date",
	"/ticket/window":        "/data/record",
	"/ticket/system":        "-",
	"/configurationId":      "/data/intune/configurationId",
	"/assignmentId":         "/data/intune/assignmentId",
	"/assignment/target":    "-", // reported by change.DecodeTarget
	"/assignment/source":    "/data/intune/source",
	"/assignment":           "/data/intune",
}

// wire is the payload as the one parse of a delivery reads it: data.intune
// as its properties, so that the unknown ones are found in the same pass.
// encoding/json reads on past a value of the wrong type; the user
// references and the timestamp keep theirs rather than stop the parse (a
// user reference's UnmarshalJSON would), so that whatever else is wrong,
// the parse still reads what identifies and dates the delivery.
type wire struct {
	Type      string    `json:"type,omitempty"`
	Timestamp stampText `json:"timestamp,omitempty"`
	Data      *struct {
		Approval *wireApproval              `json:"approval"`
		Record   *wireRecord                `json:"record"`
		Intune   map[string]json.RawMessage `json:"intune"`
	} `json:"data"`
}

// wireApproval and wireRecord read an Approval and a Record, their user
// reference into a keptUser (encoding/json fills the shallower field of
// one name).
type (
	wireApproval struct {
		Approval
		Approver keptUser `json:"approver"`
	}
	wireRecord struct {
		Record
		RequestedBy keptUser `json:"requested_by"`
	}
)

// keptUser is a user reference that keeps the error of its decode (the
// first, of a repeated property) instead of returning it.
type keptUser struct {
	u   User
	err error
}

// UnmarshalJSON implements json.Unmarshaler; it never fails.
func (k *keptUser) UnmarshalJSON(b []byte) error {
	if err := k.u.UnmarshalJSON(b); err != nil && k.err == nil {
		k.err = err
	}
	return nil
}

// stampText is the top-level "timestamp": a string, or wrong when any of
// its occurrences holds another JSON type (null leaves it as it is).
type stampText struct {
	s     string
	wrong bool
}

// UnmarshalJSON implements json.Unmarshaler; it never fails.
func (t *stampText) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
	case len(b) > 0 && b[0] == '"':
		s, err := source.Unquote(b)
		t.s, t.wrong = s, t.wrong || err != nil
	default:
		t.wrong = true
	}
	return nil
}

// approval is the approval as read, nil when absent; ok is false when
// its approver's JSON type is wrong.
func (w *wire) approval() (a *Approval, ok bool) {
	if w.Data == nil || w.Data.Approval == nil {
		return nil, true
	}
	wa := w.Data.Approval
	wa.Approval.Approver = wa.Approver.u
	return &wa.Approval, wa.Approver.err == nil
}

// record is the record as read, nil when absent; ok is false when its
// requester's JSON type is wrong.
func (w *wire) record() (r *Record, ok bool) {
	if w.Data == nil || w.Data.Record == nil {
		return nil, true
	}
	wr := w.Data.Record
	wr.Record.RequestedBy = wr.RequestedBy.u
	return &wr.Record, wr.RequestedBy.err == nil
}

// reading is what Authenticate read of an authenticated body, for Decode.
type reading struct {
	// err is the parse's error as Decode reports it; with it, only ts and
	// approval are set (as far as they could be read).
	err      error
	ts       string
	approval *Approval
	record   *Record
	intune   *Intune  // nil when data.intune is absent or null
	unknown  []string // data.intune's properties the contract does not have
	hasData  bool
	// noRepeats: the body was read in one pass that found no name
	// repeated at any depth (readOnePass), so Decode need not look again.
	noRepeats bool
	// dryRun: a property spelled like the dry-run flag, at the top level
	// or in data, asks for one (change.Request.DryRun).
	dryRun bool
}

// readBody reads an authenticated body: in one pass when it is clean
// (readOnePass), else by read.
func readBody(body []byte) *reading {
	if rd := readOnePass(body); rd != nil {
		return rd
	}
	return read(body)
}

// read parses an authenticated body once. The timestamp and the approval
// are what that parse read, a wrong JSON type elsewhere in the body
// notwithstanding (it need not hide the delivery's date and ids); not JSON,
// the body has neither. Where the one parse cannot say what the typed
// decode of Payload would (a wrong JSON type somewhere, a property of
// data.intune the contract does not have, a non-string value in it), the
// body is decoded again into Payload: every such delivery is refused, so
// the second look is on the refusal's path only, and it words the refusal
// exactly as encoding/json reports it.
func read(body []byte) *reading {
	var w wire
	rd := &reading{dryRun: asksDryRun(body)}
	err := json.Unmarshal(body, &w)
	if _, ok := errors.AsType[*json.UnmarshalTypeError](err); err != nil && !ok {
		rd.err = err // not JSON: the typed decode would say the same
		return rd
	}
	if !w.Timestamp.wrong {
		rd.ts = w.Timestamp.s
	}
	approval, approverOK := w.approval()
	record, requesterOK := w.record()
	rd.approval = approval
	clean := err == nil && !w.Timestamp.wrong && approverOK && requesterOK
	if clean && w.Data != nil && w.Data.Intune != nil {
		in, unknown, ok := intuneOf(w.Data.Intune)
		if ok && len(unknown) == 0 {
			rd.record, rd.intune, rd.hasData = record, in, true
			return rd
		}
		rd.unknown = unknown
	} else if clean {
		rd.record, rd.hasData = record, w.Data != nil
		return rd
	}
	var p Payload
	if rd.err = json.Unmarshal(body, &p); rd.err != nil {
		return rd
	}
	// The typed decode read what the one parse did (it found no wrong
	// type), and data.intune by its struct.
	rd.record, rd.hasData = record, p.Data != nil
	if p.Data != nil {
		rd.intune = p.Data.Intune
	}
	return rd
}

// asksDryRun reports whether body's top level or its data has a property
// spelled like the dry-run flag that asks for one: read's look, on the
// path of bodies the one pass could not read.
func asksDryRun(body []byte) bool {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return false
	}
	var data map[string]json.RawMessage
	for k, v := range top {
		switch {
		case change.IsDryRunName(k) && change.AsksDryRun(v):
			return true
		case strings.EqualFold(k, "data"):
			_ = json.Unmarshal(v, &data)
		}
	}
	for k, v := range data {
		if change.IsDryRunName(k) && change.AsksDryRun(v) {
			return true
		}
	}
	return false
}

// intuneOf reads data.intune's properties into an Intune, with the names
// of those the contract does not have; ok is false when a known property
// that is text holds anything but a string (the typed decode reads it).
func intuneOf(m map[string]json.RawMessage) (in *Intune, unknown []string, ok bool) {
	in = &Intune{}
	ok = true
	for k, v := range m {
		var dst *string
		switch k {
		case "configurationId":
			dst = &in.ConfigurationID
		case "assignmentId":
			dst = &in.AssignmentID
		case "source":
			dst = &in.Source
		case "action":
			dst = &in.Action
		case "target":
			in.Target = v
			continue
		default:
			unknown = append(unknown, k)
			continue
		}
		// null leaves a typed field as it was, which a map cannot tell
		// apart: the typed decode reads it.
		switch v = bytes.TrimSpace(v); {
		case len(v) > 0 && v[0] == '"':
			s, err := source.Unquote(v)
			*dst, ok = s, ok && err == nil
		default:
			ok = false
		}
	}
	return in, unknown, ok
}

// timestamp is the body's top-level "timestamp" (RFC 3339); zero when the
// body has none, or not one of RFC 3339 (see read).
func (rd *reading) timestamp() time.Time {
	return rfc3339(rd.ts)
}

// deliveryID is the delivery id the body's approval names (see read), or
// "".
func (rd *reading) deliveryID() string {
	if rd.approval == nil {
		return ""
	}
	return approvalID(rd.approval)
}

// Decode parses the approval contract. A decision other than approved is
// refused with CodeNotApproved naming the state (any of the States; any
// other state is not quoted) before the change itself is checked: nothing
// will be changed, so its fields do not matter. An approved decision is
// validated completely; every invalid field is reported with its pointer
// into the ServiceNow body (CodeInvalid). data.record's start_date and
// end_date become the ticket's window. A record in the back-out state
// (Options.RevertState) or data.intune.action "revert" makes the request a
// revert, approved by the same rules; data.intune then names nothing else
// (each of configurationId, assignmentId, target and source sent is a
// field error) and may be left out. Errors are *change.Error with
// CodeMalformed, CodeInvalid or CodeNotApproved.
func (s *Source) Decode(dv source.Delivery, opts *change.Options) (*change.Request, error) {
	body := dv.Body
	rd, ok := dv.Payload.(*reading)
	if !ok {
		rd = readBody(body)
	}
	if rd.err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(rd.err, &te) {
			return nil, change.Invalid(typeError(te, body))
		}
		return nil, change.Malformed(body, rd.err)
	}
	if !rd.hasData {
		return nil, change.Invalid(change.FieldError{Field: "/data", Reason: "is required: {approval, record, intune}"})
	}
	d := &Data{Approval: rd.approval, Record: rd.record, Intune: rd.intune}
	var fields []change.FieldError
	if d.Approval == nil {
		return nil, change.Invalid(change.FieldError{Field: "/data/approval", Reason: "is required: the sysapproval_approver record {sys_id, state, sys_mod_count, approver}"})
	}
	a := d.Approval
	state := strings.TrimSpace(a.State)
	if state == "" {
		return nil, change.Invalid(change.FieldError{Field: "/data/approval/state", Reason: "is required"})
	}
	// A single approver's approval does not approve the record while other
	// approvals are outstanding: when the record's roll-up is sent, it
	// must agree.
	if strings.EqualFold(state, StateApproved) && d.Record != nil && d.Record.Approval != "" && !strings.EqualFold(d.Record.Approval, StateApproved) {
		state = d.Record.Approval
	}
	if !strings.EqualFold(state, StateApproved) {
		return nil, notApproved(state, a.State != state)
	}
	if !sender.IsServiceNowSysID(a.SysID) {
		fields = append(fields, change.FieldError{Field: "/data/approval/sys_id", Reason: "must be the approval record's sys_id (32 hexadecimal characters)"})
	}
	if _, ok := modCount(a.SysModCount); !ok {
		reason := "must be a whole number from 0 to 9999999999 (or a string of its digits): the approval record's sys_mod_count"
		if absent(a.SysModCount) {
			reason = "is required: the approval record's sys_mod_count, a whole number (or a string of digits)"
		}
		fields = append(fields, change.FieldError{Field: "/data/approval/sys_mod_count", Reason: reason})
	}
	if d.Record == nil {
		fields = append(fields, change.FieldError{Field: "/data/record", Reason: "is required: the approved record {number, table, requested_by}"})
		d.Record = &Record{Number: "-"} // keep the record's own rules from repeating it
	}
	revert := s.reverts(d.Record, d.Intune)
	if d.Intune == nil && !revert {
		fields = append(fields, change.FieldError{Field: "/data/intune", Reason: "is required: {configurationId, assignmentId, target}"})
		return nil, change.Invalid(fields...)
	}
	fields = append(fields, unknownIntune(rd.unknown)...)
	fields = append(fields, a.Approver.checkID("/data/approval/approver")...)
	fields = append(fields, d.Record.RequestedBy.checkID("/data/record/requested_by")...)
	if d.Record.RequestedBy.String() == "" && d.Record.Number != "-" { // "-": no record, said above
		fields = append(fields, change.FieldError{Field: "/data/record/requested_by",
			Reason: "is required: who asked for the change (email, user_name or sys_id), so that they cannot approve it"})
	}
	if !rd.noRepeats {
		fields = append(fields, change.DuplicateFields(body)...)
	}
	window, wf := windowOf(d.Record)
	fields = append(fields, wf...)
	req := &change.Request{
		Ticket: change.Ticket{
			ID: d.Record.Number, System: System, State: StateApproved,
			RequestedBy: d.Record.RequestedBy.String(), ApprovedBy: a.Approver.String(), URL: d.Record.URL,
			// sys_ids, when sent: separation of duties compares them as
			// well as the names (change.Ticket.SelfApproved).
			RequestedByID: d.Record.RequestedBy.id(), ApprovedByID: a.Approver.id(),
			Window: window,
		},
		DryRun: rd.dryRun,
	}
	var target *change.Target
	if revert {
		req.Action = change.ActionRevert
		fields = append(fields, s.revertFields(d.Record, d.Intune)...)
	} else {
		fields = append(fields, actionField(d.Intune.Action)...)
		var tf []change.FieldError
		target, tf = d.Intune.decodeTarget("/data/intune/target", opts)
		fields = append(fields, tf...)
		req.ConfigurationID, req.AssignmentID = d.Intune.ConfigurationID, d.Intune.AssignmentID
		req.Assignment = change.Assignment{Target: target, Source: d.Intune.Source}
		if target == nil {
			// Validate the rest with a stand-in; the target's errors are in tf.
			req.Assignment.Target = &change.Target{ODataType: change.TypeAllDevices}
		}
	}
	if err := req.Validate(opts); err != nil {
		var ce *change.Error
		if !errors.As(err, &ce) {
			return nil, err
		}
		fields = append(fields, change.RemapFields(ce.Fields, envelopePointers)...)
	}
	if len(fields) > 0 {
		return nil, change.Invalid(fields...)
	}
	req.Ticket.Record = recordOf(a, d.Record)
	if revert {
		return req, nil // nothing to normalize: a revert names no assignment
	}
	req.Assignment.Target = target
	req.Normalize()
	return req, nil
}

// reverts reports whether a delivery asks for a revert of its ticket: the
// record is in the configured back-out state, or data.intune.action is
// revert. A conflicting data.intune.action is refused by revertFields.
func (s *Source) reverts(r *Record, in *Intune) bool {
	if in != nil && in.Action == change.ActionRevert {
		return true
	}
	return s.revertState != "" && r != nil && strings.EqualFold(strings.TrimSpace(r.State), s.revertState)
}

// revertFields refuses what a revert must leave out: the change itself
// (it puts back every change of its ticket as the change record has it),
// and an action of apply on a record in the back-out state.
func (s *Source) revertFields(r *Record, in *Intune) []change.FieldError {
	if in == nil {
		return nil
	}
	var fields []change.FieldError
	for _, f := range []struct {
		key string
		set bool
	}{
		{"assignmentId", in.AssignmentID != ""},
		{"configurationId", in.ConfigurationID != ""},
		{"source", in.Source != ""},
		{"target", in.hasTarget()},
	} {
		if f.set {
			fields = append(fields, change.FieldError{Field: "/data/intune/" + f.key, Reason: reasonLeftOut})
		}
	}
	switch in.Action {
	case "", change.ActionRevert:
	case change.ActionApply:
		fields = append(fields, change.FieldError{Field: "/data/intune/action", Reason: reasonApplyInBackOut})
	default:
		fields = append(fields, actionField(in.Action)...)
	}
	return fields
}

// actionField refuses a data.intune.action that is neither apply nor
// revert, without quoting it.
func actionField(action string) []change.FieldError {
	if action == "" || action == change.ActionApply || action == change.ActionRevert {
		return nil
	}
	return []change.FieldError{{Field: "/data/intune/action", Reason: "must be apply or revert"}}
}

// The reasons of the refusals of a window or a revert.
const (
	reasonLeftOut        = "must be left out of a revert (the record is in the back-out state, or data.intune.action is revert): it puts back every change of its ticket as the change record has it"
	reasonApplyInBackOut = "is apply, but data.record.state is the back-out state (ENROLLHOOK_SERVICENOW_REVERT_STATE), which asks for a revert; send one or the other"
	reasonDateTime       = "must be a date and time: RFC 3339, or the GlideDateTime value yyyy-MM-dd HH:mm:ss (UTC; getValue, not the display value)"
)

// glideDateTime is the value form of a ServiceNow GlideDateTime (getValue),
// always in UTC.
const glideDateTime = "2006-01-02 15:04:05"

// windowOf reads the change window from the record's planned start and
// end: nil when neither is sent; both must be, each RFC 3339 or a
// GlideDateTime value (UTC).
func windowOf(r *Record) (*change.Window, []change.FieldError) {
	return source.Window(source.WindowEnd{Value: r.StartDate, At: "/data/record/start_date", Name: "start_date"},
		source.WindowEnd{Value: r.EndDate, At: "/data/record/end_date", Name: "end_date"}, glideDateTime, reasonDateTime)
}

// recordOf names the approved record as "table/sys_id" for the write-back
// of the outcome, or "" when the delivery does not say which it is: the
// table from data.record.table, else the approval's source_table, else the
// record's URL (/<table>.do); the sys_id from data.record.sys_id, else the
// approval's document_id, else the URL's sys_id parameter.
func recordOf(a *Approval, r *Record) string {
	table := strings.TrimSpace(r.Table)
	if table == "" {
		table = strings.TrimSpace(a.SourceTable)
	}
	id := strings.TrimSpace(r.SysID)
	if id == "" {
		id = strings.TrimSpace(a.DocumentID)
	}
	if u, err := url.Parse(r.URL); err == nil && r.URL != "" {
		if base := path.Base(u.Path); table == "" && strings.HasSuffix(base, ".do") {
			table = strings.TrimSuffix(base, ".do")
		}
		if id == "" {
			id = u.Query().Get("sys_id")
		}
	}
	if !sender.IsServiceNowTable(table) || !sender.IsServiceNowSysID(id) {
		return ""
	}
	return table + "/" + strings.ToLower(id)
}

// notApproved names a known state; any other state is refused unquoted.
func notApproved(state string, rollUp bool) error {
	what := "the approval state"
	if rollUp {
		what = "the record's approval (other approvals are outstanding)"
	}
	return change.NotApprovedAs(what, state, knownStates)
}

// unknownIntune refuses the properties of data.intune the contract does
// not have (read), by name (truncated), never by value.
func unknownIntune(keys []string) []change.FieldError {
	if len(keys) == 0 {
		return nil
	}
	sort.Strings(keys)
	out := make([]change.FieldError, 0, len(keys))
	for _, k := range keys {
		if len(k) > 64 {
			k = strings.ToValidUTF8(k[:64], "\uFFFD") + "…"
		}
		k = strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
		out = append(out, change.FieldError{Field: "/data/intune/" + k, Reason: "unknown property; allowed: " + strings.Join(intuneKeys, ", ")})
	}
	return out
}

// typeError names the property whose JSON type is wrong, never its value.
func typeError(te *json.UnmarshalTypeError, body []byte) change.FieldError {
	if te.Field == "" {
		if t := bytes.TrimSpace(body); len(t) > 0 && t[0] == '{' {
			return change.FieldError{Field: "", Reason: "a property has the wrong JSON type (user references are a string or an object)"}
		}
		return change.FieldError{Field: "", Reason: "the body must be a JSON object"}
	}
	what := "string"
	switch te.Type.Kind() {
	case reflect.Struct, reflect.Pointer, reflect.Map:
		what = "JSON object"
	case reflect.Slice:
		if te.Type.Elem().Kind() != reflect.Uint8 {
			what = "JSON array"
		} else {
			what = "JSON value"
		}
	}
	parts := strings.Split(te.Field, ".")
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~", "~0"), "/", "~1")
	}
	return change.FieldError{Field: "/" + strings.Join(parts, "/"), Reason: "must be a " + what}
}
