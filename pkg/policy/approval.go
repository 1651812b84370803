package policy

import (
	"sort"
	"strings"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/sender"
)

// Approval settings of a chat sender.
const (
	// ApprovalSelf: the command is its own approval (the user who types
	// assign requests and approves it).
	ApprovalSelf = "self"
	// ApprovalSecondPerson: assign becomes a request that another user,
	// one the policy names, approves (/intune approve <id>).
	ApprovalSecondPerson = "second-person"
)

// approval is a chat sender's rule for who approves its changes.
type approval struct {
	secondPerson bool
	approvers    *matcher            // nil: nobody
	byConfig     map[string]*matcher // configuration id or prefix* -> approvers
	prefixes     []string            // byConfig's prefixes, longest first
}

func buildApproval(c *fileChat, at, name string, bad func(string, ...any)) approval {
	var out approval
	validUser, fold := sender.IsSlackUser, false
	if name == sender.Teams {
		validUser, fold = sender.IsTeamsUser, true
	}
	users := func(list []string, where string) *matcher {
		m := &matcher{exact: map[string]bool{}, fold: fold}
		for i, u := range list {
			if !validUser(u) {
				bad("%s/%d: must be %s", where, i, map[bool]string{true: "a Slack member id (U… or W…)", false: "an Entra object id (GUID) or a Teams user id (29:…)"}[name == sender.Slack])
				continue
			}
			if fold {
				u = strings.ToLower(u)
			}
			m.exact[u] = true
		}
		return m
	}
	named := len(c.Approvers) > 0 || len(c.ConfigurationApprovers) > 0
	if c.Approvers != nil {
		out.approvers = users(c.Approvers, at+"/approvers")
	}
	for _, k := range sortedKeys(c.ConfigurationApprovers) {
		body := strings.TrimSuffix(k, "*")
		if body == "" || !change.ValidKey(body) {
			bad("%s/configurationApprovers/%s: must be a configuration id, optionally ending in '*' for a prefix", at, safeKey(k))
			continue
		}
		if out.byConfig == nil {
			out.byConfig = map[string]*matcher{}
		}
		// Compared without regard to case: an id typed in other letters
		// must not escape its configuration's approvers.
		lk := strings.ToLower(k)
		out.byConfig[lk] = users(c.ConfigurationApprovers[k], at+"/configurationApprovers/"+safeKey(k))
		if strings.HasSuffix(lk, "*") {
			out.prefixes = append(out.prefixes, lk)
		}
	}
	sort.Slice(out.prefixes, func(i, j int) bool { return len(out.prefixes[i]) > len(out.prefixes[j]) })
	// Two people once the policy names approvers, unless it says self.
	out.secondPerson = named
	if c.Approval != nil {
		switch *c.Approval {
		case ApprovalSelf:
			out.secondPerson = false
		case ApprovalSecondPerson:
			out.secondPerson = true
			if !named {
				bad("%s/approval: second-person needs approvers (or configurationApprovers): nobody could approve", at)
			}
		default:
			bad("%s/approval: must be self or second-person", at)
		}
	}
	return out
}

// SecondPerson reports whether a chat sender's assign is a request that
// another user approves (chat.approval; default second-person once the
// policy names approvers).
func (p *Policy) SecondPerson(from string) bool {
	if p == nil {
		return false
	}
	return p.chat[from].approval.secondPerson
}

// MayApprove reports whether user may approve a chat request of
// configurationID from sender from: the configuration's approvers when
// the policy names some for it (an exact id, else the longest prefix),
// else the sender's approvers. The requester is never one: the caller
// compares stable ids before.
func (p *Policy) MayApprove(from, user, configurationID string) bool {
	if p == nil {
		return false
	}
	a := p.chat[from].approval
	configurationID = strings.ToLower(configurationID)
	if m, ok := a.byConfig[configurationID]; ok {
		return m.match(user)
	}
	for _, k := range a.prefixes {
		if strings.HasPrefix(configurationID, strings.TrimSuffix(k, "*")) {
			return a.byConfig[k].match(user)
		}
	}
	return a.approvers != nil && !a.approvers.any && a.approvers.match(user)
}
