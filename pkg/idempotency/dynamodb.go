package idempotency

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoDBAPI is the part of the DynamoDB client the store calls.
type DynamoDBAPI interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
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

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

// Begin implements Store with one conditional PutItem; when the condition
// fails it reads the record back (consistently) to say why.
func (d *DynamoDB) Begin(ctx context.Context, key, fingerprint string, inProgressUntil time.Time) (*Lease, error) {
	for attempt := 0; attempt < 3; attempt++ {
		now := d.now()
		l := &Lease{Key: key, Holder: newHolder()}
		_, err := d.client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(d.table),
			Item: map[string]types.AttributeValue{
				attrID: s(key), attrStatus: s(StatusInProgress), attrFingerprint: s(fingerprint), attrHolder: s(l.Holder),
				attrInProgressUntil: n(inProgressUntil.UnixMilli()), attrExpiration: n(inProgressUntil.Unix() + 1),
			},
			ConditionExpression: aws.String("attribute_not_exists(#id) OR #exp < :now OR (#status = :inprogress AND #ipe < :nowms)"),
			ExpressionAttributeNames: map[string]string{
				"#id": attrID, "#exp": attrExpiration, "#status": attrStatus, "#ipe": attrInProgressUntil,
			},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":now": n(now.Unix()), ":nowms": n(now.UnixMilli()), ":inprogress": s(StatusInProgress),
			},
		})
		if err == nil {
			return l, nil
		}
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			return nil, fmt.Errorf("idempotency: put %s: %w", d.table, err)
		}
		out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(d.table), Key: map[string]types.AttributeValue{attrID: s(key)}, ConsistentRead: aws.Bool(true),
		})
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
	_, err = d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(d.table),
		Key:                 map[string]types.AttributeValue{attrID: s(l.Key)},
		UpdateExpression:    aws.String("SET #status = :completed, #data = :data, #exp = :exp REMOVE #ipe"),
		ConditionExpression: aws.String("#holder = :holder AND #status = :inprogress"),
		ExpressionAttributeNames: map[string]string{
			"#status": attrStatus, "#data": attrData, "#exp": attrExpiration, "#ipe": attrInProgressUntil, "#holder": attrHolder,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":completed": s(StatusCompleted), ":data": s(string(data)), ":exp": n(expires.Unix()),
			":holder": s(l.Holder), ":inprogress": s(StatusInProgress),
		},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return ErrLost
	}
	if err != nil {
		return fmt.Errorf("idempotency: complete %s: %w", l.Key, err)
	}
	return nil
}

// Release implements Store: the record goes only while this lease holds it.
func (d *DynamoDB) Release(ctx context.Context, l *Lease) error {
	_, err := d.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(d.table),
		Key:                       map[string]types.AttributeValue{attrID: s(l.Key)},
		ConditionExpression:       aws.String("#holder = :holder AND #status = :inprogress"),
		ExpressionAttributeNames:  map[string]string{"#holder": attrHolder, "#status": attrStatus},
		ExpressionAttributeValues: map[string]types.AttributeValue{":holder": s(l.Holder), ":inprogress": s(StatusInProgress)},
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("idempotency: release %s: %w", l.Key, err)
	}
	return nil
}

func str(v types.AttributeValue) string {
	if sv, ok := v.(*types.AttributeValueMemberS); ok {
		return sv.Value
	}
	return ""
}

func num(v types.AttributeValue) int64 {
	if nv, ok := v.(*types.AttributeValueMemberN); ok {
		i, _ := strconv.ParseInt(nv.Value, 10, 64)
		return i
	}
	return 0
}
