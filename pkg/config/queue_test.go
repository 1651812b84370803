package config

import (
	"slices"
	"strings"
	"testing"
)

func TestQueueSettings(t *testing.T) {
	const sqs = "https://sqs.eu-west-1.amazonaws.com/123456789012/enrollhook-changes"
	tests := []struct {
		name   string
		env    map[string]string
		url    string
		local  bool
		async  []string
		errSub string
	}{
		{"no queue", nil, "", false, nil, ""},
		{"SQS, default async senders", map[string]string{EnvQueueURL: sqs}, sqs, false, []string{"slack", "teams"}, ""},
		{"in-process", map[string]string{EnvQueueURL: "local"}, "", true, []string{"slack", "teams"}, ""},
		{"every sender", map[string]string{EnvQueueURL: sqs, EnvAsyncSources: "generic, ServiceNow,jira,slack,teams,slack"}, sqs, false, []string{"generic", "servicenow", "jira", "slack", "teams"}, ""},
		{"none", map[string]string{EnvQueueURL: sqs, EnvAsyncSources: "none"}, sqs, false, nil, ""},
		{"China", map[string]string{EnvQueueURL: "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q.fifo"}, "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q.fifo", false, []string{"slack", "teams"}, ""},
		{"loopback for tests", map[string]string{EnvQueueURL: "http://127.0.0.1:9324/123456789012/q"}, "http://127.0.0.1:9324/123456789012/q", false, []string{"slack", "teams"}, ""},
		{"not SQS", map[string]string{EnvQueueURL: "https://evil.example/123456789012/q"}, "", false, nil, EnvQueueURL},
		{"plain http elsewhere", map[string]string{EnvQueueURL: "http://sqs.eu-west-1.amazonaws.com/123456789012/q"}, "", false, nil, EnvQueueURL},
		{"queue name only", map[string]string{EnvQueueURL: "enrollhook-changes"}, "", false, nil, EnvQueueURL},
		{"async without a queue", map[string]string{EnvAsyncSources: "slack"}, "", false, nil, EnvAsyncSources},
		{"unknown sender", map[string]string{EnvQueueURL: sqs, EnvAsyncSources: "slack,pagerduty"}, sqs, false, []string{"slack"}, "pagerduty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(env(tt.env))
			if tt.errSub != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errSub) {
					t.Fatalf("Load = %v, want a problem naming %s", err, tt.errSub)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Queue.URL != tt.url || c.Queue.Local != tt.local || !slices.Equal(c.Queue.Async, tt.async) {
				t.Errorf("Queue = %+v, want url %q local %v async %v", c.Queue, tt.url, tt.local, tt.async)
			}
			if c.Queue.Enabled() != (len(tt.async) > 0) {
				t.Errorf("Enabled = %v", c.Queue.Enabled())
			}
		})
	}
	if !slices.Contains(Keys(), EnvQueueURL) || !slices.Contains(Keys(), EnvAsyncSources) || !slices.Contains(Keys(), EnvDeadLetterURL) {
		t.Errorf("Keys() lacks the queue settings")
	}
}

func TestDeadLetterSettings(t *testing.T) {
	const (
		sqs = "https://sqs.eu-west-1.amazonaws.com/123456789012/enrollhook-changes"
		dlq = "https://sqs.eu-west-1.amazonaws.com/123456789012/enrollhook-dead-letters"
	)
	tests := []struct {
		name   string
		env    map[string]string
		url    string
		local  bool
		errSub string
	}{
		{"none", nil, "", false, ""},
		{"the worker: a dead-letter queue without a queue to send to", map[string]string{EnvDeadLetterURL: dlq}, dlq, false, ""},
		{"with the SQS queue", map[string]string{EnvQueueURL: sqs, EnvDeadLetterURL: dlq}, dlq, false, ""},
		{"in-process by default with the in-process queue", map[string]string{EnvQueueURL: "local"}, "", true, ""},
		{"in-process, said so", map[string]string{EnvQueueURL: "local", EnvDeadLetterURL: "local"}, "", true, ""},
		{"in-process queue, SQS dead letters", map[string]string{EnvQueueURL: "local", EnvDeadLetterURL: dlq}, dlq, false, ""},
		{"loopback for tests", map[string]string{EnvDeadLetterURL: "http://127.0.0.1:9324/123456789012/dlq"}, "http://127.0.0.1:9324/123456789012/dlq", false, ""},
		{"in-process list without the in-process queue", map[string]string{EnvQueueURL: sqs, EnvDeadLetterURL: "local"}, "", false, EnvDeadLetterURL},
		{"not SQS", map[string]string{EnvDeadLetterURL: "https://evil.example/123456789012/q"}, "", false, EnvDeadLetterURL},
		{"the queue itself", map[string]string{EnvQueueURL: sqs, EnvDeadLetterURL: sqs}, "", false, "straight back"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(env(tt.env))
			if tt.errSub != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errSub) {
					t.Fatalf("Load = %v, want a problem naming %s", err, tt.errSub)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Queue.DeadLetterURL != tt.url || c.Queue.DeadLetterLocal != tt.local {
				t.Errorf("Queue = %+v, want dead letters at %q local %v", c.Queue, tt.url, tt.local)
			}
		})
	}
}
