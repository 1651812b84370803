package config

import (
	"strings"
	"testing"
)

func TestScheduleSettings(t *testing.T) {
	all := map[string]string{
		EnvQueueURL: "https://sqs.eu-west-1.amazonaws.com/123456789012/changes", EnvScheduleGroup: "enrollhook-windows",
		EnvScheduleRoleARN: "arn:aws:iam::123456789012:role/schedule", EnvScheduleDeadLetterARN: "arn:aws:sqs:eu-west-1:123456789012:schedule-dlq",
		EnvQueueARN: "arn:aws:sqs:eu-west-1:123456789012:changes",
	}
	c, err := Load(env(all))
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Schedule; !s.Enabled() || s.Group != "enrollhook-windows" || !strings.HasSuffix(s.QueueARN, ":changes") {
		t.Errorf("settings = %+v", s)
	}
	if c, err := Load(env(nil)); err != nil || c.Schedule.Enabled() {
		t.Errorf("without settings: %+v, %v; want no scheduling", c.Schedule, err)
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range all {
			m[a] = b
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		env  map[string]string
		name string
	}{
		{with(EnvScheduleRoleARN, ""), EnvScheduleRoleARN},
		{with(EnvScheduleRoleARN, "schedule-role"), EnvScheduleRoleARN},
		{with(EnvQueueARN, "arn:aws:sns:eu-west-1:123456789012:x"), EnvQueueARN},
		{with(EnvScheduleGroup, "bad group!"), EnvScheduleGroup},
	} {
		if _, err := Load(env(tc.env)); err == nil || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("Load without or with a bad %s = %v, want an error naming it", tc.name, err)
		}
	}
}

func TestChatRequestTTL(t *testing.T) {
	if c, err := Load(env(nil)); err != nil || c.ChatRequestTTL.String() != "1h0m0s" {
		t.Errorf("default = %v, %v; want 1h", c.ChatRequestTTL, err)
	}
	if c, err := Load(env(map[string]string{EnvChatRequestTTL: "30m"})); err != nil || c.ChatRequestTTL.String() != "30m0s" {
		t.Errorf("30m = %v, %v", c.ChatRequestTTL, err)
	}
	for _, v := range []string{"10s", "200h", "soon"} {
		if _, err := Load(env(map[string]string{EnvChatRequestTTL: v})); err == nil || !strings.Contains(err.Error(), EnvChatRequestTTL) {
			t.Errorf("%s = %v, want an error naming %s", v, err, EnvChatRequestTTL)
		}
	}
}
