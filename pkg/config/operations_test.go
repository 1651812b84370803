package config_test

// The template operates itself: both functions trace with X-Ray, alarms
// watch the dead-letter queue and both functions and notify the optional
// AlarmTopicArn, and one dashboard shows every alarm (metrics_test.go
// holds the metrics they name to the code's).

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestTemplateAlarms: every alarm notifies AlarmTopicArn when it is set,
// going into alarm and back; the topic is optional; the alarms cover the
// dead-letter queue and both functions' errors; and the dashboard shows
// every alarm.
func TestTemplateAlarms(t *testing.T) {
	tmpl := loadTemplate(t)
	p, ok := tmpl.Parameters["AlarmTopicArn"]
	if !ok || p.Default != "" || p.Type != "String" {
		t.Fatalf("AlarmTopicArn = %+v, want an optional String parameter (default empty)", p)
	}
	alarms := tmpl.GetAllCloudWatchAlarmResources()
	if len(alarms) == 0 {
		t.Fatal("the template has no alarm")
	}
	want := `{"Fn::If":["HasAlarmTopic",[{"Ref":"AlarmTopicArn"}],{"Ref":"AWS::NoValue"}]}`
	for name := range alarms {
		props, _ := rawResource(t, name)["Properties"].(map[string]any)
		for _, key := range []string{"AlarmActions", "OKActions"} {
			if got, _ := json.Marshal(props[key]); string(got) != want {
				t.Errorf("%s.%s = %s, want %s", name, key, got, want)
			}
		}
	}
	dims := func(a string) map[string]any {
		props, _ := rawResource(t, a)["Properties"].(map[string]any)
		out := map[string]any{}
		for _, d := range props["Dimensions"].([]any) {
			m, _ := d.(map[string]any)
			out[fmt.Sprint(m["Name"])] = m["Value"]
		}
		return out
	}
	var covered []string
	for name, a := range alarms {
		switch deref(a.MetricName) {
		case "ApproximateNumberOfMessagesVisible":
			for _, q := range []string{"ChangeDeadLetterQueue", "ScheduleDeadLetterQueue", "EventsDeadLetterQueue"} {
				if v, _ := json.Marshal(dims(name)["QueueName"]); (string(v) == `{"Fn::GetAtt":"`+q+`.QueueName"}` || string(v) == `{"Fn::GetAtt":["`+q+`","QueueName"]}`) && deref(a.Threshold) == 0 && a.ComparisonOperator == "GreaterThanThreshold" {
					covered = append(covered, "dead letters in "+q)
				}
			}
		case "Errors":
			if v, _ := json.Marshal(dims(name)["FunctionName"]); deref(a.Namespace) == "AWS/Lambda" {
				covered = append(covered, "errors of "+string(v))
			}
		}
	}
	sort.Strings(covered)
	// The events function has no errors alarm: it returns an error to
	// have Lambda retry a transient failure; what fails for good lands
	// in its dead-letter queue, whose alarm covers it.
	if wantCovered := []string{`dead letters in ChangeDeadLetterQueue`, `dead letters in EventsDeadLetterQueue`, `dead letters in ScheduleDeadLetterQueue`,
		`errors of {"Ref":"WebhookFunction"}`, `errors of {"Ref":"WorkerFunction"}`}; !slices.Equal(covered, wantCovered) {
		t.Errorf("alarms cover %q, want %q", covered, wantCovered)
	}
	boards := tmpl.GetAllCloudWatchDashboardResources()
	if len(boards) != 1 {
		t.Fatalf("dashboards = %d, want 1", len(boards))
	}
	for _, d := range boards {
		name, arg, _ := intrinsic(d.DashboardBody)
		body, _ := arg.(string)
		for a := range alarms {
			if name != "Fn::Sub" || !strings.Contains(body, "${"+a+".Arn}") {
				t.Errorf("the dashboard's alarm widget does not show %s", a)
			}
		}
	}
}

// TestTemplateTracing: the three functions trace with X-Ray.
func TestTemplateTracing(t *testing.T) {
	tmpl := loadTemplate(t)
	for _, name := range []string{"WebhookFunction", "WorkerFunction", "EventsFunction"} {
		fn, err := tmpl.GetServerlessFunctionWithName(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := deref(fn.Tracing); got != "Active" {
			t.Errorf("%s Tracing = %q, want Active", name, got)
		}
	}
}

// checkTracingStatement: X-Ray's two write actions, on "*" (they take no
// resource type), for Tracing: Active.
func checkTracingStatement(t *testing.T, raw any) {
	t.Helper()
	st, _ := raw.(map[string]any)
	var got []string
	for _, a := range st["Action"].([]any) {
		got = append(got, fmt.Sprint(a))
	}
	slices.Sort(got)
	if st["Effect"] != "Allow" || st["Resource"] != "*" || !slices.Equal(got, []string{"xray:PutTelemetryRecords", "xray:PutTraceSegments"}) {
		t.Errorf("tracing statement = %v, want Allow xray:PutTraceSegments, xray:PutTelemetryRecords on *", st)
	}
}
