package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/chat"
	"github.com/enrollhook/enrollhook/pkg/sender"
)

// wide are the targets that reach every device or every licensed user of
// the tenant: refused unless a rule lists them.
var wide = map[string]bool{change.TypeAllDevices: true, change.TypeAllLicensed: true}

// commands are the chat commands a policy can allow (chat's verbs; help is
// always allowed, and plan is checked as assign).
var commands = []string{string(chat.VerbAssign), string(chat.VerbShow)}

// Policy is a validated guardrail policy. The zero value is not useful:
// use Default or Parse.
type Policy struct {
	defaults rule
	senders  map[string]rule
	// separation of duties: the approver must not be the requester, as
	// identities (change.Ticket.SelfApproved), not as text.
	separation       bool
	requireRequester bool
	chat             map[string]chatRule
	// events is the allow-list of EventBridge events (eventbridge.go);
	// nil refuses every event.
	events *eventRule
	origin string
}

// rule is one sender's (or the default) allowances; a nil list means any.
type rule struct {
	configurations, groups, filters, collections *matcher
	kinds                                        map[string]bool
	// requireWindow refuses a change whose ticket has no window;
	// maxWindow (when not zero) caps the window's length (window.go).
	requireWindow bool
	maxWindow     time.Duration
	// scheduleAhead caps how far ahead a change whose window opens later
	// is scheduled; zero means the default (window.go).
	scheduleAhead time.Duration
}

type chatRule struct {
	tenants  []string // empty: any tenant the sender's allow-list accepts
	commands map[string]*matcher
	hours    *hours   // nil: any time (window.go)
	approval approval // approval.go
}

// matcher matches exact values and prefixes (an entry ending in '*').
type matcher struct {
	exact    map[string]bool
	prefixes []string
	any      bool
	fold     bool // compare without regard to case (GUIDs)
}

func (m *matcher) match(v string) bool {
	if m == nil || m.any {
		return true
	}
	if m.fold {
		v = strings.ToLower(v)
	}
	if m.exact[v] {
		return true
	}
	for _, p := range m.prefixes {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	return false
}

// Default is the built-in policy used when none is configured: every
// configuration, group, filter and collection; every target kind except
// the two wide ones (allDevicesAssignmentTarget,
// allLicensedUsersAssignmentTarget); separation of duties on (a ticket
// without requestedBy passes); chat commands as the senders' allow-lists
// say.
func Default() *Policy {
	return &Policy{defaults: rule{kinds: narrowKinds()}, senders: map[string]rule{}, separation: true,
		chat: map[string]chatRule{}, origin: "built-in"}
}

func narrowKinds() map[string]bool {
	k := map[string]bool{}
	for _, t := range change.ShortTypes {
		if !wide[t] {
			k[t] = true
		}
	}
	return k
}

// Origin says where the policy came from ("built-in", or the name given to
// Parse), for the cold-start log.
func (p *Policy) Origin() string { return p.origin }

// Error lists every problem of a policy document. Problems name the place
// in the document by JSON pointer; they quote no value.
type Error struct {
	Origin   string
	Problems []string
}

func (e *Error) Error() string {
	return "policy " + e.Origin + ": " + strings.Join(e.Problems, "; ")
}

// file is the document's form.
type file struct {
	Version            *int                 `json:"version"`
	SeparationOfDuties *bool                `json:"separationOfDuties"`
	RequireRequester   *bool                `json:"requireRequester"`
	Default            *fileRule            `json:"default"`
	Senders            map[string]*fileRule `json:"senders"`
	Chat               map[string]*fileChat `json:"chat"`
	EventBridge        *fileEventBridge     `json:"eventbridge"`
}

type fileRule struct {
	Configurations *[]string `json:"configurations"`
	Groups         *[]string `json:"groups"`
	Filters        *[]string `json:"filters"`
	Collections    *[]string `json:"collections"`
	TargetKinds    *[]string `json:"targetKinds"`
	RequireWindow  *bool     `json:"requireWindow"`
	MaxWindow      *string   `json:"maxWindow"`
	// MaxScheduleAhead caps how far ahead a change is scheduled (window.go).
	MaxScheduleAhead *string `json:"maxScheduleAhead"`
}

type fileChat struct {
	Tenants  []string            `json:"tenants"`
	Commands map[string][]string `json:"commands"`
	Hours    *fileHours          `json:"hours"`
	// Approval, Approvers and ConfigurationApprovers: two people for a
	// chat change (approval.go).
	Approval               json.RawMessage     `json:"approval"`
	Approvers              []string            `json:"approvers"`
	ConfigurationApprovers map[string][]string `json:"configurationApprovers"`
}

// Parse reads a policy document, JSON, or YAML when yaml is true (see
// yaml.go), and validates it. origin names it in errors and logs (a path,
// or the variable that held it). The error is an *Error listing every
// problem.
func Parse(data []byte, origin string, yaml bool) (*Policy, error) {
	if yaml {
		j, err := yamlToJSON(data)
		if err != nil {
			return nil, &Error{Origin: origin, Problems: []string{err.Error()}}
		}
		data = j
	} else if err := noDuplicateKeys(data); err != nil {
		return nil, &Error{Origin: origin, Problems: []string{err.Error()}}
	}
	var f file
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, &Error{Origin: origin, Problems: []string{decodeProblem(err)}}
	}
	if dec.More() {
		return nil, &Error{Origin: origin, Problems: []string{"the document must hold one object"}}
	}
	return build(&f, origin)
}

