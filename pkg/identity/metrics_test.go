package identity_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/identity"
)

// TestTokenFailureMetric: the failure line is a CloudWatch Embedded Metric
// Format document that counts one TokenFailures in the enrollhook
// namespace, without dimensions, so an alarm can page on it.
func TestTokenFailureMetric(t *testing.T) {
	r := newRig(t, rigOptions{mode: identity.ModeWorkloadIdentity})
	if err := os.Remove(r.tokenFile); err != nil {
		t.Fatal(err)
	}
	if err := r.list(); err == nil {
		t.Fatal("ListAssignments without a token file succeeded")
	}
	var found int
	for _, l := range strings.Split(strings.TrimSpace(r.logs.String()), "\n") {
		var line struct {
			Msg  string `json:"msg"`
			Mode string `json:"mode"`
			AWS  struct {
				Timestamp         int64 `json:"Timestamp"`
				CloudWatchMetrics []struct {
					Namespace  string
					Dimensions [][]string
					Metrics    []struct{ Name, Unit string }
				}
			} `json:"_aws"`
			Count *float64 `json:"TokenFailures"`
		}
		if json.Unmarshal([]byte(l), &line) != nil || line.Msg != "graph credential failed" {
			continue
		}
		found++
		d := line.AWS.CloudWatchMetrics
		if line.AWS.Timestamp <= 0 || len(d) != 1 || d[0].Namespace != identity.MetricsNamespace ||
			len(d[0].Dimensions) != 1 || len(d[0].Dimensions[0]) != 0 || len(d[0].Metrics) != 1 ||
			d[0].Metrics[0].Name != identity.MetricTokenFailures || d[0].Metrics[0].Unit != "Count" {
			t.Errorf("_aws = %+v, want one Count metric %s in %s without dimensions", line.AWS, identity.MetricTokenFailures, identity.MetricsNamespace)
		}
		if line.Count == nil || *line.Count != 1 {
			t.Errorf("TokenFailures = %v, want 1", line.Count)
		}
		if line.Mode != identity.ModeWorkloadIdentity {
			t.Errorf("mode = %q, want %s (a property, not a dimension)", line.Mode, identity.ModeWorkloadIdentity)
		}
	}
	if found == 0 {
		t.Fatalf("no graph credential failed line in:\n%s", r.logs.String())
	}
}
