package jira

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/sender"
	"github.com/enrollhook/enrollhook/pkg/source"
)

// Webhook is the part of a Jira issue event the adapter reads (Jira Cloud's
// jira:issue_updated payload: issue, changelog, user, timestamp). Jira adds fields over time; unknown ones are
// ignored.
type Webhook struct {
	WebhookEvent string     `json:"webhookEvent"`
	User         *User      `json:"user"`
	Issue        *Issue     `json:"issue"`
	Changelog    *Changelog `json:"changelog"`
}

// Issue is the issue of an event, in the REST API's shape.
type Issue struct {
	Key    string                     `json:"key"`
	Self   string                     `json:"self"`
	Fields map[string]json.RawMessage `json:"fields"`
	// read are the fields Decode reads as the one pass read them
	// (readOnePass), in place of their bytes in Fields; nil when the
	// issue was read otherwise.
	read map[string]*fieldReading
}

// fieldReading is an issue field as Decode reads it, each way it may:
// as text (fieldString), as an approval (approvalValue) and as a user
// (json.Unmarshal into a User, for the requester).
type fieldReading struct {
	text       string
	textOK     bool
	approval   string
	approvalOK bool
	user       User
	userOK     bool
}

// absentField is a field the issue does not have, as each reading reads
// it: text and approval "" (fieldString(nil), approvalValue(nil)), no user.
var absentField = fieldReading{textOK: true, approvalOK: true}

// passed is the field name as the one pass read it; ok is false when the
// issue was read otherwise, and its bytes are to be read.
func (is *Issue) passed(name string) (f *fieldReading, ok bool) {
	if is.read == nil {
		return nil, false
	}
	if f := is.read[name]; f != nil {
		return f, true
	}
	return &absentField, true
}

// text is the field name as text (fieldString).
func (is *Issue) text(name string) (string, bool) {
	if f, ok := is.passed(name); ok {
		return f.text, f.textOK
	}
	return fieldString(is.Fields[name])
}

// approval is the field name as an approval (approvalValue).
func (is *Issue) approval(name string) (string, bool) {
	if f, ok := is.passed(name); ok {
		return f.approval, f.approvalOK
	}
	return approvalValue(is.Fields[name])
}

// user is the field name as a user; ok is false when the issue has no
// such field or it is not a user's shape.
func (is *Issue) user(name string) (u User, ok bool) {
	if f, ok := is.passed(name); ok {
		return f.user, f.userOK
	}
	raw, ok := is.Fields[name]
	return u, ok && json.Unmarshal(raw, &u) == nil
}

// User is a Jira user as webhooks send it; emailAddress is often withheld.
type User struct {
	AccountID    string `json:"accountId"`
	DisplayName  string `json:"displayName"`
	EmailAddress string `json:"emailAddress"`
}

