package policy

import (
	"bytes"
	"encoding/json"
	"slices"
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
	secondPerson map[string]bool     // by changing command: assign, revert
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
	// Two people once the policy names approvers, unless it says self: for
	// every changing command (a string), or per command (an object).
	out.secondPerson = map[string]bool{}
	for _, cmd := range changingCommands {
		out.secondPerson[cmd] = named
	}
	set := func(where, v string, cmds ...string) {
		switch v {
		case ApprovalSelf, ApprovalSecondPerson:
			for _, cmd := range cmds {
				out.secondPerson[cmd] = v == ApprovalSecondPerson
			}
			if v == ApprovalSecondPerson && !named {
				bad("%s: second-person needs approvers (or configurationApprovers): nobody could approve", where)
			}
		default:
			bad("%s: must be self or second-person", where)
		}
	}
	if raw := bytes.TrimSpace(c.Approval); len(raw) > 0 && string(raw) != "null" {
		var all string
		var per map[string]string
		switch {
		case json.Unmarshal(raw, &all) == nil:
			set(at+"/approval", all, changingCommands...)
		case json.Unmarshal(raw, &per) == nil:
			for _, cmd := range sortedKeys(per) {
				if !slices.Contains(changingCommands, cmd) {
					bad("%s/approval/%s: a command that changes Intune: assign or revert", at, safeKey(cmd))
					continue
				}
				set(at+"/approval/"+cmd, per[cmd], cmd)
			}
		default:
			bad("%s/approval: must be self or second-person, or an object of assign and revert to either", at)
		}
	}
	return out
}

// changingCommands are the chat commands that change Intune, which the
// approval setting governs.
var changingCommands = []string{"assign", "revert"}

// SecondPerson reports whether a chat sender's command (assign, revert)
// is a request that another user approves (chat.approval; default
// second-person once the policy names approvers).
func (p *Policy) SecondPerson(from, command string) bool {
	if p == nil {
		return false
	}
	return p.chat[from].approval.secondPerson[command]
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
