package config_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7/intrinsics"
)

// rawTemplate is the template's conditions and outputs as YAML wrote them
// (goformation resolves conditions and encodes intrinsics in outputs).
func rawTemplate(t *testing.T) (doc struct{ Conditions, Outputs map[string]any }) {
	t.Helper()
	data, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	b, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestTemplateEvents: the EventBridge sender's resources. The rule, its
// dead-letter queue policy and the function's resource policy exist only
// when the bus, the sources and the detail-types are set; the resource
// policy lets only that rule, of this account, invoke the function; the
// rule's target retries and dead-letters, and so does the asynchronous
// invocation; the dead-letter queue has an alarm to the optional topic.
func TestTemplateEvents(t *testing.T) {
	tmpl := loadTemplate(t)
	js := func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	}
	props := func(name string) map[string]any {
		p, _ := rawResource(t, name)["Properties"].(map[string]any)
		return p
	}
	for _, name := range []string{"EventsRule", "EventsInvokePermission", "EventsDeadLetterQueuePolicy"} {
		if c := rawResource(t, name)["Condition"]; c != "HasEventsRule" {
			t.Errorf("%s: Condition = %v, want HasEventsRule", name, c)
		}
	}
	raw := rawTemplate(t)
	cond := js(raw.Conditions["HasEventsRule"])
	for _, p := range []string{"EventsBusName", "EventsSources", "EventsDetailTypes"} {
		if !strings.Contains(cond, `"Ref":"`+p+`"`) {
			t.Errorf("HasEventsRule = %s, does not depend on %s", cond, p)
		}
		if tmpl.Parameters[p].Default != "" {
			t.Errorf("parameter %s has a default: the rule must be optional", p)
		}
	}

	rule := props("EventsRule")
	if got := js(rule["EventBusName"]); got != `{"Ref":"EventsBusName"}` {
		t.Errorf("EventsRule.EventBusName = %s", got)
	}
	if got := js(rule["EventPattern"]); got != `{"detail-type":{"Ref":"EventsDetailTypes"},"source":{"Ref":"EventsSources"}}` {
		t.Errorf("EventsRule.EventPattern = %s", got)
	}
	targets, _ := rule["Targets"].([]any)
	if len(targets) != 1 {
		t.Fatalf("EventsRule.Targets = %s, want one", js(targets))
	}
	target, _ := targets[0].(map[string]any)
	if got := js(target["Arn"]); !strings.Contains(got, "EventsFunction") {
		t.Errorf("the rule targets %s, want EventsFunction", got)
	}
	retry, _ := target["RetryPolicy"].(map[string]any)
	if age, _ := retry["MaximumEventAgeInSeconds"].(float64); age < 60 || age > 86400 {
		t.Errorf("RetryPolicy.MaximumEventAgeInSeconds = %v", retry["MaximumEventAgeInSeconds"])
	}
	if n, ok := retry["MaximumRetryAttempts"].(float64); !ok || n < 1 || n > 185 {
		t.Errorf("RetryPolicy.MaximumRetryAttempts = %v", retry["MaximumRetryAttempts"])
	}
	if got := js(target["DeadLetterConfig"]); !strings.Contains(got, "EventsDeadLetterQueue") {
		t.Errorf("the target's DeadLetterConfig = %s, want EventsDeadLetterQueue", got)
	}
	// The function gets the whole event, whose top level EventBridge
	// writes: a sender's fields are under detail. An input path or
	// transformer could lift them to the top, where the function would read
	// a sender's enrollhookCheck as the operator's preflight.
	for _, k := range []string{"Input", "InputPath", "InputTransformer"} {
		if v, ok := target[k]; ok {
			t.Errorf("the rule's target has %s %s: the events function must get the event as EventBridge builds it", k, js(v))
		}
	}

	perm := props("EventsInvokePermission")
	if perm["Action"] != "lambda:InvokeFunction" || perm["Principal"] != "events.amazonaws.com" ||
		!strings.Contains(js(perm["FunctionName"]), "EventsFunction") ||
		!strings.Contains(js(perm["SourceArn"]), "EventsRule") || js(perm["SourceAccount"]) != `{"Ref":"AWS::AccountId"}` {
		t.Errorf("EventsInvokePermission = %s, want events.amazonaws.com invoking EventsFunction from EventsRule of this account", js(perm))
	}

	qp := js(props("EventsDeadLetterQueuePolicy"))
	if !strings.Contains(qp, `"Service":"events.amazonaws.com"`) || !strings.Contains(qp, `"aws:SourceArn"`) || !strings.Contains(qp, "EventsRule") || strings.Contains(qp, `"sqs:*"`) {
		t.Errorf("EventsDeadLetterQueuePolicy = %s, want sqs:SendMessage for EventsRule only", qp)
	}

	fn := props("EventsFunction")
	inv := js(fn["EventInvokeConfig"])
	for _, want := range []string{`"MaximumRetryAttempts":2`, `"MaximumEventAgeInSeconds":3600`, `"Type":"SQS"`, "EventsDeadLetterQueue"} {
		if !strings.Contains(inv, want) {
			t.Errorf("EventsFunction.EventInvokeConfig = %s, lacks %s", inv, want)
		}
	}
	if got := js(fn["Role"]); !strings.Contains(got, "EventsFunctionRole") {
		t.Errorf("EventsFunction.Role = %s, want its own role", got)
	}
	// Reserved like the worker's: a burst of events would otherwise outpace
	// Intune's write limit.
	checkWorkerConcurrency(t, tmpl, "EventsFunction")
	if _, ok := fn["Events"]; ok {
		t.Error("EventsFunction declares SAM events: the rule and its permission are conditional resources of their own")
	}

	alarm := props("EventsDeadLetterAlarm")
	if got := js(alarm["Dimensions"]); !strings.Contains(got, "EventsDeadLetterQueue") || alarm["MetricName"] != "ApproximateNumberOfMessagesVisible" {
		t.Errorf("EventsDeadLetterAlarm = %s, want the visible messages of EventsDeadLetterQueue", js(alarm))
	}
	if got := js(raw.Outputs["EventsFunctionRoleArn"]); !strings.Contains(got, "EventsFunctionRole") {
		t.Errorf("no EventsFunctionRoleArn output (the Entra app's federated credential needs it): %s", got)
	}
}