// String names the user for the audit trail: e-mail, else account id,
// else display name.
func (u *User) String() string {
	if u == nil {
		return ""
	}
	for _, s := range []string{u.EmailAddress, u.AccountID, u.DisplayName} {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}

// Changelog lists what the event changed.
type Changelog struct {
	Items []ChangelogItem `json:"items"`
}

// ChangelogItem is one changed field.
type ChangelogItem struct {
	Field      string `json:"field"`
	FieldID    string `json:"fieldId"`
	FromString string `json:"fromString"`
	ToString   string `json:"toString"`
}

// EventIssueUpdated is the one webhookEvent that can approve an issue.
const EventIssueUpdated = "jira:issue_updated"

// Decode takes either shape. A body with "ticket" is the generic envelope
// (Jira Automation) and is decoded exactly as on /hooks/generic, its system
// defaulting to jira; a ticket state other than approved is refused with
// CodeNotApproved. A body with "issue" or "webhookEvent" is Jira's own
// webhook: an event other than jira:issue_updated, or one that does not
// approve the issue, is refused with CodeNotApproved before its fields are
// read (a Jira webhook fires for every update its filter matches; most are
// not approvals, and a later edit of an approved issue must not apply
// anything); an approving event by the issue's own reporter is refused with
// CodeForbidden and Kind separation-of-duties; any other approving event
// is mapped through Options and validated, every invalid field reported
// with its pointer into the Jira body. The window fields of Options become
// the ticket's window. An event that moves the issue into a revert status
// is a revert of the issue's changes (approved by the event's user, under
// the same separation of duties), which names its ticket only: the
// issue's change fields are not read. Errors are *change.Error with
// CodeMalformed, CodeInvalid, CodeNotApproved or CodeForbidden.
func (s *Source) Decode(d source.Delivery, opts *change.Options) (*change.Request, error) {
	payload := d.Payload
	if payload == nil {
		payload, _, _ = s.parse(d.Body)
	}
	var rd *reading
	switch p := payload.(type) {
	case *change.Reading:
		return envelopeDecoded(p.Decode(opts))
	case *reading:
		rd = p
	default:
		rd = read(d.Body)
	}
	event, plain := rd.event()
	if rd.err != nil || !plain {
		// Refused whichever way: the body is read again, as it always
		// was, to word the refusal exactly.
		return s.decodeBody(d.Body, opts)
	}
	switch issue := rd.w.Issue != nil; {
	case bool(rd.w.Ticket) && !issue:
		// The envelope's reader stopped at an issue that a later one of
		// the same name, null, took back: read the envelope from the
		// bytes.
		return envelopeDecoded(change.Decode(d.Body, opts))
	case issue || len(rd.w.WebhookEvent) > 0:
		return s.decodeWebhook(&Webhook{WebhookEvent: event, User: rd.w.User, Issue: rd.w.Issue, Changelog: rd.w.Changelog}, d.Body, rd.noRepeats, opts)
	default:
		return nil, notJira()
	}
}

// present records that a property is there, whatever its value, without
// decoding it.
type present bool

// UnmarshalJSON implements json.Unmarshaler.
func (p *present) UnmarshalJSON([]byte) error { *p = true; return nil }

// wire is a Jira delivery as its parse reads it when it is not the generic
// envelope (see parse): Jira's own webhook, its signed timestamp, and
// whether it has a ticket.
type wire struct {
	Timestamp    json.RawMessage `json:"timestamp"`
	Ticket       present         `json:"ticket"`
	WebhookEvent json.RawMessage `json:"webhookEvent"`
	User         *User           `json:"user"`
	Issue        *Issue          `json:"issue"`
	Changelog    *Changelog      `json:"changelog"`
}

// reading is what Authenticate read of an authenticated body, for Decode.
type reading struct {
	err error // the parse's error: not JSON, or a wrong JSON type
	w   wire
	// noRepeats: the body was read in one pass that found no name
	// repeated at any depth (readOnePass), so Decode need not look again.
	noRepeats bool
}

// envelopeRead is what the generic envelope's reader keeps of a Jira
// delivery's top level: its signed timestamp; and it stops at an issue,
// the mark of Jira's own webhook.
var envelopeRead = &change.ReadOptions{Stamp: "timestamp", Stop: "issue"}

// parse parses an authenticated body once, into the Delivery's payload,
// and reads its signed timestamp and whether it is the generic envelope (a
// "ticket" and no issue, or a null one). The envelope's reader
// (change.Read) reads it first: the envelope, Jira Automation's, is read
// completely, its timestamp with it; Jira's own webhook names its issue
// among its first properties (after timestamp, webhookEvent and user), so
// the reader stops there, having read little, and the webhook is parsed
// into wire. So is a body with neither ticket nor issue, or not JSON (a
// refusal either way).
func (s *Source) parse(body []byte) (payload any, ts time.Time, envelope bool) {
	if env := change.Read(body, envelopeRead); env.Ticket {
		return env, millis(env.Stamp), true
	}
	rd := readOnePass(body, s.reads)
	if rd == nil {
		rd = read(body)
	}
	ts, envelope = rd.stamp(body)
	return rd, ts, envelope
}

// read parses an authenticated body once, into wire.
func read(body []byte) *reading {
	rd := &reading{}
	rd.err = json.Unmarshal(body, &rd.w)
	return rd
}

// stamp is the body's signed timestamp and whether it is the generic
// envelope (see stamp).
func (rd *reading) stamp(body []byte) (time.Time, bool) {
	if rd.err != nil {
		return stamp(body) // what can be read of it
	}
	return millis(rd.w.Timestamp), bool(rd.w.Ticket) && rd.w.Issue == nil
}

// event is webhookEvent; plain is false when it is neither a string nor
// null (the typed decode words that refusal).
func (rd *reading) event() (event string, plain bool) {
	raw := bytes.TrimSpace(rd.w.WebhookEvent)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return "", true
	case raw[0] == '"':
		s, err := source.Unquote(raw)
		return s, err == nil
	}
	return "", false
}

