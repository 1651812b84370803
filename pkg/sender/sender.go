package sender

// Names of the senders: the route segment (POST /hooks/{name}).
const (
	Generic    = "generic"
	ServiceNow = "servicenow"
	Jira       = "jira"
	Slack      = "slack"
	Teams      = "teams"
)

// EventBridge is the name of the sender whose changes arrive as EventBridge
// events (functions/events): no route and no secret, since IAM
// authenticates the caller (the rule's permission to invoke the function);
// the policy file's key for its rule and its allow-list.
const EventBridge = "eventbridge"

// The variables of the chat senders' allow-lists: the configuration reads
// them, and a refusal names the one an administrator sets.
const (
	SlackTeamVar   = "ENROLLHOOK_SLACK_TEAM_ID"
	SlackUsersVar  = "ENROLLHOOK_SLACK_ALLOWED_USERS"
	TeamsTenantVar = "ENROLLHOOK_TEAMS_TENANT_ID"
	TeamsUsersVar  = "ENROLLHOOK_TEAMS_ALLOWED_USERS"
)

// Kind says what a sender's delivery is.
type Kind string

const (
	// ITSM senders deliver an approved ticket (the generic envelope,
	// ServiceNow, Jira); separation of duties applies to them.
	ITSM Kind = "itsm"
	// Chat senders deliver a command a person typed; the command is its
	// own approval, and who may run it is the allow-list's and the policy's
	// chat rule's.
	Chat Kind = "chat"
	// Event senders deliver an approved ticket as an AWS event that
	// invokes a function of their own: no route and no secret; who may
	// ask is the policy's allow-list of the event's origin. Separation of
	// duties applies to them as to ITSM senders.
	Event Kind = "event"
)

// Sender is one entry of the registry.
type Sender struct {
	// Name is the route segment and the policy file's key.
	Name string
	Kind Kind
	// Secret is the environment variable holding the webhook secret; a
	// sender without one is disabled (fail closed).
	Secret string
	// Async: with a queue configured and ENROLLHOOK_ASYNC_SOURCES unset,
	// this sender's approved changes are queued and answered at once. The
	// chat senders are, as Slack (3 s) and Teams (5 s) give up before a
	// throttled Graph call may finish.
	Async bool
}

// Route is the path a sender posts to.
func (s Sender) Route() string { return "/hooks/" + s.Name }

// registry lists the senders in route order.
var registry = [...]Sender{
	{Name: Generic, Kind: ITSM, Secret: "ENROLLHOOK_SECRET_GENERIC"},
	{Name: ServiceNow, Kind: ITSM, Secret: "ENROLLHOOK_SECRET_SERVICENOW"},
	{Name: Jira, Kind: ITSM, Secret: "ENROLLHOOK_SECRET_JIRA"},
	{Name: Slack, Kind: Chat, Secret: "ENROLLHOOK_SECRET_SLACK", Async: true},
	{Name: Teams, Kind: Chat, Secret: "ENROLLHOOK_SECRET_TEAMS", Async: true},
}

// All returns every sender of the webhook, in route order: a copy, so no caller can change
// the registry.
func All() []Sender { return append([]Sender(nil), registry[:]...) }

// events lists the event senders: not routes of the webhook, so apart from
// the registry that All, Names and Lookup read.
var events = [...]Sender{
	{Name: EventBridge, Kind: Event},
}

// Events returns the event senders (Kind Event): a copy.
func Events() []Sender { return append([]Sender(nil), events[:]...) }

// IsEvent reports whether name is an event sender.
func IsEvent(name string) bool {
	for _, s := range events {
		if s.Name == name {
			return true
		}
	}
	return false
}

// Known reports whether name is any sender: a route of the webhook or an
// event sender. The policy file's rules may name either.
func Known(name string) bool {
	_, ok := Lookup(name)
	return ok || IsEvent(name)
}

// KnownNames returns every sender's name: the routes in route order, then
// the event senders.
func KnownNames() []string {
	out := Names()
	for _, s := range events {
		out = append(out, s.Name)
	}
	return out
}

// Lookup returns the webhook's sender called name (not an event sender).
func Lookup(name string) (Sender, bool) {
	for _, s := range registry {
		if s.Name == name {
			return s, true
		}
	}
	return Sender{}, false
}

// Names returns the name of every sender of the webhook, in route order.
func Names() []string { return names(func(Sender) bool { return true }) }

// ChatNames returns the names of the chat senders, in route order.
func ChatNames() []string { return names(func(s Sender) bool { return s.Kind == Chat }) }

// AsyncNames returns the names of the senders queued by default.
func AsyncNames() []string { return names(func(s Sender) bool { return s.Async }) }

// IsChat reports whether name is a chat sender.
func IsChat(name string) bool {
	s, ok := Lookup(name)
	return ok && s.Kind == Chat
}

func names(keep func(Sender) bool) []string {
	var out []string
	for _, s := range registry {
		if keep(s) {
			out = append(out, s.Name)
		}
	}
	return out
}
