package config

import "strings"

// EventBridge Scheduler settings (pkg/scheduler): a change whose window
// opens more than 15 minutes ahead is held by a one-time schedule that
// sends it to the worker's queue when the window opens. All four, or none
// (such a change is then refused with outside-change-window). The webhook
// schedules only on its SQS async path; the worker uses them to cancel a
// schedule a newer change overtakes.
const (
	// EnvScheduleGroup is the stack's schedule group.
	EnvScheduleGroup = "ENROLLHOOK_SCHEDULE_GROUP"
	// EnvScheduleRoleARN is the role the schedules assume to send to the
	// queue.
	EnvScheduleRoleARN = "ENROLLHOOK_SCHEDULE_ROLE_ARN"
	// EnvScheduleDeadLetterARN is the queue a schedule that could not
	// deliver goes to.
	EnvScheduleDeadLetterARN = "ENROLLHOOK_SCHEDULE_DLQ_ARN"
	// EnvQueueARN is the worker's queue (ENROLLHOOK_QUEUE_URL) by ARN, the
	// schedules' target.
	EnvQueueARN = "ENROLLHOOK_QUEUE_ARN"
)

var scheduleKeys = []string{EnvScheduleGroup, EnvScheduleRoleARN, EnvScheduleDeadLetterARN, EnvQueueARN}

// Schedule holds the EventBridge Scheduler settings; the zero value means
// no scheduling.
type Schedule struct {
	Group, RoleARN, DeadLetterARN, QueueARN string
}

// Enabled reports whether changes are scheduled.
func (s Schedule) Enabled() bool { return s.Group != "" }

func loadSchedule(get func(string) string, c *Config, bad func(string, ...any)) {
	s := Schedule{Group: get(EnvScheduleGroup), RoleARN: get(EnvScheduleRoleARN), DeadLetterARN: get(EnvScheduleDeadLetterARN), QueueARN: get(EnvQueueARN)}
	set := 0
	for _, v := range []string{s.Group, s.RoleARN, s.DeadLetterARN, s.QueueARN} {
		if v != "" {
			set++
		}
	}
	switch {
	case set == 0:
		return
	case set < 4:
		bad("%s, %s, %s and %s go together (template.yaml sets all four); set all or none", EnvScheduleGroup, EnvScheduleRoleARN, EnvScheduleDeadLetterARN, EnvQueueARN)
		return
	}
	for _, f := range []struct{ key, v, service string }{
		{EnvScheduleRoleARN, s.RoleARN, ":iam::"}, {EnvScheduleDeadLetterARN, s.DeadLetterARN, ":sqs:"}, {EnvQueueARN, s.QueueARN, ":sqs:"},
	} {
		if !strings.HasPrefix(f.v, "arn:") || !strings.Contains(f.v, f.service) {
			bad("%s must be an ARN (arn:aws%s...)", f.key, f.service)
		}
	}
	if !validScheduleGroup(s.Group) {
		bad("%s must be a schedule group name (1 to 64 letters, digits, '-', '_', '.')", EnvScheduleGroup)
	}
	c.Schedule = s
}

func validScheduleGroup(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !('a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || ch == '-' || ch == '_' || ch == '.') {
			return false
		}
	}
	return true
}