// decodeBody is Decode over the bytes alone, for a body the one parse
// could not read as it is: it probes which shape the body is, then decodes
// that shape.
func (s *Source) decodeBody(body []byte, opts *change.Options) (*change.Request, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, change.Invalid(change.FieldError{Field: "", Reason: "the body must be a JSON object"})
		}
		return nil, change.Malformed(body, err)
	}
	_, envelope := probe["ticket"]
	_, issue := probe["issue"]
	_, event := probe["webhookEvent"]
	switch {
	case envelope && !issue:
		return envelopeDecoded(change.Decode(body, opts))
	case issue || event:
		var w Webhook
		if err := json.Unmarshal(body, &w); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) && te.Field != "" {
				return nil, change.Invalid(change.FieldError{Field: "/" + strings.ReplaceAll(te.Field, ".", "/"), Reason: "has the wrong JSON type"})
			}
			return nil, change.Invalid(change.FieldError{Field: "", Reason: "a property has the wrong JSON type"})
		}
		return s.decodeWebhook(&w, body, false, opts)
	default:
		return nil, notJira()
	}
}

func notJira() error {
	return change.Invalid(change.FieldError{Field: "", Reason: "must be a Jira webhook event (webhookEvent, issue, changelog) or the generic envelope (ticket, configurationId, assignmentId, assignment)"})
}

// envelopeDecoded completes the decode of the generic envelope, decoded
// exactly as on /hooks/generic.
func envelopeDecoded(r *change.Request, err error) (*change.Request, error) {
	if err != nil {
		return nil, err
	}
	if !r.Approved() {
		// Refused here, as on the issue path, so that nothing Decode
		// accepts is ever unapproved.
		return nil, change.NotApproved(r.Ticket.State)
	}
	if r.Ticket.RequestedBy == "" && r.Ticket.RequestedByID == "" {
		// As on the issue path: without a requester, separation of
		// duties would have nobody to compare the approver with.
		return nil, change.Invalid(change.FieldError{Field: "/ticket/requestedBy",
			Reason: "is required from Jira: who asked for the change (the issue's reporter), so that they cannot approve it"})
	}
	if r.Ticket.System == "" {
		r.Ticket.System = System
	}
	return r, nil
}

