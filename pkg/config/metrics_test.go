package config_test

// The dashboard and the alarms name only metrics the code writes. An alarm
// on a metric nobody writes never fires, so the metrics are taken from the
// code's own output (the Embedded Metric Format documents in its log
// lines), not from a list in this test.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/identity"
)

// metricKey is a CloudWatch metric as an alarm or a widget names it: its
// namespace, its name and the names of its dimensions, sorted.
type metricKey struct {
	Namespace, Name string
	Dimensions      string // comma-separated, sorted
}

func (k metricKey) String() string {
	return fmt.Sprintf("%s/%s{%s}", k.Namespace, k.Name, k.Dimensions)
}

func keyOf(namespace, name string, dims []string) metricKey {
	d := slices.Clone(dims)
	sort.Strings(d)
	return metricKey{namespace, name, strings.Join(d, ",")}
}

// emfMetrics reads the Embedded Metric Format documents among JSON log
// lines: every metric they define, with each of its dimension sets.
func emfMetrics(t *testing.T, logs []byte) map[metricKey]bool {
	t.Helper()
	out := map[metricKey]bool{}
	for _, l := range bytes.Split(bytes.TrimSpace(logs), []byte("\n")) {
		var line struct {
			AWS *struct {
				CloudWatchMetrics []struct {
					Namespace  string
					Dimensions [][]string
					Metrics    []struct{ Name string }
				}
			} `json:"_aws"`
		}
		if json.Unmarshal(l, &line) != nil || line.AWS == nil {
			continue
		}
		var m map[string]any
		_ = json.Unmarshal(l, &m)
		for _, d := range line.AWS.CloudWatchMetrics {
			for _, metric := range d.Metrics {
				if _, ok := m[metric.Name]; !ok {
					t.Errorf("EMF line defines %s without its value: %s", metric.Name, l)
				}
				for _, dims := range d.Dimensions {
					for _, dim := range dims {
						if _, ok := m[dim]; !ok {
							t.Errorf("EMF line names dimension %s without its value: %s", dim, l)
						}
					}
					out[keyOf(d.Namespace, metric.Name, dims)] = true
				}
			}
		}
	}
	return out
}

// identityMetrics makes the Graph credential fail the way a deployment
// sees it (its token file gone, the authority on a closed loopback port)
// and returns the metrics its log lines define.
func identityMetrics(t *testing.T) map[metricKey]bool {
	t.Helper()
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("header.payload.signature"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cred, err := identity.New(identity.Settings{
		Mode: identity.ModeWorkloadIdentity, TenantID: requiredParameters["EntraTenantId"],
		ClientID: requiredParameters["EntraClientId"], TokenFile: token, AuthorityHost: "https://127.0.0.1:1/",
	}, &identity.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("identity.New: %v", err)
	}
	if err := os.Remove(token); err != nil {
		t.Fatal(err)
	}
	// Bounded, since Entra's client retries a connection it cannot make;
	// a failure at the deadline is a failure line as well.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}}); err == nil {
		t.Fatal("GetToken without a token file succeeded")
	}
	return emfMetrics(t, logs.Bytes())
}

// templateMetrics lists every metric the template's alarms and dashboard
// name, with where.
func templateMetrics(t *testing.T, tmpl samTemplate) map[metricKey][]string {
	t.Helper()
	out := map[metricKey][]string{}
	for name, a := range tmpl.GetAllCloudWatchAlarmResources() {
		var dims []string
		for _, d := range a.Dimensions {
			dims = append(dims, d.Name)
		}
		if a.MetricName == nil || a.Namespace == nil || len(a.Metrics) != 0 {
			t.Errorf("alarm %s: want one metric by Namespace and MetricName", name)
			continue
		}
		k := keyOf(*a.Namespace, *a.MetricName, dims)
		out[k] = append(out[k], "alarm "+name)
	}
	for name, d := range tmpl.GetAllCloudWatchDashboardResources() {
		body := dashboardBody(t, d.DashboardBody)
		for i, w := range body.Widgets {
			where := fmt.Sprintf("dashboard %s widget %d (%s)", name, i, w.Properties.Title)
			var prev []string
			for _, row := range w.Properties.Metrics {
				for _, k := range widgetMetrics(t, where, row, &prev) {
					out[k] = append(out[k], where)
				}
			}
		}
	}
	return out
}

