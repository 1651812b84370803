package config

import (
	"slices"
	"strings"

	"github.com/enrollhook/enrollhook/pkg/sender"
)

// senderKeys are the variables loadSenders reads, beyond the secrets.
var senderKeys = []string{
	EnvServiceNowRevertState,
	EnvJiraApprovedStatus, EnvJiraRevertStatus, EnvJiraFieldWindowStart, EnvJiraFieldWindowEnd, EnvJiraFieldApproval, EnvJiraFieldConfiguration, EnvJiraFieldAssignment,
	EnvJiraFieldGroup, EnvJiraFieldFilter, EnvJiraFieldFilterType, EnvJiraFieldTargetType,
	EnvSlackTeamID, EnvSlackAllowedUsers, EnvSlackResponseType, EnvTeamsTenantID, EnvTeamsAllowedUsers, // chat.go
}

// Senders holds per-sender settings beyond the secrets.
type Senders struct {
	// ServiceNow says which record state is a back-out (loadServiceNow).
	ServiceNow ServiceNow
	// Jira maps Jira's own webhook onto a change (loadJira, below).
	Jira Jira
	// Slack and Teams say who may run chat commands (chat.go: loadChat).
	Slack Slack
	Teams Teams
}

// loadSenders reads the sender settings into c, reporting each problem
// through bad.
func loadSenders(get func(string) string, c *Config, bad func(string, ...any)) {
	c.Senders.ServiceNow = loadServiceNow(get, bad)
	c.Senders.Jira = loadJira(get, bad)
	loadChat(get, c, bad)
}

// EnvServiceNowRevertState is the value of data.record.state (a change
// request's state, as getValue returns it) that makes an approved
// ServiceNow delivery a revert of its ticket.
const EnvServiceNowRevertState = "ENROLLHOOK_SERVICENOW_REVERT_STATE"

// ServiceNow is the ServiceNow sender's settings beyond the secret.
type ServiceNow struct {
	// RevertState: a record in this state (any letter case) asks for a
	// revert; empty means only data.intune.action "revert" does.
	RevertState string
}

func loadServiceNow(get func(string) string, bad func(string, ...any)) ServiceNow {
	v := strings.TrimSpace(get(EnvServiceNowRevertState))
	if len(v) > 64 || strings.ContainsFunc(v, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		bad("%s must be a ServiceNow state value such as -1 or back_out (1 to 64 characters)", EnvServiceNowRevertState)
		return ServiceNow{}
	}
	return ServiceNow{RevertState: v}
}

// Jira settings: how a Jira webhook (webhookEvent, issue.fields, changelog)
// becomes a change. Each FIELD names a custom field id (customfield_10150);
// FILTER_TYPE and TARGET_TYPE may instead hold a fixed value.
const (
	EnvJiraApprovedStatus     = "ENROLLHOOK_JIRA_APPROVED_STATUS"
	EnvJiraRevertStatus       = "ENROLLHOOK_JIRA_REVERT_STATUS"
	EnvJiraFieldWindowStart   = "ENROLLHOOK_JIRA_FIELD_WINDOW_START"
	EnvJiraFieldWindowEnd     = "ENROLLHOOK_JIRA_FIELD_WINDOW_END"
	EnvJiraFieldApproval      = "ENROLLHOOK_JIRA_FIELD_APPROVAL"
	EnvJiraFieldConfiguration = "ENROLLHOOK_JIRA_FIELD_CONFIGURATION"
	EnvJiraFieldAssignment    = "ENROLLHOOK_JIRA_FIELD_ASSIGNMENT"
	EnvJiraFieldGroup         = "ENROLLHOOK_JIRA_FIELD_GROUP"
	EnvJiraFieldFilter        = "ENROLLHOOK_JIRA_FIELD_FILTER"
	EnvJiraFieldFilterType    = "ENROLLHOOK_JIRA_FIELD_FILTER_TYPE"
	EnvJiraFieldTargetType    = "ENROLLHOOK_JIRA_FIELD_TARGET_TYPE"
)

// Jira is the field mapping of the jira sender. All empty means Jira's own
// webhook is not mapped and the route takes only the generic envelope
// (Jira Automation "Send web request").
type Jira struct {
	// ApprovedStatuses: an issue moving into one of these statuses (by
	// name, any letter case) is approved.
	ApprovedStatuses []string
	// RevertStatuses: an issue moving into one of these statuses (by name,
	// any letter case) is an approved revert of its changes.
	RevertStatuses []string
	// WindowStartField, WindowEndField: date-time fields holding the
	// change window (Jira Service Management's planned start and end).
	WindowStartField, WindowEndField string
	// ApprovalField: a field whose value reading "approved" approves.
	ApprovalField string
	// ConfigurationField, AssignmentField: the Graph keys.
	ConfigurationField, AssignmentField string
	// GroupField, FilterField: the target's group and assignment filter.
	GroupField, FilterField string
	// FilterType and TargetType are a field id or a fixed value
	// (include|exclude; group|exclusion|allUsers|allDevices). TargetType
	// defaults to group.
	FilterType, TargetType string
}