// decodeWebhook maps Jira's own webhook w, parsed from body, onto a change;
// noRepeats says the parse found no repeated name (else body is walked for
// them).
func (s *Source) decodeWebhook(w *Webhook, body []byte, noRepeats bool, opts *change.Options) (*change.Request, error) {
	if !s.Mapped() {
		return nil, change.Invalid(change.FieldError{Field: "/issue", Reason: "Jira's own webhook is not mapped on this receiver (ENROLLHOOK_JIRA_APPROVED_STATUS, ENROLLHOOK_JIRA_FIELD_*); send the generic envelope from Jira Automation instead"})
	}
	if w.WebhookEvent != EventIssueUpdated {
		// An approval is an update of an existing issue; a created,
		// deleted or comment event approves nothing, whatever it carries.
		return nil, &change.Error{Code: change.CodeNotApproved, Message: "this Jira event is not an issue update (webhookEvent " + EventIssueUpdated + "); only the update that approves the issue changes anything; nothing was changed"}
	}
	if w.Issue == nil {
		return nil, change.Invalid(change.FieldError{Field: "/issue", Reason: "is required: the issue the event is about"})
	}
	revert, err := s.approves(w)
	if err != nil {
		return nil, err
	}
	requester, requesterAt := reporter(w.Issue)
	if sameUser(w.User, requester) {
		return nil, &change.Error{Code: change.CodeForbidden, Kind: change.KindSeparationOfDuties,
			Message: "separation of duties: the user who approved this issue is its reporter, and a requester cannot approve their own change; nothing was changed. Have another person approve it, and restrict in the Jira workflow who may approve"}
	}
	// An agent who raised the issue for someone else (Jira Service
	// Management's "raise on behalf of"), or changed its reporter since,
	// is its creator: they may not approve it either.
	if creator, ok := w.Issue.user("creator"); ok && creator.String() != "" && sameUser(w.User, &creator) {
		return nil, &change.Error{Code: change.CodeForbidden, Kind: change.KindSeparationOfDuties,
			Message: "separation of duties: the user who approved this issue created it (for its reporter), and whoever raised a change cannot approve it; nothing was changed. Have another person approve it, and restrict in the Jira workflow who may approve"}
	}
	var fields []change.FieldError
	if !noRepeats {
		fields = change.DuplicateFields(body)
	}
	switch {
	case strings.TrimSpace(w.Issue.Key) == "":
		fields = append(fields, change.FieldError{Field: "/issue/key", Reason: "is required: the issue's key, such as ITSM-42"})
	case !sender.IsJiraIssueKey(w.Issue.Key):
		fields = append(fields, change.FieldError{Field: "/issue/key", Reason: "must be an issue key such as ITSM-42"})
	}
	if requester == nil {
		fields = append(fields, change.FieldError{Field: requesterAt,
			Reason: "is required: who asked for the change (the issue's reporter, else its creator), so that they cannot approve it"})
	}
	window, wf := s.windowOf(w.Issue)
	fields = append(fields, wf...)
	ticket := change.Ticket{
		ID: w.Issue.Key, System: System, State: change.ApprovedState,
		RequestedBy: requester.String(), ApprovedBy: w.User.String(), URL: browseURL(w.Issue.Self, w.Issue.Key),
		RequestedByID: requester.id(), ApprovedByID: w.User.id(), Window: window,
	}
	pointers := map[string]string{
		"/ticket/id":            "/issue/key",
		"/ticket/approvedBy":    "/user",
		"/ticket/requestedBy":   requesterAt,
		"/ticket/approvedById":  "/user/accountId",
		"/ticket/requestedById": requesterAt + "/accountId",
		"/ticket/url":           "-",
		"/ticket/window/start":  "/issue/fields/" + s.opts.WindowStartField,
		"/ticket/window/end":    "/issue/fields/" + s.opts.WindowEndField,
		"/ticket":               "/issue",
		"/configurationId":      "/issue/fields/" + s.opts.ConfigurationField,
		"/assignmentId":         "/issue/fields/" + s.opts.AssignmentField,
		"/assignment":           "-",
	}
	if revert {
		// The issue's fields still name what it applied; a revert puts
		// back every change of the ticket as the change record has it,
		// so they are not read.
		req := &change.Request{Ticket: ticket, Action: change.ActionRevert}
		return req, s.check(req, fields, pointers, opts)
	}
	get := func(field, at string) string {
		v, ok := w.Issue.text(field)
		if !ok {
			fields = append(fields, change.FieldError{Field: at, Reason: "must be text, a number or a select option"})
		}
		return strings.TrimSpace(v)
	}
	ptr := func(field string) string { return "/issue/fields/" + field }
	configuration := get(s.opts.ConfigurationField, ptr(s.opts.ConfigurationField))
	assignment := get(s.opts.AssignmentField, ptr(s.opts.AssignmentField))
	short := change.ShortTarget{Type: "group"}
	// Where each shorthand property comes from, for the field errors.
	from := map[string]string{"/t": "/issue/fields", "/t/type": "/issue/fields"}
	if t := s.opts.TargetType; t != "" {
		if sender.IsJiraFieldID(t) {
			short.Type, from["/t/type"] = get(t, ptr(t)), ptr(t)
			if !sender.IsJiraTargetType(short.Type) {
				// Collections and scope tag groups need values no field maps.
				return nil, change.Invalid(unnamed(fields, []change.FieldError{{Field: ptr(t), Reason: "must be one of: group, exclusion, allUsers, allDevices"}})...)
			}
		} else {
			short.Type = t
		}
	}
	if f := s.opts.GroupField; f != "" {
		short.GroupID, from["/t/groupId"] = get(f, ptr(f)), ptr(f)
		if !strings.EqualFold(short.Type, "group") && !strings.EqualFold(short.Type, "exclusion") {
			short.GroupID = "" // a group field filled in for a target without a group
		}
	}
	if f := s.opts.FilterField; f != "" {
		short.FilterID, from["/t/filterId"] = get(f, ptr(f)), ptr(f)
	}
	if t := s.opts.FilterType; t != "" {
		if sender.IsJiraFieldID(t) {
			short.FilterType, from["/t/filterType"] = strings.ToLower(get(t, ptr(t))), ptr(t)
		} else {
			short.FilterType = t
		}
	}
	if short.FilterID == "" && !sender.IsJiraFieldID(s.opts.FilterType) {
		// A fixed mode applies only when the issue names a filter. A mode
		// chosen on the issue without a filter stays, and is refused: it
		// would otherwise widen the assignment silently.
		short.FilterType = ""
	}
	target, tf := short.Target("/t", opts)
	fields = unnamed(fields, change.RemapFields(tf, from))
	req := &change.Request{
		Ticket:          ticket,
		ConfigurationID: configuration,
		AssignmentID:    assignment,
		Assignment:      change.Assignment{Target: target},
	}
	if req.Assignment.Target == nil {
		req.Assignment.Target = &change.Target{ODataType: change.TypeAllDevices} // its errors are in tf
	}
	if err := s.check(req, fields, pointers, opts); err != nil {
		return nil, err
	}
	req.Assignment.Target = target
	req.Normalize()
	return req, nil
}