// decodeProblem describes a decoding error without quoting the document.
func decodeProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "/" + strings.ReplaceAll(te.Field, ".", "/") + ": must be " + typeWord(te.Type.String())
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("not valid JSON (at byte %d)", se.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "not valid JSON (it ends too early)"
	}
	if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
		return "unknown property " + safeKey(strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`)) +
			"; allowed: version, separationOfDuties, requireRequester, default, senders, chat, eventbridge (and in a rule: configurations, groups, filters, collections, targetKinds, requireWindow, maxWindow, maxScheduleAhead; in chat: tenants, commands, hours with zone, days, from, to, approval, approvers, configurationApprovers; in eventbridge: sources, accounts, detailTypes)"
	}
	return "not a policy document"
}

func typeWord(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list of strings"
	case strings.HasPrefix(t, "map"), strings.HasPrefix(t, "policy."), strings.HasPrefix(t, "*policy."):
		return "an object"
	case t == "bool", t == "*bool":
		return "true or false"
	case t == "int", t == "*int":
		return "a whole number"
	}
	return "a string"
}

func build(f *file, origin string) (*Policy, error) {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if f.Version == nil || *f.Version != 1 {
		bad("/version: must be 1")
	}
	p := &Policy{senders: map[string]rule{}, chat: map[string]chatRule{}, separation: true, origin: origin}
	if f.SeparationOfDuties != nil {
		p.separation = *f.SeparationOfDuties
	}
	if f.RequireRequester != nil {
		p.requireRequester = *f.RequireRequester
		if p.requireRequester && !p.separation {
			bad("/requireRequester: needs separationOfDuties")
		}
	}
	p.defaults = rule{kinds: narrowKinds()}
	if f.Default != nil {
		p.defaults = buildRule(f.Default, "/default", rule{kinds: narrowKinds()}, bad)
	}
	for _, name := range sortedKeys(f.Senders) {
		if !sender.Known(name) {
			bad("/senders/%s: unknown sender; the senders are %s", safeKey(name), strings.Join(sender.KnownNames(), ", "))
			continue
		}
		if f.Senders[name] == nil {
			bad("/senders/%s: must be an object", name)
			continue
		}
		p.senders[name] = buildRule(f.Senders[name], "/senders/"+name, p.defaults, bad)
	}
	for _, name := range sortedKeys(f.Chat) {
		if !sender.IsChat(name) {
			bad("/chat/%s: not a chat sender; the chat senders are %s", safeKey(name), strings.Join(sender.ChatNames(), ", "))
			continue
		}
		c := f.Chat[name]
		if c == nil {
			bad("/chat/%s: must be an object", name)
			continue
		}
		p.chat[name] = buildChat(c, "/chat/"+name, name, bad)
	}
	if f.EventBridge != nil {
		p.events = buildEvents(f.EventBridge, "/eventbridge", bad)
	}
	if len(problems) > 0 {
		return nil, &Error{Origin: origin, Problems: problems}
	}
	return p, nil
}

// buildRule reads a rule; a list it omits is inherited from base.
func buildRule(r *fileRule, at string, base rule, bad func(string, ...any)) rule {
	out := base
	if r.Configurations != nil {
		out.configurations = buildMatcher(*r.Configurations, at+"/configurations", change.ValidKey,
			"a configuration id (1 to 256 letters, digits, '-' or '_'), optionally ending in '*' for a prefix", false, bad)
	}
	if r.Groups != nil {
		out.groups = buildMatcher(*r.Groups, at+"/groups", sender.IsGUID, "an Entra group object id (GUID)", true, bad)
	}
	if r.Filters != nil {
		out.filters = buildMatcher(*r.Filters, at+"/filters", sender.IsGUID, "an assignment filter id (GUID)", true, bad)
	}
	if r.Collections != nil {
		out.collections = buildMatcher(*r.Collections, at+"/collections", change.ValidCollectionID,
			"a Configuration Manager collection id (e.g. SMS00001)", true, bad)
	}
	if r.TargetKinds != nil {
		out.kinds = map[string]bool{}
		for i, k := range *r.TargetKinds {
			t, ok := kindOf(k)
			if !ok {
				bad("%s/targetKinds/%d: unknown target kind; the kinds are group, exclusion, collection, scopeTagGroup, allDevices, allUsers", at, i)
				continue
			}
			out.kinds[t] = true
		}
	}
	buildWindowRule(r, at, &out, bad)
	return out
}

// kindOf maps a kind name of the file to the Graph type: a shorthand
// target type of the envelope (change.ShortTypes: group, allUsers, ...) or
// a Graph type name, with or without the namespace.
func kindOf(k string) (string, bool) {
	if t, ok := change.ShortTypes[k]; ok {
		return t, true
	}
	t := "#microsoft.graph." + change.ShortType(k)
	_, ok := change.Subtypes[t]
	return t, ok
}

func buildMatcher(list []string, at string, valid func(string) bool, what string, fold bool, bad func(string, ...any)) *matcher {
	m := &matcher{exact: map[string]bool{}, fold: fold}
	for i, v := range list {
		if v == "*" {
			m.any = true
			continue
		}
		prefix := strings.HasSuffix(v, "*")
		body := strings.TrimSuffix(v, "*")
		if fold {
			body = strings.ToLower(body)
		}
		switch {
		case prefix && body != "" && change.ValidKey(body):
			m.prefixes = append(m.prefixes, body)
		case !prefix && valid(v):
			m.exact[body] = true
		default:
			bad("%s/%d: must be %s, or \"*\" for any", at, i, what)
		}
	}
	return m
}

func buildChat(c *fileChat, at, name string, bad func(string, ...any)) chatRule {
	out := chatRule{commands: map[string]*matcher{}}
	if c.Hours != nil {
		out.hours = buildHours(c.Hours, at+"/hours", bad)
	}
	out.approval = buildApproval(c, at, name, bad)
	for i, t := range c.Tenants {
		ok := sender.IsGUID(t)
		if name == sender.Slack {
			ok = sender.IsSlackTeam(t)
		}
		if !ok {
			bad("%s/tenants/%d: must be %s", at, i, map[bool]string{true: "a Slack team id (T… or E…)", false: "an Entra tenant id (GUID)"}[name == sender.Slack])
			continue
		}
		out.tenants = append(out.tenants, t)
	}
	if c.Commands == nil {
		bad("%s/commands: required: the users who may run assign and show (\"*\" for everyone the sender's allow-list admits)", at)
	}
	for _, verb := range sortedKeys(c.Commands) {
		if !slices.Contains(commands, verb) {
			bad("%s/commands/%s: unknown command; the commands are assign and show (help is always allowed)", at, safeKey(verb))
			continue
		}
		validUser := sender.IsSlackUser
		if name == sender.Teams {
			validUser = sender.IsTeamsUser
		}
		m := &matcher{exact: map[string]bool{}, fold: name == sender.Teams}
		for i, u := range c.Commands[verb] {
			switch {
			case u == "*":
				m.any = true
			case validUser(u):
				if m.fold {
					u = strings.ToLower(u)
				}
				m.exact[u] = true
			default:
				bad("%s/commands/%s/%d: must be %s, or \"*\"", at, verb, i,
					map[bool]string{true: "a Slack member id (U… or W…)", false: "an Entra object id (GUID) or a Teams user id (29:…)"}[name == sender.Slack])
			}
		}
		out.commands[verb] = m
	}
	return out
}

// Check returns nil when the sender named from may apply req. chat says the change is a
// chat command; from a chat sender (slack, teams) it is its own approval,
// so separation of duties does not apply to it (who may run assign is the
// chat rule's, CheckCommand).
// Errors are *change.Error with CodeForbidden and a change.KindPolicy* kind;
// the message names the value that broke the rule (values that passed
// validation: ids, never a secret).
func (p *Policy) Check(from string, chat bool, req *change.Request) error {
	if p == nil || req == nil {
		return nil
	}
	// Only a chat sender's command is its own approval: a change that
	// claims to be one from another sender (a forged queue message) is
	// held to separation of duties.
	if p.separation && !(chat && sender.IsChat(from)) {
		// Identities, not strings: the sender's stable ids when it gave
		// them, and the names normalised (change.Ticket.SelfApproved).
		by := strings.TrimSpace(req.Ticket.RequestedBy) + strings.TrimSpace(req.Ticket.RequestedByID)
		self, err := req.Ticket.SelfApproved()
		switch {
		case by == "" && p.requireRequester:
			return change.Refuse(change.KindPolicySeparationOfDuties, "the ticket names no requester (requestedBy), so separation of duties cannot be checked; nothing was changed")
		case err != nil:
			// Validation refuses these with 422; a change that skipped it
			// (a forged queue message) is not let through uncompared.
			return change.Refuse(change.KindPolicySeparationOfDuties, "the requester or the approver has invisible or format characters, letters of more than one script in one part, or is not a user name or e-mail address, so separation of duties cannot be checked; nothing was changed")
		case self:
			return change.Refuse(change.KindPolicySeparationOfDuties, "the approver "+quote(strings.TrimSpace(req.Ticket.ApprovedBy))+" is also the requester; separation of duties needs another approver, nothing was changed")
		}
	}
	if req.Reverts() {
		// A revert names its ticket only: each change it puts back is
		// checked as a change of its own (the apply pipeline's revert).
		return nil
	}
	r, ok := p.senders[from]
	if !ok {
		r = p.defaults
	}
	if !r.configurations.match(req.ConfigurationID) {
		return change.Refuse(change.KindPolicyConfiguration, "the policy does not allow the "+from+" sender to change configuration "+quote(req.ConfigurationID))
	}
	t := req.Assignment.Target
	if t == nil {
		return nil
	}
	typ := t.ODataType
	if !strings.HasPrefix(typ, "#") {
		typ = "#" + typ
	}
	if !r.kinds[typ] {
		if wide[typ] {
			return change.Refuse(change.KindPolicyWideTarget, "the policy does not allow the "+from+" sender the wide target "+change.ShortType(typ)+
				" (every device or every licensed user); list it in targetKinds to allow it")
		}
		return change.Refuse(change.KindPolicyTargetKind, "the policy does not allow the "+from+" sender the target kind "+change.ShortType(typ))
	}
	switch typ {
	case change.TypeGroup, change.TypeExclusion:
		if !r.groups.match(t.GroupID) {
			return change.Refuse(change.KindPolicyGroup, "the policy does not allow the "+from+" sender to target group "+quote(t.GroupID))
		}
	case change.TypeScopeTagGroup:
		if !r.groups.match(t.EntraObjectID) {
			return change.Refuse(change.KindPolicyGroup, "the policy does not allow the "+from+" sender to target group "+quote(t.EntraObjectID))
		}
	case change.TypeCMCollection:
		if !r.collections.match(t.CollectionID) {
			return change.Refuse(change.KindPolicyCollection, "the policy does not allow the "+from+" sender to target collection "+quote(t.CollectionID))
		}
	}
	if t.FilterID != "" && !r.filters.match(t.FilterID) {
		return change.Refuse(change.KindPolicyFilter, "the policy does not allow the "+from+" sender to use assignment filter "+quote(t.FilterID))
	}
	return nil
}

// CheckCommand returns nil when the chat user may run the command verb
// ("assign", "show"; "help" is always allowed). The sender's own allow-list
// (ENROLLHOOK_SLACK_ALLOWED_USERS, ...) has admitted the user already: a
// policy only narrows it. A sender without a chat section is not narrowed.
// Errors are *change.Error with CodeForbidden and change.KindPolicyCommand.
func (p *Policy) CheckCommand(sender, tenant, user, verb string) error {
	if p == nil || verb == string(chat.VerbHelp) {
		return nil
	}
	c, ok := p.chat[sender]
	if !ok {
		return nil
	}
	if len(c.tenants) > 0 {
		found := false
		for _, t := range c.tenants {
			if strings.EqualFold(t, strings.TrimSpace(tenant)) {
				found = true
			}
		}
		if !found {
			return change.Refuse(change.KindPolicyCommand, "the policy does not allow commands from workspace or tenant "+quote(tenant))
		}
	}
	switch verb { // the commands the policy's rights cover
	case string(chat.VerbPlan), string(chat.VerbRevert):
		verb = string(chat.VerbAssign)
	case string(chat.VerbHistory):
		verb = string(chat.VerbShow)
	}
	m := c.commands[verb]
	if m == nil || !m.match(user) {
		return change.Refuse(change.KindPolicyCommand, "the policy does not allow user "+quote(user)+" to run "+verb)
	}
	return nil
}

// quote puts an id in backquotes when it is safe to show (it passed
// validation, so it always is for change ids); anything else is not
// echoed.
func quote(s string) string {
	if s == "" || len(s) > 256 {
		return "(not shown)"
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '`' {
			return "(not shown)"
		}
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// safeKey shows a document key in a problem only when it is a short word.
func safeKey(k string) string {
	if len(k) > 0 && len(k) <= 32 {
		ok := true
		for _, r := range k {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
				ok = false
			}
		}
		if ok {
			return k
		}
	}
	return "(key)"
}

// Load returns the policy of a document, or Default when data is nil (no
// policy configured). The error is an *Error listing every problem.
func Load(data []byte, origin string, yaml bool) (*Policy, error) {
	if data == nil {
		return Default(), nil
	}
	return Parse(data, origin, yaml)
}
