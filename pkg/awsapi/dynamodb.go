package awsapi

import (
	"context"
	"errors"
	"strconv"

	"github.com/aws/smithy-go"
)

// The DynamoDB wire pieces the stores (pkg/idempotency, pkg/record,
// pkg/chatrequest) share: they call DynamoDB's item operations through
// JSON with these.

// DynamoDBAPI is how a store calls DynamoDB: an *Client of "dynamodb" (its
// JSON 1.0 protocol).
type DynamoDBAPI interface {
	JSON(ctx context.Context, target string, in, out any) error
}

// DynamoDBTarget is the X-Amz-Target prefix of DynamoDB's operations:
// DynamoDBTarget+"PutItem".
const DynamoDBTarget = "DynamoDB_20120810."

// Attr is a DynamoDB attribute value on the wire: {"S": ...} or {"N": ...}.
type Attr map[string]string

// Item is a DynamoDB item on the wire.
type Item map[string]Attr

// S is the string attribute v.
func S(v string) Attr { return Attr{"S": v} }

// N is the number attribute v.
func N(v int64) Attr { return Attr{"N": strconv.FormatInt(v, 10)} }

// Str is a string attribute's value ("" for another or none).
func Str(v Attr) string { return v["S"] }

// Num is a number attribute's value as an integer (0 for another or none).
func Num(v Attr) int64 {
	i, _ := strconv.ParseInt(v["N"], 10, 64)
	return i
}

// ItemRequest is the members of PutItem, GetItem, UpdateItem, DeleteItem
// and Query that the stores set; a member left zero is not sent.
type ItemRequest struct {
	TableName                 string            `json:"TableName"`
	Item                      Item              `json:"Item,omitempty"`
	Key                       Item              `json:"Key,omitempty"`
	IndexName                 string            `json:"IndexName,omitempty"`
	ConsistentRead            bool              `json:"ConsistentRead,omitempty"`
	KeyConditionExpression    string            `json:"KeyConditionExpression,omitempty"`
	UpdateExpression          string            `json:"UpdateExpression,omitempty"`
	ConditionExpression       string            `json:"ConditionExpression,omitempty"`
	ExpressionAttributeNames  map[string]string `json:"ExpressionAttributeNames,omitempty"`
	ExpressionAttributeValues Item              `json:"ExpressionAttributeValues,omitempty"`
	ScanIndexForward          *bool             `json:"ScanIndexForward,omitempty"`
	Limit                     int               `json:"Limit,omitempty"`
	ExclusiveStartKey         Item              `json:"ExclusiveStartKey,omitempty"`
	ReturnValues              string            `json:"ReturnValues,omitempty"`
}

// ConditionFailed reports whether err is DynamoDB's refusal of a
// condition (ConditionalCheckFailedException).
func ConditionFailed(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "ConditionalCheckFailedException"
}

// GetItem reads the item of key in table, strongly consistent; nil when
// there is none. Its error is the call's, for the caller to wrap.
func GetItem(ctx context.Context, c DynamoDBAPI, table string, key Item) (Item, error) {
	var out struct {
		Item Item `json:"Item"`
	}
	if err := c.JSON(ctx, DynamoDBTarget+"GetItem", ItemRequest{TableName: table, Key: key, ConsistentRead: true}, &out); err != nil {
		return nil, err
	}
	return out.Item, nil
}