// Mapped reports whether Jira's own webhook is mapped.
func (j Jira) Mapped() bool {
	return len(j.ApprovedStatuses) > 0 || len(j.RevertStatuses) > 0 || j.WindowStartField != "" || j.WindowEndField != "" ||
		j.ApprovalField != "" || j.ConfigurationField != "" || j.AssignmentField != "" ||
		j.GroupField != "" || j.FilterField != "" || j.FilterType != "" || j.TargetType != ""
}

func loadJira(get func(string) string, bad func(string, ...any)) Jira {
	j := Jira{
		ApprovalField:      get(EnvJiraFieldApproval),
		ConfigurationField: get(EnvJiraFieldConfiguration),
		AssignmentField:    get(EnvJiraFieldAssignment),
		GroupField:         get(EnvJiraFieldGroup),
		FilterField:        get(EnvJiraFieldFilter),
		FilterType:         get(EnvJiraFieldFilterType),
		TargetType:         get(EnvJiraFieldTargetType),
		WindowStartField:   get(EnvJiraFieldWindowStart),
		WindowEndField:     get(EnvJiraFieldWindowEnd),
	}
	j.ApprovedStatuses = statuses(get, EnvJiraApprovedStatus, bad)
	j.RevertStatuses = statuses(get, EnvJiraRevertStatus, bad)
	for _, st := range j.RevertStatuses {
		if slices.ContainsFunc(j.ApprovedStatuses, func(ap string) bool { return strings.EqualFold(ap, st) }) {
			bad("%s and %s name the same status %q: an issue moving into it would be both applied and reverted", EnvJiraApprovedStatus, EnvJiraRevertStatus, st)
		}
	}
	seen := map[string]string{}
	for _, f := range []struct{ key, value string }{
		{EnvJiraFieldWindowStart, j.WindowStartField}, {EnvJiraFieldWindowEnd, j.WindowEndField},
		{EnvJiraFieldApproval, j.ApprovalField}, {EnvJiraFieldConfiguration, j.ConfigurationField},
		{EnvJiraFieldAssignment, j.AssignmentField}, {EnvJiraFieldGroup, j.GroupField}, {EnvJiraFieldFilter, j.FilterField},
		{EnvJiraFieldFilterType, j.FilterType}, {EnvJiraFieldTargetType, j.TargetType},
	} {
		if f.value == "" {
			continue
		}
		literal := (f.key == EnvJiraFieldFilterType && (f.value == "include" || f.value == "exclude")) ||
			(f.key == EnvJiraFieldTargetType && sender.IsJiraTargetType(f.value))
		switch {
		case literal:
		case !sender.IsJiraFieldID(f.value):
			switch f.key {
			case EnvJiraFieldFilterType:
				bad("%s must be a custom field id such as customfield_10153, or include or exclude", f.key)
			case EnvJiraFieldTargetType:
				bad("%s must be a custom field id such as customfield_10154, or group, exclusion, allUsers or allDevices", f.key)
			default:
				bad("%s must be a custom field id such as customfield_10150", f.key)
			}
		case seen[f.value] != "":
			bad("%s names the same field as %s", f.key, seen[f.value])
		default:
			seen[f.value] = f.key
		}
	}
	if !j.Mapped() {
		return j
	}
	// A partial mapping would refuse every delivery at run time; say so now.
	if j.ConfigurationField == "" {
		bad("%s is required when Jira's webhook is mapped (any %s* or %s is set)", EnvJiraFieldConfiguration, "ENROLLHOOK_JIRA_FIELD_", EnvJiraApprovedStatus)
	}
	if j.AssignmentField == "" {
		bad("%s is required when Jira's webhook is mapped", EnvJiraFieldAssignment)
	}
	if len(j.ApprovedStatuses) == 0 && j.ApprovalField == "" {
		bad("%s or %s is required when Jira's webhook is mapped: without either no issue is ever approved", EnvJiraApprovedStatus, EnvJiraFieldApproval)
	}
	if j.GroupField == "" && (j.TargetType == "" || j.TargetType == "group" || j.TargetType == "exclusion") {
		bad("%s is required for group targets (set %s to allUsers or allDevices for targets without a group)", EnvJiraFieldGroup, EnvJiraFieldTargetType)
	}
	if (j.FilterField == "") != (j.FilterType == "") {
		bad("%s and %s go together: an assignment filter needs its mode (include or exclude)", EnvJiraFieldFilter, EnvJiraFieldFilterType)
	}
	if (j.WindowStartField == "") != (j.WindowEndField == "") {
		bad("%s and %s go together: a change window has a start and an end", EnvJiraFieldWindowStart, EnvJiraFieldWindowEnd)
	}
	return j
}

// statuses reads a comma-separated list of Jira status names.
func statuses(get func(string) string, key string, bad func(string, ...any)) []string {
	v := get(key)
	if v == "" {
		return nil
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" || len(s) > 255 || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			bad("%s must be a comma-separated list of Jira status names (1 to 255 characters each)", key)
			return out
		}
		out = append(out, s)
	}
	return out
}
