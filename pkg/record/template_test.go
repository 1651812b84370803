package record

import (
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/awslabs/goformation/v7/intrinsics"

	"github.com/enrollhook/enrollhook/pkg/awsapi/awsapitest"
)

// TestTemplateTable: template.yaml's ChangeTable is the table this
// package's DynamoDB store and its tests use: its keys, its index, its TTL
// attribute.
func TestTemplateTable(t *testing.T) {
	data, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	type keyElem struct{ AttributeName, KeyType string }
	var doc struct {
		Resources map[string]struct {
			Type       string
			Properties struct {
				AttributeDefinitions   []struct{ AttributeName, AttributeType string }
				KeySchema              []keyElem
				GlobalSecondaryIndexes []struct {
					IndexName  string
					KeySchema  []keyElem
					Projection struct{ ProjectionType string }
				}
				TimeToLiveSpecification struct {
					AttributeName string
					Enabled       bool
				}
			}
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	tbl, ok := doc.Resources["ChangeTable"]
	if !ok || tbl.Type != "AWS::DynamoDB::Table" {
		t.Fatalf("template.yaml has no ChangeTable table")
	}
	p := tbl.Properties
	want := awsapitest.ChangeTable("x")
	var attrs, wantAttrs []string
	for _, a := range p.AttributeDefinitions {
		attrs = append(attrs, a.AttributeName+" "+a.AttributeType)
	}
	for _, a := range want.AttributeDefinitions {
		wantAttrs = append(wantAttrs, aws.ToString(a.AttributeName)+" "+string(a.AttributeType))
	}
	slices.Sort(attrs)
	slices.Sort(wantAttrs)
	if !slices.Equal(attrs, wantAttrs) {
		t.Errorf("ChangeTable attributes = %q, want %q", attrs, wantAttrs)
	}
	keys := func(ks []keyElem) []string {
		var out []string
		for _, k := range ks {
			out = append(out, k.AttributeName+" "+k.KeyType)
		}
		return out
	}
	var wantKeys []keyElem
	for _, k := range want.KeySchema {
		wantKeys = append(wantKeys, keyElem{aws.ToString(k.AttributeName), string(k.KeyType)})
	}
	if !slices.Equal(keys(p.KeySchema), keys(wantKeys)) {
		t.Errorf("ChangeTable keys = %q, want %q", keys(p.KeySchema), keys(wantKeys))
	}
	if len(p.GlobalSecondaryIndexes) != 1 {
		t.Fatalf("ChangeTable has %d indexes, want one (%s)", len(p.GlobalSecondaryIndexes), IndexAssignment)
	}
	gsi, wgsi := p.GlobalSecondaryIndexes[0], want.GlobalSecondaryIndexes[0]
	var wantGSIKeys []keyElem
	for _, k := range wgsi.KeySchema {
		wantGSIKeys = append(wantGSIKeys, keyElem{aws.ToString(k.AttributeName), string(k.KeyType)})
	}
	if gsi.IndexName != IndexAssignment || !slices.Equal(keys(gsi.KeySchema), keys(wantGSIKeys)) || gsi.Projection.ProjectionType != "ALL" {
		t.Errorf("ChangeTable index = %+v, want %s on %q projecting ALL (the store reads the record from the index)", gsi, IndexAssignment, keys(wantGSIKeys))
	}
	if ttl := p.TimeToLiveSpecification; ttl.AttributeName != attrExpires || !ttl.Enabled {
		t.Errorf("ChangeTable TTL = %+v, want %s enabled", ttl, attrExpires)
	}
}
