package chatrequest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/enrollhook/enrollhook/pkg/awsapi"
)

// DynamoDBAPI is how the store calls DynamoDB: an *awsapi.Client of
// "dynamodb" (its JSON 1.0 protocol).
type DynamoDBAPI = awsapi.DynamoDBAPI

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
func itemOf(r *Request, data []byte, writer string) awsapi.Item {
	return awsapi.Item{
		attrPK: awsapi.S(requestKey(r.ID)), attrSK: awsapi.S(requestSortKey),
		attrRequest: awsapi.S(string(data)), attrState: awsapi.S(r.State),
		attrExpires: awsapi.N(r.Expires.Unix()), attrCreated: awsapi.N(r.Created.UnixNano()),
		attrWriter: awsapi.S(writer),
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
	err = d.client.JSON(ctx, awsapi.DynamoDBTarget+"PutItem", awsapi.ItemRequest{
		TableName:                d.table,
		Item:                     itemOf(r, data, token),
		ConditionExpression:      "attribute_not_exists(#pk)",
		ExpressionAttributeNames: map[string]string{"#pk": attrPK},
	}, nil)
	if awsapi.ConditionFailed(err) {
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
func (d *DynamoDB) getItem(ctx context.Context, id string) (awsapi.Item, error) {
	it, err := awsapi.GetItem(ctx, d.client, d.table, awsapi.Item{attrPK: awsapi.S(requestKey(id)), attrSK: awsapi.S(requestSortKey)})
	if err != nil {
		return nil, fmt.Errorf("chatrequest: get %s: %w", d.table, err)
	}
	return it, nil
}

// read reads the request of the (canonical) id and its item: ErrNotFound
// when there is none.
func (d *DynamoDB) read(ctx context.Context, id string) (awsapi.Item, *Request, error) {
	it, err := d.getItem(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if it == nil {
		return nil, nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	r, err := decode([]byte(it[attrRequest]["S"]))
	if err != nil {
		return nil, nil, err
	}
	return it, r, nil
}

// Get implements Store.
func (d *DynamoDB) Get(ctx context.Context, id string) (*Request, error) {
	id, err := canonicalID(id)
	if err != nil {
		return nil, err
	}
	_, r, err := d.read(ctx, id)
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
		it, r, err := d.read(ctx, id)
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
		err = d.client.JSON(ctx, awsapi.DynamoDBTarget+"PutItem", awsapi.ItemRequest{
			TableName:           d.table,
			Item:                itemOf(dec, data, token),
			ConditionExpression: "#state = :pending AND #exp > :now AND #created = :created",
			ExpressionAttributeNames: map[string]string{
				"#state": attrState, "#exp": attrExpires, "#created": attrCreated,
			},
			ExpressionAttributeValues: awsapi.Item{
				":pending": awsapi.S(StatePending), ":now": awsapi.N(now.Unix()), ":created": it[attrCreated],
			},
		}, nil)
		if err == nil {
			return dec, nil
		}
		if !awsapi.ConditionFailed(err) {
			return nil, fmt.Errorf("chatrequest: put %s: %w", d.table, err)
		}
		// Decided or expired since the read (or decided by this call, its
		// answer lost): the next read says which.
	}
	return nil, fmt.Errorf("chatrequest: %s: the request kept changing", id)
}

// Reopen puts a request by approved back to pending (Store), on the
// condition that nothing wrote the item since it was read.
func (d *DynamoDB) Reopen(ctx context.Context, id, by string, decided, attempted time.Time, recordID string) (*Request, error) {
	return d.rewrite(ctx, id, func(r *Request) (*Request, error) { return reopen(r, by, decided, attempted, recordID) })
}

// Finish marks an approval finished (Store), on the same condition.
func (d *DynamoDB) Finish(ctx context.Context, id, by string, decided time.Time) (*Request, error) {
	now := d.o.Now()
	return d.rewrite(ctx, id, func(r *Request) (*Request, error) { return finish(r, by, decided, now) })
}

// Retake puts an approval that never finished back to pending (Store), on
// the same condition.
func (d *DynamoDB) Retake(ctx context.Context, id, by string, decided time.Time) (*Request, error) {
	now := d.o.Now()
	return d.rewrite(ctx, id, func(r *Request) (*Request, error) { return retake(r, by, decided, now) })
}

// rewrite puts change's answer for the approved request with id, on the
// condition that it is still approved and nothing wrote the item since it
// was read; a put whose answer was lost is read back as this call's.
func (d *DynamoDB) rewrite(ctx context.Context, id string, change func(*Request) (*Request, error)) (*Request, error) {
	id, err := canonicalID(id)
	if err != nil {
		return nil, err
	}
	it, r, err := d.read(ctx, id)
	if err != nil {
		return nil, err
	}
	o, err := change(r)
	if err != nil {
		return o, err
	}
	data, err := encode(o)
	if err != nil {
		return nil, err
	}
	token := newToken()
	err = d.client.JSON(ctx, awsapi.DynamoDBTarget+"PutItem", awsapi.ItemRequest{
		TableName:                 d.table,
		Item:                      itemOf(o, data, token),
		ConditionExpression:       "#state = :approved AND #writer = :writer",
		ExpressionAttributeNames:  map[string]string{"#state": attrState, "#writer": attrWriter},
		ExpressionAttributeValues: awsapi.Item{":approved": awsapi.S(StateApproved), ":writer": it[attrWriter]},
	}, nil)
	if awsapi.ConditionFailed(err) {
		// This call's own put, its answer lost and sent again by the
		// client, finds the condition false: read back whose it is.
		if now, back, rerr := d.read(ctx, id); rerr == nil && back.State == o.State && now[attrWriter]["S"] == token {
			return back, nil
		}
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