type dashboard struct {
	Widgets []struct {
		Type       string
		Properties struct {
			Title   string
			Metrics [][]any
			Alarms  []string
		}
	}
}

// dashboardBody decodes a DashboardBody written with !Sub: the
// substitutions (function and queue names, the region, alarm ARNs) stand
// for strings.
func dashboardBody(t *testing.T, v string) dashboard {
	t.Helper()
	name, arg, ok := intrinsic(v)
	text, isString := arg.(string)
	if !ok || name != "Fn::Sub" || !isString {
		text = v
	}
	text = regexp.MustCompile(`\$\{[^}]*\}`).ReplaceAllString(text, "SUB")
	var d dashboard
	if err := json.Unmarshal([]byte(text), &d); err != nil {
		t.Fatalf("DashboardBody is not JSON: %v", err)
	}
	return d
}

// searchExpr is a dashboard SEARCH over one metric of one dimension schema.
var searchExpr = regexp.MustCompile(`^SEARCH\('\{([^}]*)\} MetricName="([^"]+)"', '[A-Za-z0-9.]+', [0-9]+\)$`)

// widgetMetrics reads one row of a metric widget: [namespace, name,
// dimension, value, ..., {options}], where "." repeats the row above, or
// [{expression: SEARCH(...)}].
func widgetMetrics(t *testing.T, where string, row []any, prev *[]string) []metricKey {
	t.Helper()
	var parts []string
	for _, v := range row {
		switch v := v.(type) {
		case string:
			parts = append(parts, v)
		case map[string]any:
			expr, _ := v["expression"].(string)
			if expr == "" {
				continue // rendering options
			}
			m := searchExpr.FindStringSubmatch(expr)
			if m == nil {
				t.Errorf("%s: expression %q is not a SEARCH of one metric", where, expr)
				return nil
			}
			schema := strings.Split(m[1], ",")
			return []metricKey{keyOf(strings.TrimSpace(schema[0]), m[2], trimAll(schema[1:]))}
		}
	}
	for i, p := range parts {
		if p == "." && i < len(*prev) {
			parts[i] = (*prev)[i]
		}
	}
	*prev = parts
	if len(parts) < 2 || len(parts)%2 != 0 {
		t.Errorf("%s: metric row %v is not namespace, name and dimension pairs", where, row)
		return nil
	}
	var dims []string
	for i := 2; i < len(parts); i += 2 {
		dims = append(dims, parts[i])
	}
	return []metricKey{keyOf(parts[0], parts[1], dims)}
}

func trimAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strings.TrimSpace(v)
	}
	return out
}

// awsMetrics are the AWS namespaces' metrics the template may name, with
// their dimensions: the functions' errors and throttles, the queues' depth
// and age.
var awsMetrics = map[metricKey]bool{
	keyOf("AWS/Lambda", "Errors", []string{"FunctionName"}):                       true,
	keyOf("AWS/Lambda", "Throttles", []string{"FunctionName"}):                    true,
	keyOf("AWS/SQS", "ApproximateNumberOfMessagesVisible", []string{"QueueName"}): true,
	keyOf("AWS/SQS", "ApproximateAgeOfOldestMessage", []string{"QueueName"}):      true,
}

