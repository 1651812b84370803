package idempotency

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/smithy-go"
)

// DynamoDBAPI is how the store calls DynamoDB: an *awsapi.Client of
// "dynamodb" (its JSON 1.0 protocol).
type DynamoDBAPI interface {
	JSON(ctx context.Context, target string, in, out any) error
}

// attr is a DynamoDB attribute value on the wire: {"S": ...} or {"N": ...}.
type attr map[string]string

// item is a DynamoDB item on the wire.
type item map[string]attr

// request is the members of PutItem, GetItem, UpdateItem and DeleteItem the
// store sets.
type request struct {
	TableName                 string            `json:"TableName"`
	Item                      item              `json:"Item,omitempty"`
	Key                       item              `json:"Key,omitempty"`
	ConsistentRead            bool              `json:"ConsistentRead,omitempty"`
	UpdateExpression          string            `json:"UpdateExpression,omitempty"`
	ConditionExpression       string            `json:"ConditionExpression,omitempty"`
	ExpressionAttributeNames  map[string]string `json:"ExpressionAttributeNames,omitempty"`
	ExpressionAttributeValues item              `json:"ExpressionAttributeValues,omitempty"`
}

const target = "DynamoDB_20120810."

// conditionFailed reports whether err is DynamoDB's refusal of a condition.
func conditionFailed(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "ConditionalCheckFailedException"
}

// Attribute names of the table: partition key "id" (S), TTL attribute
// "expiration" (N, epoch seconds). TTL deletion can lag by days, so expiry
// is always checked from the stored timestamps, never left to TTL.
const (
	attrID              = "id"
	attrStatus          = "status"
	attrFingerprint     = "fingerprint"
	attrHolder          = "holder"
	attrData            = "data"
	attrExpiration      = "expiration"
	attrInProgressUntil = "in_progress_expiration" // epoch milliseconds
)

// DynamoDB is the store for Lambda: one table shared by every instance.
type DynamoDB struct {
	client DynamoDBAPI
	table  string
	now    func() time.Time
}

var _ Store = (*DynamoDB)(nil)

// NewDynamoDB returns a store on table. now is the clock (nil: time.Now).
func NewDynamoDB(client DynamoDBAPI, table string, now func() time.Time) *DynamoDB {
	if now == nil {
		now = time.Now
	}
	return &DynamoDB{client: client, table: table, now: now}
}

func s(v string) attr { return attr{"S": v} }
func n(v int64) attr  { return attr{"N": strconv.FormatInt(v, 10)} }

// Begin implements Store with one conditional PutItem; when the condition
// fails it reads the record back (consistently) to say why.
func (d *DynamoDB) Begin(ctx context.Context, key, fingerprint string, inProgressUntil time.Time) (*Lease, error) {
	for attempt := 0; attempt < 3; attempt++ {
		now := d.now()
		l := &Lease{Key: key, Holder: newHolder()}
		err := d.client.JSON(ctx, target+"PutItem", request{
			TableName: d.table,
			Item: item{
				attrID: s(key), attrStatus: s(StatusInProgress), attrFingerprint: s(fingerprint), attrHolder: s(l.Holder),
				attrInProgressUntil: n(inProgressUntil.UnixMilli()), attrExpiration: n(inProgressUntil.Unix() + 1),
			},
			ConditionExpression: "attribute_not_exists(#id) OR #exp < :now OR (#status = :inprogress AND #ipe < :nowms)",
			ExpressionAttributeNames: map[string]string{
				"#id": attrID, "#exp": attrExpiration, "#status": attrStatus, "#ipe": attrInProgressUntil,
			},
			ExpressionAttributeValues: item{
				":now": n(now.Unix()), ":nowms": n(now.UnixMilli()), ":inprogress": s(StatusInProgress),
			},
		}, nil)
		if err == nil {
			return l, nil
		}
		if !conditionFailed(err) {
			return nil, fmt.Errorf("idempotency: put %s: %w", d.table, err)
		}
		var out struct {
			Item item `json:"Item"`
		}
		err = d.client.JSON(ctx, target+"GetItem", request{TableName: d.table, Key: item{attrID: s(key)}, ConsistentRead: true}, &out)
		if err != nil {
			return nil, fmt.Errorf("idempotency: get %s: %w", d.table, err)
		}
		if out.Item == nil {
			continue // released between the two calls: try again
		}
		if str(out.Item[attrFingerprint]) != fingerprint {
			return nil, ErrMismatch
		}
		switch str(out.Item[attrStatus]) {
		case StatusCompleted:
			var resp Response
			if err := json.Unmarshal([]byte(str(out.Item[attrData])), &resp); err != nil {
				return nil, fmt.Errorf("idempotency: stored answer of %s: %w", key, err)
			}
			return &Lease{Key: key, Replay: &resp}, nil
		default:
			if str(out.Item[attrHolder]) == l.Holder {
				// Our own put: it succeeded, but its answer was lost and
				// the client's retry met the record it had written.
				return l, nil
			}
			until := time.UnixMilli(num(out.Item[attrInProgressUntil]))
			if !now.Before(until) {
				continue // expired just now: take it over on the next put
			}
			return nil, &InProgressError{RetryAfter: retryAfter(until, now)}
		}
	}
	return nil, fmt.Errorf("idempotency: %s: the record kept changing", key)
}

