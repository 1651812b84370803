package chatrequest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/smithy-go"
)

// DynamoDBAPI is how the store calls DynamoDB: an *awsapi.Client of
// "dynamodb" (its JSON 1.0 protocol).
type DynamoDBAPI interface {
	JSON(ctx context.Context, target string, in, out any) error
}

// The table is the change record's (template.yaml, ChangeTable; see
// pkg/record): partition key "pk" (S), sort key "sk" (S), TTL attribute
// "expires" (N, epoch seconds). A request is one item: pk requestKey(id),
// sk requestSortKey, without "assignment", so that it stays out of the
// byAssignment index (the change history). Its attributes:
//
//   - "request": the request's JSON, what Get returns;
//   - "state": its State, which Decide's condition reads;
//   - "expires": Expires in epoch seconds, DynamoDB's TTL and Decide's
//     condition (a request past it is expired before DynamoDB deletes it,
//     which can take days);
//   - "created": Created in Unix nanoseconds, so that Decide writes over
//     the request it read and no other under the same id;
//   - "writer": a random token of the Create or Decide call that wrote
//     it, so that a call whose put took effect but whose answer was lost
//     (awsapi sends it again, and the condition is then false) knows its
//     own write.
//
// Only GetItem and PutItem are used: the functions' IAM on the table
// (GetItem, PutItem, Query) needs nothing more.
const (
	attrPK      = "pk"
	attrSK      = "sk"
	attrExpires = "expires"
	attrRequest = "request"
	attrState   = "state"
	attrCreated = "created"
	attrWriter  = "writer"

	requestSortKey = "chatrequest"
)

// requestKey is the partition key of the request id (canonical). keyPart
// is pkg/record's escaping of '%' and '#', a no-op on a valid id, kept so
// that the key stays unambiguous whatever ids become.
func requestKey(id string) string { return "chatrequest#" + keyPart(id) }

var keyPart = strings.NewReplacer("%", "%25", "#", "%23").Replace

// attr is a DynamoDB attribute value on the wire: {"S": ...} or {"N": ...}.
type attr map[string]string

// item is a DynamoDB item on the wire.
type item map[string]attr

// request is the members of PutItem and GetItem the store sets.
type request struct {
	TableName                 string            `json:"TableName"`
	Item                      item              `json:"Item,omitempty"`
	Key                       item              `json:"Key,omitempty"`
	ConsistentRead            bool              `json:"ConsistentRead,omitempty"`
	ConditionExpression       string            `json:"ConditionExpression,omitempty"`
	ExpressionAttributeNames  map[string]string `json:"ExpressionAttributeNames,omitempty"`
	ExpressionAttributeValues item              `json:"ExpressionAttributeValues,omitempty"`
}

const target = "DynamoDB_20120810."

func s(v string) attr { return attr{"S": v} }
func n(v int64) attr  { return attr{"N": strconv.FormatInt(v, 10)} }

// conditionFailed reports whether err is DynamoDB's refusal of a condition.
func conditionFailed(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "ConditionalCheckFailedException"
}

// DynamoDB is the store for Lambda: one table shared by every instance.
type DynamoDB struct {
	client DynamoDBAPI
	table  string
	o      Options
}

var _ Store = (*DynamoDB)(nil)

// NewDynamoDB returns a store on table (the change table); o may be nil
// (MaxRequests does not apply).
func NewDynamoDB(client DynamoDBAPI, table string, o *Options) *DynamoDB {
	return &DynamoDB{client: client, table: table, o: o.withDefaults()}
}

// itemOf is the item of r, whose JSON is data.
func itemOf(r *Request, data []byte, writer string) item {
	return item{
		attrPK: s(requestKey(r.ID)), attrSK: s(requestSortKey),
		attrRequest: s(string(data)), attrState: s(r.State),
		attrExpires: n(r.Expires.Unix()), attrCreated: n(r.Created.UnixNano()),
		attrWriter: s(writer),
	}
}

// Create implements Store: a PutItem on the condition that the id has no
// item, expired or not.
func (d *DynamoDB) Create(ctx context.Context, r *Request) error {
	data, err := prepare(r, d.o.Now(), d.o.TTL)
	if err != nil {
		return err
	}
	token := newToken()
	err = d.client.JSON(ctx, target+"PutItem", request{
		TableName:                d.table,
		Item:                     itemOf(r, data, token),
		ConditionExpression:      "attribute_not_exists(#pk)",
		ExpressionAttributeNames: map[string]string{"#pk": attrPK},
	}, nil)
	if conditionFailed(err) {
		// Taken, perhaps by this very put, whose answer was lost.
		it, gerr := d.getItem(ctx, r.ID)
		if gerr == nil && it != nil && it[attrWriter]["S"] == token {
			return nil
		}
		return fmt.Errorf("%w: %s", ErrExists, r.ID)
	}
	if err != nil {
		return fmt.Errorf("chatrequest: put %s: %w", d.table, err)
	}
	return nil
}

