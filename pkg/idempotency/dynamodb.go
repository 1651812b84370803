package idempotency

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/enrollhook/enrollhook/pkg/awsapi"
)

// DynamoDBAPI is how the store calls DynamoDB: an *awsapi.Client of
// "dynamodb" (its JSON 1.0 protocol).
type DynamoDBAPI = awsapi.DynamoDBAPI

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

// Begin implements Store with one conditional PutItem; when the condition
// fails it reads the record back (consistently) to say why.
func (d *DynamoDB) Begin(ctx context.Context, key, fingerprint string, inProgressUntil time.Time) (*Lease, error) {
	for attempt := 0; attempt < 3; attempt++ {
		now := d.now()
		l := &Lease{Key: key, Holder: newHolder()}
		err := d.client.JSON(ctx, awsapi.DynamoDBTarget+"PutItem", awsapi.ItemRequest{
			TableName: d.table,
			Item: awsapi.Item{
				attrID: awsapi.S(key), attrStatus: awsapi.S(StatusInProgress), attrFingerprint: awsapi.S(fingerprint), attrHolder: awsapi.S(l.Holder),
				attrInProgressUntil: awsapi.N(inProgressUntil.UnixMilli()), attrExpiration: awsapi.N(inProgressUntil.Unix() + 1),
			},
			ConditionExpression: "attribute_not_exists(#id) OR #exp < :now OR (#status = :inprogress AND #ipe < :nowms)",
			ExpressionAttributeNames: map[string]string{
				"#id": attrID, "#exp": attrExpiration, "#status": attrStatus, "#ipe": attrInProgressUntil,
			},
			ExpressionAttributeValues: awsapi.Item{
				":now": awsapi.N(now.Unix()), ":nowms": awsapi.N(now.UnixMilli()), ":inprogress": awsapi.S(StatusInProgress),
			},
		}, nil)
		if err == nil {
			return l, nil
		}
		if !awsapi.ConditionFailed(err) {
			return nil, fmt.Errorf("idempotency: put %s: %w", d.table, err)
		}
		stored, err := awsapi.GetItem(ctx, d.client, d.table, awsapi.Item{attrID: awsapi.S(key)})
		if err != nil {
			return nil, fmt.Errorf("idempotency: get %s: %w", d.table, err)
		}
		if stored == nil {
			continue // released between the two calls: try again
		}
		if awsapi.Str(stored[attrFingerprint]) != fingerprint {
			return nil, ErrMismatch
		}
		switch awsapi.Str(stored[attrStatus]) {
		case StatusCompleted:
			var resp Response
			if err := json.Unmarshal([]byte(awsapi.Str(stored[attrData])), &resp); err != nil {
				return nil, fmt.Errorf("idempotency: stored answer of %s: %w", key, err)
			}
			return &Lease{Key: key, Replay: &resp}, nil
		default:
			if awsapi.Str(stored[attrHolder]) == l.Holder {
				// Our own put: it succeeded, but its answer was lost and
				// the client's retry met the record it had written.
				return l, nil
			}
			until := time.UnixMilli(awsapi.Num(stored[attrInProgressUntil]))
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
	err = d.client.JSON(ctx, awsapi.DynamoDBTarget+"UpdateItem", awsapi.ItemRequest{
		TableName:           d.table,
		Key:                 awsapi.Item{attrID: awsapi.S(l.Key)},
		UpdateExpression:    "SET #status = :completed, #data = :data, #exp = :exp REMOVE #ipe",
		ConditionExpression: "#holder = :holder AND #status = :inprogress",
		ExpressionAttributeNames: map[string]string{
			"#status": attrStatus, "#data": attrData, "#exp": attrExpiration, "#ipe": attrInProgressUntil, "#holder": attrHolder,
		},
		ExpressionAttributeValues: awsapi.Item{
			":completed": awsapi.S(StatusCompleted), ":data": awsapi.S(string(data)), ":exp": awsapi.N(expires.Unix()),
			":holder": awsapi.S(l.Holder), ":inprogress": awsapi.S(StatusInProgress),
		},
	}, nil)
	if awsapi.ConditionFailed(err) {
		// A retry of an update whose answer was lost finds the record
		// already completed by this lease: that is success.
		if stored, gerr := awsapi.GetItem(ctx, d.client, d.table, awsapi.Item{attrID: awsapi.S(l.Key)}); gerr == nil &&
			stored != nil && awsapi.Str(stored[attrHolder]) == l.Holder && awsapi.Str(stored[attrStatus]) == StatusCompleted {
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
	err := d.client.JSON(ctx, awsapi.DynamoDBTarget+"DeleteItem", awsapi.ItemRequest{
		TableName:                 d.table,
		Key:                       awsapi.Item{attrID: awsapi.S(l.Key)},
		ConditionExpression:       "#holder = :holder AND #status = :inprogress",
		ExpressionAttributeNames:  map[string]string{"#holder": attrHolder, "#status": attrStatus},
		ExpressionAttributeValues: awsapi.Item{":holder": awsapi.S(l.Holder), ":inprogress": awsapi.S(StatusInProgress)},
	}, nil)
	if err != nil && !awsapi.ConditionFailed(err) {
		return fmt.Errorf("idempotency: release %s: %w", l.Key, err)
	}
	return nil
}
