package sender

// Names of the senders: the route segment (POST /hooks/{name}).
const (
	Generic    = "generic"
	ServiceNow = "servicenow"
	Jira       = "jira"
	Slack      = "slack"
	Teams      = "teams"
)

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

// All returns every sender, in route order: a copy, so no caller can change
// the registry.
func All() []Sender { return append([]Sender(nil), registry[:]...) }

// Lookup returns the sender called name.
func Lookup(name string) (Sender, bool) {
	for _, s := range registry {
		if s.Name == name {
			return s, true
		}
	}
	return Sender{}, false
}

// Names returns every sender's name, in route order.
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