// getItem reads the item of the (canonical) id, strongly consistent; nil
// when there is none.
func (d *DynamoDB) getItem(ctx context.Context, id string) (item, error) {
	var out struct {
		Item item `json:"Item"`
	}
	err := d.client.JSON(ctx, target+"GetItem", request{TableName: d.table,
		Key: item{attrPK: s(requestKey(id)), attrSK: s(requestSortKey)}, ConsistentRead: true}, &out)
	if err != nil {
		return nil, fmt.Errorf("chatrequest: get %s: %w", d.table, err)
	}
	return out.Item, nil
}

// Get implements Store.
func (d *DynamoDB) Get(ctx context.Context, id string) (*Request, error) {
	id, err := canonicalID(id)
	if err != nil {
		return nil, err
	}
	it, err := d.getItem(ctx, id)
	if err != nil {
		return nil, err
	}
	if it == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	r, err := decode([]byte(it[attrRequest]["S"]))
	if err != nil {
		return nil, err
	}
	if r.Expired(d.o.Now()) {
		return r, fmt.Errorf("%w: %s", ErrExpired, id)
	}
	return r, nil
}

// Decide implements Store: it reads the request, and writes it decided
// with a PutItem on the condition that the item is still pending, not
// expired and the one it read; DynamoDB applies one such put, and every
// other finds the condition false, reads again and says why.
func (d *DynamoDB) Decide(ctx context.Context, id, to, by, byName string) (*Request, error) {
	id, err := canonicalID(id)
	if err != nil {
		return nil, err
	}
	if err := checkDecision(to, by); err != nil {
		return nil, err
	}
	token := newToken()
	for attempt := 0; attempt < 3; attempt++ {
		now := d.o.Now()
		it, err := d.getItem(ctx, id)
		if err != nil {
			return nil, err
		}
		if it == nil {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		r, err := decode([]byte(it[attrRequest]["S"]))
		if err != nil {
			return nil, err
		}
		if r.State != StatePending && it[attrWriter]["S"] == token {
			// This call's own put: it took effect, but its answer was
			// lost and the put sent again found the condition false.
			return r, nil
		}
		dec, err := decide(r, now, to, by, byName)
		if err != nil {
			return dec, err
		}
		data, err := encode(dec)
		if err != nil {
			return nil, err
		}
		err = d.client.JSON(ctx, target+"PutItem", request{
			TableName:           d.table,
			Item:                itemOf(dec, data, token),
			ConditionExpression: "#state = :pending AND #exp > :now AND #created = :created",
			ExpressionAttributeNames: map[string]string{
				"#state": attrState, "#exp": attrExpires, "#created": attrCreated,
			},
			ExpressionAttributeValues: item{
				":pending": s(StatePending), ":now": n(now.Unix()), ":created": it[attrCreated],
			},
		}, nil)
		if err == nil {
			return dec, nil
		}
		if !conditionFailed(err) {
			return nil, fmt.Errorf("chatrequest: put %s: %w", d.table, err)
		}
		// Decided or expired since the read (or decided by this call, its
		// answer lost): the next read says which.
	}
	return nil, fmt.Errorf("chatrequest: %s: the request kept changing", id)
}

// Reopen puts a request by approved back to pending (Store), on the
// condition that nothing wrote the item since it was read.
func (d *DynamoDB) Reopen(ctx context.Context, id, by string) (*Request, error) {
	id, err := canonicalID(id)
	if err != nil {
		return nil, err
	}
	it, err := d.getItem(ctx, id)
	if err != nil {
		return nil, err
	}
	if it == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	r, err := decode([]byte(it[attrRequest]["S"]))
	if err != nil {
		return nil, err
	}
	o, err := reopen(r, by)
	if err != nil {
		return o, err
	}
	data, err := encode(o)
	if err != nil {
		return nil, err
	}
	err = d.client.JSON(ctx, target+"PutItem", request{
		TableName:                 d.table,
		Item:                      itemOf(o, data, newToken()),
		ConditionExpression:       "#state = :approved AND #writer = :writer",
		ExpressionAttributeNames:  map[string]string{"#state": attrState, "#writer": attrWriter},
		ExpressionAttributeValues: item{":approved": s(StateApproved), ":writer": it[attrWriter]},
	}, nil)
	if conditionFailed(err) {
		return r, fmt.Errorf("%w: %s", ErrDecided, id)
	}
	if err != nil {
		return nil, fmt.Errorf("chatrequest: put %s: %w", d.table, err)
	}
	return o, nil
}

// newToken is a random token of one Decide call.
func newToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
