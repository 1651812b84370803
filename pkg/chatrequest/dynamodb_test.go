package chatrequest

import (
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/awslabs/goformation/v7/intrinsics"

	"github.com/enrollhook/enrollhook/pkg/awsapi/awsapitest"
)

// TestDynamoDBItem: a request is one item of the change table, pk
// "chatrequest#" and the id, with the TTL attribute in epoch seconds and
// no "assignment" (so not in the change history's index).
func TestDynamoDBItem(t *testing.T) {
	d, table := awsapitest.Table(t, awsapitest.ChangeTable(t.Name()))
	c := newClock()
	st := NewDynamoDB(d.Client(t), table, &Options{Now: c.now, TTL: 2 * time.Hour})
	if err := st.Create(ctx, req("ABCD2345")); err != nil {
		t.Fatal(err)
	}
	out, err := d.SDK.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "chatrequest#ABCD2345"},
			"sk": &types.AttributeValueMemberS{Value: "chatrequest"},
		}})
	if err != nil || out.Item == nil {
		t.Fatalf("GetItem = %v, %v", out, err)
	}
	want := strconv.FormatInt(c.now().Add(2*time.Hour).Unix(), 10)
	if got, ok := out.Item["expires"].(*types.AttributeValueMemberN); !ok || got.Value != want {
		t.Errorf("expires = %v, want N %s (now + TTL)", out.Item["expires"], want)
	}
	if got, ok := out.Item["state"].(*types.AttributeValueMemberS); !ok || got.Value != StatePending {
		t.Errorf("state = %v, want S pending", out.Item["state"])
	}
	if _, ok := out.Item["assignment"]; ok {
		t.Error("the item has an assignment attribute: it would be in the change history")
	}
	q, err := d.SDK.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(table), IndexName: aws.String("byAssignment"),
		KeyConditionExpression:    aws.String("assignment = :a"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":a": &types.AttributeValueMemberS{Value: "assignment#cfg-1#asg-1"}}})
	if err != nil || len(q.Items) != 0 {
		t.Errorf("Query(byAssignment) = %v, %v; want nothing", q, err)
	}
}

// TestDynamoDBRetryMeetsItsOwnWrite: a Create or Decide whose put took
// effect but whose answer was lost succeeds, and is not mistaken for
// another's; a real duplicate still is.
func TestDynamoDBRetryMeetsItsOwnWrite(t *testing.T) {
	d, table := awsapitest.Table(t, awsapitest.ChangeTable(t.Name()))
	st := NewDynamoDB(&awsapitest.Faulty{DynamoDBAPI: d.Client(t), Lose: map[int]bool{1: true, 2: true}}, table, nil)
	if err := st.Create(ctx, req("LOST2345")); err != nil {
		t.Fatalf("Create after a lost answer = %v, want nil", err)
	}
	got, err := st.Decide(ctx, "LOST2345", StateApproved, "U0777", "")
	if err != nil || got.State != StateApproved || got.DecidedBy != "U0777" {
		t.Fatalf("Decide after a lost answer = %v, %v; want it approved", got, err)
	}
	if err := st.Create(ctx, req("LOST2345")); !errors.Is(err, ErrExists) {
		t.Errorf("Create(taken id) = %v, want ErrExists", err)
	}
	if got, err := st.Decide(ctx, "LOST2345", StateApproved, "U0777", ""); !errors.Is(err, ErrDecided) || got.DecidedBy != "U0777" {
		t.Errorf("Decide again by the same user = %v, %v; want ErrDecided", got, err)
	}
}

// TestDynamoDBReopenMeetsItsOwnWrite: a Reopen whose put took effect but
// whose answer was lost (the put sent again finds the condition false)
// reopens, and says so, keeping the attempt's time.
func TestDynamoDBReopenMeetsItsOwnWrite(t *testing.T) {
	d, table := awsapitest.Table(t, awsapitest.ChangeTable(t.Name()))
	st := NewDynamoDB(&awsapitest.Faulty{DynamoDBAPI: d.Client(t), Lose: map[int]bool{3: true}}, table, nil)
	if err := st.Create(ctx, req("LOSR2345")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Decide(ctx, "LOSR2345", StateApproved, "U0777", "bob"); err != nil {
		t.Fatal(err)
	}
	attempted := time.Now().Truncate(time.Second).UTC()
	got, err := st.Reopen(ctx, "LOSR2345", "U0777", time.Time{}, attempted, "slack:D1")
	if err != nil || got.State != StatePending || !got.Attempted.Equal(attempted) {
		t.Fatalf("Reopen after a lost answer = %+v, %v; want it pending, attempted %v", got, err, attempted)
	}
}

// TestDynamoDBErrors: DynamoDB's refusals come back wrapped; a missing
// table is neither "not found" nor "exists".
func TestDynamoDBErrors(t *testing.T) {
	d := awsapitest.Start(t)
	if d == nil {
		t.Skip("no dynalite")
	}
	st := NewDynamoDB(d.Client(t), "no-such-table", nil)
	if err := st.Create(ctx, req("ABCD2345")); err == nil || errors.Is(err, ErrExists) {
		t.Errorf("Create on a missing table = %v, want DynamoDB's error", err)
	}
	if _, err := st.Get(ctx, "ABCD2345"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Get on a missing table = %v, want DynamoDB's error", err)
	}
	if _, err := st.Decide(ctx, "ABCD2345", StateApproved, "U1", ""); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Decide on a missing table = %v, want DynamoDB's error", err)
	}
}

// TestTemplateTable: template.yaml's ChangeTable has the keys and the TTL
// attribute this store and its tests use.
func TestTemplateTable(t *testing.T) {
	data, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Resources map[string]struct {
			Properties struct {
				AttributeDefinitions    []struct{ AttributeName, AttributeType string }
				KeySchema               []struct{ AttributeName, KeyType string }
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
	p := doc.Resources["ChangeTable"].Properties
	want := awsapitest.ChangeTable("x")
	if len(p.KeySchema) != len(want.KeySchema) {
		t.Fatalf("ChangeTable key schema %v, want %d keys", p.KeySchema, len(want.KeySchema))
	}
	for i, k := range want.KeySchema {
		if p.KeySchema[i].AttributeName != aws.ToString(k.AttributeName) || p.KeySchema[i].KeyType != string(k.KeyType) {
			t.Errorf("ChangeTable key %d = %v, want %s %s", i, p.KeySchema[i], aws.ToString(k.AttributeName), k.KeyType)
		}
	}
	types := map[string]string{}
	for _, a := range p.AttributeDefinitions {
		types[a.AttributeName] = a.AttributeType
	}
	if types[attrPK] != "S" || types[attrSK] != "S" {
		t.Errorf("ChangeTable attribute types %v, want pk and sk strings", types)
	}
	if ttl := p.TimeToLiveSpecification; ttl.AttributeName != attrExpires || !ttl.Enabled {
		t.Errorf("ChangeTable TTL = %+v, want %q enabled", ttl, attrExpires)
	}
}