// Complete implements Store: the record becomes COMPLETED with the answer,
// only while this lease still holds it.
func (d *DynamoDB) Complete(ctx context.Context, l *Lease, resp Response, expires time.Time) error {
	data, err := json.Marshal(resp)
	if err != nil {
		return err
	}
	err = d.client.JSON(ctx, target+"UpdateItem", request{
		TableName:           d.table,
		Key:                 item{attrID: s(l.Key)},
		UpdateExpression:    "SET #status = :completed, #data = :data, #exp = :exp REMOVE #ipe",
		ConditionExpression: "#holder = :holder AND #status = :inprogress",
		ExpressionAttributeNames: map[string]string{
			"#status": attrStatus, "#data": attrData, "#exp": attrExpiration, "#ipe": attrInProgressUntil, "#holder": attrHolder,
		},
		ExpressionAttributeValues: item{
			":completed": s(StatusCompleted), ":data": s(string(data)), ":exp": n(expires.Unix()),
			":holder": s(l.Holder), ":inprogress": s(StatusInProgress),
		},
	}, nil)
	if conditionFailed(err) {
		// A retry of an update whose answer was lost finds the record
		// already completed by this lease: that is success.
		var out struct {
			Item item `json:"Item"`
		}
		if gerr := d.client.JSON(ctx, target+"GetItem", request{TableName: d.table, Key: item{attrID: s(l.Key)}, ConsistentRead: true}, &out); gerr == nil &&
			out.Item != nil && str(out.Item[attrHolder]) == l.Holder && str(out.Item[attrStatus]) == StatusCompleted {
			return nil
		}
		return ErrLost
	}
	if err != nil {
		return fmt.Errorf("idempotency: complete %s: %w", l.Key, err)
	}
	return nil
}

// Release implements Store: the record goes only while this lease holds it.
func (d *DynamoDB) Release(ctx context.Context, l *Lease) error {
	err := d.client.JSON(ctx, target+"DeleteItem", request{
		TableName:                 d.table,
		Key:                       item{attrID: s(l.Key)},
		ConditionExpression:       "#holder = :holder AND #status = :inprogress",
		ExpressionAttributeNames:  map[string]string{"#holder": attrHolder, "#status": attrStatus},
		ExpressionAttributeValues: item{":holder": s(l.Holder), ":inprogress": s(StatusInProgress)},
	}, nil)
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("idempotency: release %s: %w", l.Key, err)
	}
	return nil
}

func str(v attr) string { return v["S"] }

func num(v attr) int64 {
	i, _ := strconv.ParseInt(v["N"], 10, 64)
	return i
}
