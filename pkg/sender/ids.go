package sender

import (
	"regexp"
	"strings"
	"sync"
)

// The forms of the ids the senders use, in one place: the configuration and
// the policy check the chat senders' allow-lists with them, the ITSM
// adapters and the write-back check the ticket ids they build URLs from.
var (
	guidRE      = lazyRegexp(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	slackTeamRE = lazyRegexp(`^[TE][A-Z0-9]{2,20}$`)
	slackUserRE = lazyRegexp(`^[UW][A-Z0-9]{2,20}$`)
	teamsUserRE = lazyRegexp(`^29:[A-Za-z0-9_\-]{1,200}$`)
)

// IsGUID reports whether s is a GUID in its textual form, as Entra writes
// tenant, object, client and group ids (either letter case).
func IsGUID(s string) bool { return guidRE().MatchString(s) }

// IsSlackTeam reports whether s is a Slack team id: T…, or E… for an
// Enterprise Grid organisation.
func IsSlackTeam(s string) bool { return slackTeamRE().MatchString(s) }

// IsSlackUser reports whether s is a Slack member id (U… or W…).
func IsSlackUser(s string) bool { return slackUserRE().MatchString(s) }

// IsTeamsUser reports whether s names a Teams user: the Entra object id
// (from.aadObjectId, a GUID) or the Teams user id (29:…, from.id).
func IsTeamsUser(s string) bool { return IsGUID(s) || teamsUserRE().MatchString(s) }

var (
	snTableRE = lazyRegexp(`^[a-z][a-z0-9_]{0,79}$`)
	jiraKeyRE = lazyRegexp(`^[A-Z][A-Z0-9_]{0,49}-[1-9][0-9]{0,17}$`)
)

// IsServiceNowTable reports whether s is a ServiceNow table name
// (change_request, sc_req_item, ...): what a Table API path may name.
func IsServiceNowTable(s string) bool { return snTableRE().MatchString(s) }

// IsServiceNowSysID reports whether s is a ServiceNow sys_id: 32
// hexadecimal digits (either letter case; ServiceNow writes lower case).
func IsServiceNowSysID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// IsJiraIssueKey reports whether s is a Jira issue key: the project key
// (an upper-case letter, then upper-case letters, digits or '_', at most 50
// characters) and the issue's number (from 1), as ITSM-42.
func IsJiraIssueKey(s string) bool { return jiraKeyRE().MatchString(s) }

// lazyRegexp compiles expr on first use: a counted repetition ({1,200})
// compiles into that many copies of its class, and compiled at package
// initialisation the forms cost every cold start a few milliseconds, whether
// or not the deployment uses them.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

// IsJiraFieldID reports whether s is a Jira custom field id
// (customfield_10150): what a Jira mapping names to read a value from the
// issue, rather than fixing the value.
func IsJiraFieldID(s string) bool {
	n, ok := strings.CutPrefix(s, "customfield_")
	if !ok || n == "" || len(n) > 18 {
		return false
	}
	return strings.Trim(n, "0123456789") == ""
}

// jiraTargetTypes are the shorthand target types a Jira mapping can fill in:
// those that need no value beyond a group (collections and scope tag groups
// need values no field maps).
var jiraTargetTypes = [...]string{"group", "exclusion", "allUsers", "allLicensedUsers", "allDevices"}

// IsJiraTargetType reports whether t (any letter case) is a target type a
// Jira mapping may fix or read from a field.
func IsJiraTargetType(t string) bool {
	for _, k := range jiraTargetTypes {
		if strings.EqualFold(t, k) {
			return true
		}
	}
	return false
}