// TestTemplateMetricsAreWritten: every metric of the enrollhook namespace
// that an alarm or the dashboard names is written by the code, in that
// namespace and with those dimensions; every other metric is one of AWS's
// listed above.
func TestTemplateMetricsAreWritten(t *testing.T) {
	tmpl := loadTemplate(t)
	written := identityMetrics(t)
	for k := range codeMetrics(t) {
		written[k] = true
	}
	namespaces := map[string]bool{}
	for k := range written {
		namespaces[k.Namespace] = true
	}
	if len(namespaces) != 1 {
		t.Errorf("the code writes metrics in %d namespaces (%v), want one", len(namespaces), namespaces)
	}
	named := templateMetrics(t, tmpl)
	if len(named) == 0 {
		t.Fatal("the template names no metric")
	}
	for k, where := range named {
		if strings.HasPrefix(k.Namespace, "AWS/") {
			if !awsMetrics[k] {
				t.Errorf("%s names %s, which this test does not list", strings.Join(where, ", "), k)
			}
			continue
		}
		if !written[k] {
			var have []string
			for w := range written {
				have = append(have, w.String())
			}
			sort.Strings(have)
			t.Errorf("%s names %s, which the code never writes; it writes %s", strings.Join(where, ", "), k, strings.Join(have, ", "))
		}
	}
	// The token failures have an alarm.
	if !slices.ContainsFunc(named[keyOf(identity.MetricsNamespace, identity.MetricTokenFailures, nil)], func(w string) bool { return strings.HasPrefix(w, "alarm ") }) {
		t.Errorf("no alarm on %s", identity.MetricTokenFailures)
	}
}

// codeMetrics writes an audit line of every outcome through the pipeline's
// audit (the one writer of the audit lines and their metrics, for the
// request path, chat and the worker) and returns the metrics they define.
func codeMetrics(t *testing.T) map[metricKey]bool {
	t.Helper()
	var logs bytes.Buffer
	p := apply.New(nil, &apply.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	for _, e := range []apply.Entry{
		{Outcome: apply.AuditApplied, GraphTime: time.Millisecond, Result: &graph.Result{Retries: 1}},
		{Outcome: apply.AuditReplayed},
		{Outcome: apply.AuditQueued},
		{Outcome: apply.AuditRefused, Reason: string(change.KindPolicyGroup)},
		{Outcome: apply.AuditFailed, Reason: string(change.CodeUnavailable), GraphTime: time.Millisecond},
		{Outcome: apply.AuditUnknown, Reason: string(change.CodeTimeout)},
		{Outcome: apply.AuditPartial, Reason: string(change.KindOutsideWindow)},
		{Outcome: apply.AuditDeadLettered, Reason: string(change.CodeNotFound)},
	} {
		e.Start = time.Now()
		p.Audit(context.Background(), &e)
	}
	return emfMetrics(t, logs.Bytes())
}

// TestTemplateReasonsAreProblemTypes: the reason an alarm or a widget
// names is a problem slug (a change.Code or change.Kind), which is what the
// audit writes as the reason dimension.
func TestTemplateReasonsAreProblemTypes(t *testing.T) {
	tmpl := loadTemplate(t)
	var slugs []string
	for _, c := range change.Codes() {
		slugs = append(slugs, string(c))
	}
	for _, k := range change.Kinds() {
		slugs = append(slugs, string(k))
	}
	var named int
	for name, a := range tmpl.GetAllCloudWatchAlarmResources() {
		for _, d := range a.Dimensions {
			if d.Name == "reason" {
				named++
				if !slices.Contains(slugs, d.Value) {
					t.Errorf("alarm %s: reason %q is not a problem type", name, d.Value)
				}
			}
		}
	}
	for name, d := range tmpl.GetAllCloudWatchDashboardResources() {
		for _, w := range dashboardBody(t, d.DashboardBody).Widgets {
			for _, row := range w.Properties.Metrics {
				for i := 0; i+1 < len(row); i++ {
					if row[i] == "reason" {
						named++
						if v, _ := row[i+1].(string); !slices.Contains(slugs, v) {
							t.Errorf("dashboard %s: reason %q is not a problem type", name, v)
						}
					}
				}
			}
		}
	}
	if named == 0 {
		t.Error("no alarm or widget names a reason")
	}
}