// check validates req, adding its field errors, at their pointers into
// the Jira body, to fields found before; nil when there are none. A field
// found before (a value that does not read, an issue key that is not one)
// is named once, by that error: the shorthand target and validation see
// only what it became (empty, most often), and would call it missing too.
func (s *Source) check(req *change.Request, fields []change.FieldError, pointers map[string]string, opts *change.Options) error {
	if err := req.Validate(opts); err != nil {
		var ce *change.Error
		if !errors.As(err, &ce) {
			return err
		}
		fields = unnamed(fields, change.RemapFields(ce.Fields, pointers))
	}
	return change.Invalid(fields...)
}

// unnamed adds to fields those of more at a pointer fields does not name
// yet: one error per field, the first found.
func unnamed(fields, more []change.FieldError) []change.FieldError {
	named := make(map[string]bool, len(fields))
	for _, f := range fields {
		named[f.Field] = true
	}
	for _, f := range more {
		if !named[f.Field] {
			fields = append(fields, f)
		}
	}
	return fields
}

// windowOf reads the change window from the configured date-time fields:
// nil when they are not configured or both are empty; otherwise both must
// hold a date and time, Jira's (2026-03-02T20:00:00.000+0000) or RFC 3339.
// The window is written in RFC 3339, in UTC.
func (s *Source) windowOf(is *Issue) (*change.Window, []change.FieldError) {
	startField, endField := s.opts.WindowStartField, s.opts.WindowEndField
	if startField == "" || endField == "" {
		return nil, nil
	}
	var bad []change.FieldError
	text := func(field string) string {
		v, ok := is.text(field)
		if !ok {
			bad = append(bad, change.FieldError{Field: "/issue/fields/" + field, Reason: reasonDateTime})
		}
		return strings.TrimSpace(v)
	}
	start, end := text(startField), text(endField)
	if len(bad) > 0 {
		return nil, bad
	}
	// Jira's offset has no colon; fractional seconds are read without a
	// layout of their own.
	return source.Window(source.WindowEnd{Value: start, At: "/issue/fields/" + startField, Name: startField},
		source.WindowEnd{Value: end, At: "/issue/fields/" + endField, Name: endField}, jiraDateTime, reasonDateTime)
}

// reasonDateTime refuses a window field that is not a date and time.
const reasonDateTime = "must be a date and time: Jira's (2026-03-02T20:00:00.000+0000) or RFC 3339"

// jiraDateTime is how Jira's REST API and webhooks write a date-time field.
const jiraDateTime = "2006-01-02T15:04:05-0700"

