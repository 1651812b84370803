package record

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/enrollhook/enrollhook/pkg/awsapi/awsapitest"
)

// TestDynamoDBExpires: both items of a record carry the TTL attribute
// DynamoDB deletes them by: the store's clock plus the retention, in epoch
// seconds.
func TestDynamoDBExpires(t *testing.T) {
	d, table := awsapitest.Table(t, awsapitest.ChangeTable(t.Name()))
	c := newClock()
	st := NewDynamoDB(d.Client(t), table, &Options{Now: c.now, Retention: 30 * 24 * time.Hour})
	r := rec("generic:msg_1", "generic", "CHG1", "c", "a", c.now().Add(-time.Minute))
	if err := st.Put(ctx, r); err != nil {
		t.Fatal(err)
	}
	want := strconv.FormatInt(c.now().Add(30*24*time.Hour).Unix(), 10)
	for _, key := range []map[string]types.AttributeValue{
		{attrPK: &types.AttributeValueMemberS{Value: idKey(r.ID)}, attrSK: &types.AttributeValueMemberS{Value: idSortKey}},
		{attrPK: &types.AttributeValueMemberS{Value: ticketKey("generic", "CHG1")}, attrSK: &types.AttributeValueMemberS{Value: sortKey(r)}},
	} {
		out, err := d.SDK.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
		if err != nil || out.Item == nil {
			t.Fatalf("GetItem(%v) = %v, %v", key[attrPK], out, err)
		}
		if got, ok := out.Item[attrExpires].(*types.AttributeValueMemberN); !ok || got.Value != want {
			t.Errorf("item %v: %s = %v, want N %s (now + 30 days)", key[attrPK], attrExpires, out.Item[attrExpires], want)
		}
	}
}

// TestDynamoDBRetryMeetsItsOwnWrite: a conditional put that took effect
// but whose answer was lost is not a conflict with itself.
func TestDynamoDBRetryMeetsItsOwnWrite(t *testing.T) {
	d, table := awsapitest.Table(t, awsapitest.ChangeTable(t.Name()))
	st := NewDynamoDB(&awsapitest.Faulty{DynamoDBAPI: d.Client(t), Lose: map[int]bool{1: true}}, table, nil)
	if err := st.Put(ctx, rec("generic:msg_1", "generic", "CHG1", "c", "a", time.Time{})); err != nil {
		t.Fatalf("Put after a lost answer = %v, want nil", err)
	}
	if got, err := st.ByTicket(ctx, "generic", "CHG1"); err != nil || len(got) != 1 {
		t.Errorf("ByTicket = %q, %v; want the one record", ids(got), err)
	}
}

// TestDynamoDBInterruptedPut: a Put that stored the id but failed before
// the ticket's item returns the error; the next Put of that id, the same
// record or another, completes the first record, so a revert finds it.
func TestDynamoDBInterruptedPut(t *testing.T) {
	d, table := awsapitest.Table(t, awsapitest.ChangeTable(t.Name()))
	client := &awsapitest.Faulty{DynamoDBAPI: d.Client(t), Fail: map[int]bool{2: true, 4: true}}
	st := NewDynamoDB(client, table, nil)
	first := rec("generic:msg_1", "generic", "CHG1", "c", "a", time.Time{})
	if err := st.Put(ctx, first); err == nil {
		t.Fatal("Put with its second write failing = nil, want the error")
	}
	if got, err := st.ByTicket(ctx, "generic", "CHG1"); err != nil || len(got) != 0 {
		t.Fatalf("ByTicket after the interrupted Put = %q, %v; want nothing yet", ids(got), err)
	}
	// The same record again (puts 3, and 4 fails: the retry is
	// interrupted too), then a different record under the id (5, 6).
	if err := st.Put(ctx, first); err == nil {
		t.Fatal("Put with its ticket write failing = nil, want the error")
	}
	later := rec("generic:msg_1", "generic", "CHG1", "c", "a", first.Time.Add(time.Minute))
	if err := st.Put(ctx, later); !errors.Is(err, ErrConflict) {
		t.Fatalf("Put(another record, same id) = %v, want ErrConflict", err)
	}
	got, err := st.ByTicket(ctx, "generic", "CHG1")
	if err != nil || len(got) != 1 || !got[0].Time.Equal(first.Time) {
		t.Fatalf("ByTicket = %+v, %v; want the first record, completed", got, err)
	}
	if got, err := st.ByAssignment(ctx, "c", "a", 10); err != nil || len(got) != 1 {
		t.Errorf("ByAssignment = %q, %v; want the first record", ids(got), err)
	}
}

// TestDynamoDBErrors: DynamoDB's refusals come back wrapped, with what
// was being done; a missing table is not "not found".
func TestDynamoDBErrors(t *testing.T) {
	d := awsapitest.Start(t)
	if d == nil {
		t.Skip("no dynalite")
	}
	st := NewDynamoDB(d.Client(t), "no-such-table", nil)
	err := st.Put(ctx, rec("generic:m", "generic", "CHG1", "c", "a", time.Time{}))
	if err == nil || errors.Is(err, ErrConflict) {
		t.Errorf("Put on a missing table = %v, want DynamoDB's error", err)
	}
	if _, err := st.Get(ctx, "generic:m"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Get on a missing table = %v, want DynamoDB's error, not ErrNotFound", err)
	}
	if _, err := st.ByTicket(ctx, "generic", "CHG1"); err == nil {
		t.Error("ByTicket on a missing table = nil error")
	}
}
