package policy

import (
	"strings"

	"github.com/enrollhook/enrollhook/pkg/change"
)

// eventRule is the allow-list of EventBridge events (the document's
// eventbridge section): an event is let through only when its source, its
// account and its detail-type are each listed. The bus an event crossed is
// not in the event Lambda receives, so it cannot be listed here: the rule
// that targets the function, and the function's resource policy limited to
// that rule, hold it.
type eventRule struct {
	sources, accounts, detailTypes *eventMatcher
}

// eventMatcher matches exact values and prefixes (an entry ending in '*'),
// case-sensitively, as EventBridge's own patterns do; "*" alone is any.
type eventMatcher struct {
	exact    map[string]bool
	prefixes []string
	any      bool
}

func (m *eventMatcher) match(v string) bool {
	if m.any || m.exact[v] {
		return true
	}
	for _, p := range m.prefixes {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	return false
}

type fileEventBridge struct {
	Sources     *[]string `json:"sources"`
	Accounts    *[]string `json:"accounts"`
	DetailTypes *[]string `json:"detailTypes"`
}

// The lengths EventBridge allows an event's source and detail-type.
const (
	maxEventSource     = 256
	maxEventDetailType = 128
)

// buildEvents reads the eventbridge section. Each list is required and not
// empty: a section that forgets one must not let every value through.
func buildEvents(f *fileEventBridge, at string, bad func(string, ...any)) *eventRule {
	return &eventRule{
		sources: buildEventMatcher(f.Sources, at+"/sources", true,
			func(v string) bool { return eventText(v, maxEventSource) },
			"an event source (1 to 256 characters, no control characters), optionally ending in '*' for a prefix", bad),
		accounts: buildEventMatcher(f.Accounts, at+"/accounts", false, isAccountID,
			"an AWS account id (12 digits)", bad),
		detailTypes: buildEventMatcher(f.DetailTypes, at+"/detailTypes", true,
			func(v string) bool { return eventText(v, maxEventDetailType) },
			"a detail-type (1 to 128 characters, no control characters), optionally ending in '*' for a prefix", bad),
	}
}

func buildEventMatcher(list *[]string, at string, prefixes bool, valid func(string) bool, what string, bad func(string, ...any)) *eventMatcher {
	m := &eventMatcher{exact: map[string]bool{}}
	if list == nil || len(*list) == 0 {
		bad("%s: required, and not empty: the values an event may have (\"*\" for any); without them every event is refused", at)
		return m
	}
	for i, v := range *list {
		body, prefix := strings.CutSuffix(v, "*")
		switch {
		case v == "*":
			m.any = true
		case prefix && prefixes && body != "" && valid(body):
			m.prefixes = append(m.prefixes, body)
		case !prefix && valid(v):
			m.exact[v] = true
		default:
			bad("%s/%d: must be %s, or \"*\" for any", at, i, what)
		}
	}
	return m
}

// eventText reports whether s is 1 to limit bytes without control
// characters.
func eventText(s string, limit int) bool {
	if s == "" || len(s) > limit {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	return strings.Trim(s, "0123456789") == ""
}

// AllowsEvents reports whether the policy has an allow-list of EventBridge
// events; without one CheckEvent refuses every event.
func (p *Policy) AllowsEvents() bool { return p != nil && p.events != nil }

// CheckEvent returns nil when the policy's eventbridge allow-list names the
// event's source, account and detail-type, each of them. Without an
// allow-list every event is refused (fail closed). Errors are
// *change.Error with CodeForbidden and change.KindPolicyEvent; the message
// names the value that is not listed, when it is safe to show.
func (p *Policy) CheckEvent(source, account, detailType string) error {
	if !p.AllowsEvents() {
		return change.Refuse(change.KindPolicyEvent, "the policy has no eventbridge allow-list, so every event is refused; nothing was changed")
	}
	e := p.events
	switch {
	case !e.sources.match(source):
		return change.Refuse(change.KindPolicyEvent, "the policy does not allow events from source "+quote(source)+"; nothing was changed")
	case !e.accounts.match(account):
		return change.Refuse(change.KindPolicyEvent, "the policy does not allow events from account "+quote(account)+"; nothing was changed")
	case !e.detailTypes.match(detailType):
		return change.Refuse(change.KindPolicyEvent, "the policy does not allow events of detail-type "+quote(detailType)+"; nothing was changed")
	}
	return nil
}