// approves returns nil when the event approves the issue: its changelog
// moves the issue into an approved status, or changes the approval field
// to approved (the changelog item's toString reads approved, and so does
// the field's value on the issue); revert is true when it moves the issue
// into a revert status (Options.RevertStatuses), which approves a revert
// of the issue's changes. Anything else is CodeNotApproved.
func (s *Source) approves(w *Webhook) (revert bool, err error) {
	var items []ChangelogItem
	if w.Changelog != nil {
		items = w.Changelog.Items
	}
	approved := false
	in := func(list []string, status string) bool {
		return slices.ContainsFunc(list, func(st string) bool { return strings.EqualFold(strings.TrimSpace(status), st) })
	}
	for _, it := range items {
		if strings.EqualFold(it.FieldID, "status") || it.FieldID == "" && strings.EqualFold(it.Field, "status") {
			if in(s.opts.RevertStatuses, it.ToString) {
				// A status that is both is refused at cold start; a
				// revert is the narrower reading.
				return true, nil
			}
			approved = approved || in(s.opts.ApprovedStatuses, it.ToString)
		}
		if f := s.opts.ApprovalField; f != "" && it.FieldID == f && strings.EqualFold(strings.TrimSpace(it.ToString), change.ApprovedState) {
			// The change itself must read approved: the issue's current
			// value alone could have been approved by an earlier event.
			if v, _ := w.Issue.approval(f); strings.EqualFold(v, change.ApprovedState) {
				approved = true
			}
		}
	}
	if approved {
		return false, nil
	}
	return false, &change.Error{Code: change.CodeNotApproved, Message: "this Jira event does not approve the issue: it neither moves it into an approved or revert status nor changes its approval field to approved; nothing was changed"}
}

// fieldString reads a custom field as text: a string, a number, a select
// option ({"value": ...}) or an object with a name; null and absent read as
// "". ok is false for other shapes.
func fieldString(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", true
	}
	switch raw[0] {
	case '"':
		s, err := source.Unquote(raw)
		return s, err == nil
	case '{':
		var o struct {
			Value *string `json:"value"`
			Name  *string `json:"name"`
		}
		if json.Unmarshal(raw, &o) != nil {
			return "", false
		}
		switch {
		case o.Value != nil:
			return *o.Value, true
		case o.Name != nil:
			return *o.Name, true
		}
		return "", false
	case '[', 't', 'f':
		return "", false
	default:
		var n json.Number
		err := json.Unmarshal(raw, &n)
		return n.String(), err == nil
	}
}

// approvalValue reads an approval field: text or a select option, or a list
// (JSM approvals, by each entry's finalDecision; or options) that reads
// approved only when every entry does.
func approvalValue(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil || len(list) == 0 {
			return "", false
		}
		for _, e := range list {
			// A JSM approval ({id, name, finalDecision, approvers, ...})
			// decides by finalDecision; its name is only the step's label,
			// so an object entry is read by finalDecision or, for a
			// multi-select option, value, never by name.
			var o struct {
				FinalDecision *string `json:"finalDecision"`
				Value         *string `json:"value"`
			}
			v, ok := fieldString(e)
			if e = bytes.TrimSpace(e); len(e) > 0 && e[0] == '{' {
				v, ok = "", json.Unmarshal(e, &o) == nil
				switch {
				case o.FinalDecision != nil:
					v = *o.FinalDecision
				case o.Value != nil:
					v = *o.Value
				}
			}
			if !ok || !strings.EqualFold(strings.TrimSpace(v), change.ApprovedState) {
				return "", false
			}
		}
		return change.ApprovedState, true
	}
	return fieldString(raw)
}

// reporter is who asked: the issue's reporter, else its creator, with the
// pointer of the field it came from; nil when neither names a user.
func reporter(is *Issue) (*User, string) {
	for _, f := range []string{"reporter", "creator"} {
		if u, ok := is.user(f); ok && u.String() != "" {
			return &u, "/issue/fields/" + f
		}
	}
	return nil, "/issue/fields/reporter"
}

// id is the user's accountId, Jira's stable id of a user, for the ticket.
func (u *User) id() string {
	if u == nil {
		return ""
	}
	return strings.TrimSpace(u.AccountID)
}

// sameUser reports whether a and b are one person: the same account id
// (change.SameID), the same e-mail address, or the same name for the audit
// trail (e-mail, else account id, else display name), the addresses and
// names compared as identities (change.SameIdentity: PRECIS-normalised, a
// bare name equal to an address's local part). A user whose name cannot be
// normalised is refused by validation, after this check.
func sameUser(a, b *User) bool {
	if a == nil || b == nil {
		return false
	}
	return change.SameID(a.AccountID, b.AccountID) || change.SameIdentity(a.EmailAddress, b.EmailAddress) ||
		change.SameIdentity(a.String(), b.String())
}

// browseURL turns the issue's REST self link into the page people open.
func browseURL(self, key string) string {
	u, err := url.Parse(self)
	if err != nil || u.Scheme != "https" || u.Host == "" || !sender.IsJiraIssueKey(key) {
		return ""
	}
	return "https://" + u.Host + "/browse/" + key
}
