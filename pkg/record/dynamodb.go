package record

import (
	"context"
	"fmt"

	"github.com/enrollhook/enrollhook/pkg/awsapi"
)

// DynamoDBAPI is how the store calls DynamoDB: an *awsapi.Client of
// "dynamodb" (its JSON 1.0 protocol).
type DynamoDBAPI = awsapi.DynamoDBAPI

// The table (template.yaml, ChangeTable): partition key "pk" (S), sort key
// "sk" (S), TTL attribute "expires" (N, epoch seconds), and the global
// secondary index IndexAssignment on ("assignment", "sk"), projecting every
// attribute. Each record is two items:
//
//   - the ticket item, pk ticketKey(sender, ticket id), sk sortKey (time,
//     then id), with "assignment" set: ByTicket is a strongly consistent
//     Query of the base table, ByAssignment a Query of the index;
//   - the id item, pk idKey(id), sk "record", without "assignment" (the
//     index is sparse): the claim on the id that makes Put idempotent, and
//     what Get reads, strongly consistent.
//
// Both hold the record's JSON in "record". Put writes the id item first,
// on the condition that no live record holds the id; then the ticket item.
// A Put that stopped between the two is completed by the next Put of the
// same id, whichever record it carries.
const (
	attrPK         = "pk"
	attrSK         = "sk"
	attrAssignment = "assignment"
	attrRecord     = "record"
	attrExpires    = "expires"

	// IndexAssignment is the name of the global secondary index.
	IndexAssignment = "byAssignment"

	idSortKey = "record"
)

// queryPage is the Limit of each Query: a page of items of at most MaxSize
// of JSON each, escaped again on the wire (at worst about three times),
// stays under the 1 MiB awsapi reads of an answer.
const queryPage = 4

// DynamoDB is the store for Lambda: one table shared by every instance.
type DynamoDB struct {
	client DynamoDBAPI
	table  string
	o      Options
}

var _ Store = (*DynamoDB)(nil)

// NewDynamoDB returns a store on table; o may be nil (MaxRecords does not
// apply).
func NewDynamoDB(client DynamoDBAPI, table string, o *Options) *DynamoDB {
	return &DynamoDB{client: client, table: table, o: o.withDefaults()}
}

// Put implements Store.
func (d *DynamoDB) Put(ctx context.Context, r *Record) error {
	now := d.o.Now()
	data, err := prepare(r, now)
	if err != nil {
		return err
	}
	exp := expiresAt(now, d.o.Retention)
	for attempt := 0; attempt < 3; attempt++ {
		err := d.client.JSON(ctx, awsapi.DynamoDBTarget+"PutItem", awsapi.ItemRequest{
			TableName:                 d.table,
			Item:                      awsapi.Item{attrPK: awsapi.S(idKey(r.ID)), attrSK: awsapi.S(idSortKey), attrRecord: awsapi.S(string(data)), attrExpires: awsapi.N(exp)},
			ConditionExpression:       "attribute_not_exists(#pk) OR #exp <= :now",
			ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#exp": attrExpires},
			ExpressionAttributeValues: awsapi.Item{":now": awsapi.N(now.Unix())},
		}, nil)
		if err == nil {
			return d.putTicketItem(ctx, r, data, exp)
		}
		if !awsapi.ConditionFailed(err) {
			return fmt.Errorf("record: put %s: %w", d.table, err)
		}
		// The id is taken: by this record (a retry, or a Put whose answer
		// was lost) or by another.
		stored, err := d.getItem(ctx, r.ID)
		if err != nil {
			return err
		}
		if stored == nil || expired(awsapi.Num(stored[attrExpires]), now) {
			continue // gone or expired since the put: claim it again
		}
		sdata := []byte(awsapi.Str(stored[attrRecord]))
		sr, err := decode(sdata)
		if err != nil {
			return err
		}
		// Complete the stored record's ticket item, in case the Put that
		// stored it stopped before writing it.
		if err := d.putTicketItem(ctx, &sr, sdata, awsapi.Num(stored[attrExpires])); err != nil {
			return err
		}
		if string(sdata) != string(data) {
			return ErrConflict
		}
		return nil
	}
	return fmt.Errorf("record: %s: the record kept changing", d.table)
}

// putTicketItem writes the ticket item of r, whose JSON is data. It is the
// same item however often it is written.
func (d *DynamoDB) putTicketItem(ctx context.Context, r *Record, data []byte, exp int64) error {
	err := d.client.JSON(ctx, awsapi.DynamoDBTarget+"PutItem", awsapi.ItemRequest{
		TableName: d.table,
		Item: awsapi.Item{
			attrPK: awsapi.S(ticketKey(r.Sender, r.Ticket.ID)), attrSK: awsapi.S(sortKey(r)),
			attrAssignment: awsapi.S(assignmentKey(r.ConfigurationID, r.AssignmentID)),
			attrRecord:     awsapi.S(string(data)), attrExpires: awsapi.N(exp),
		},
	}, nil)
	if err != nil {
		return fmt.Errorf("record: put %s: %w", d.table, err)
	}
	return nil
}

// getItem reads the id item of id, strongly consistent; nil when there is
// none.
func (d *DynamoDB) getItem(ctx context.Context, id string) (awsapi.Item, error) {
	it, err := awsapi.GetItem(ctx, d.client, d.table, awsapi.Item{attrPK: awsapi.S(idKey(id)), attrSK: awsapi.S(idSortKey)})
	if err != nil {
		return nil, fmt.Errorf("record: get %s: %w", d.table, err)
	}
	return it, nil
}

// Get implements Store.
func (d *DynamoDB) Get(ctx context.Context, id string) (*Record, error) {
	if err := checkID("id", id); err != nil {
		return nil, err
	}
	it, err := d.getItem(ctx, id)
	if err != nil {
		return nil, err
	}
	if it == nil || expired(awsapi.Num(it[attrExpires]), d.o.Now()) {
		return nil, &NotFoundError{ID: id}
	}
	r, err := decode([]byte(awsapi.Str(it[attrRecord])))
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// ByTicket implements Store: a strongly consistent Query of the base table,
// oldest first.
func (d *DynamoDB) ByTicket(ctx context.Context, sender, ticketID string) ([]Record, error) {
	if err := checkLookup("sender", sender, "ticket id", ticketID); err != nil {
		return nil, err
	}
	forward := true
	q := awsapi.ItemRequest{TableName: d.table, ConsistentRead: true, KeyConditionExpression: "#pk = :pk",
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK},
		ExpressionAttributeValues: awsapi.Item{":pk": awsapi.S(ticketKey(sender, ticketID))},
		ScanIndexForward:          &forward}
	out, err := d.query(ctx, q, MaxTicketRecords+1)
	if err != nil {
		return nil, err
	}
	if len(out) > MaxTicketRecords {
		return nil, fmt.Errorf("record: the ticket has more than %d records", MaxTicketRecords)
	}
	return out, nil
}

// ByAssignment implements Store: a Query of the index, latest first. An
// index is eventually consistent: a record stored a moment ago may not be
// in the history yet.
func (d *DynamoDB) ByAssignment(ctx context.Context, configurationID, assignmentID string, limit int) ([]Record, error) {
	if err := checkLookup("configuration id", configurationID, "assignment id", assignmentID); err != nil {
		return nil, err
	}
	backward := false
	q := awsapi.ItemRequest{TableName: d.table, IndexName: IndexAssignment, KeyConditionExpression: "#a = :a",
		ExpressionAttributeNames:  map[string]string{"#a": attrAssignment},
		ExpressionAttributeValues: awsapi.Item{":a": awsapi.S(assignmentKey(configurationID, assignmentID))},
		ScanIndexForward:          &backward}
	return d.query(ctx, q, historyLimit(limit))
}

// query pages through q until it has max live records or no more pages;
// records past their retention (TTL deletes them late) are left out.
func (d *DynamoDB) query(ctx context.Context, q awsapi.ItemRequest, max int) ([]Record, error) {
	now := d.o.Now()
	var out []Record
	for {
		q.Limit = queryPage
		var page struct {
			Items            []awsapi.Item `json:"Items"`
			LastEvaluatedKey awsapi.Item   `json:"LastEvaluatedKey"`
		}
		if err := d.client.JSON(ctx, awsapi.DynamoDBTarget+"Query", q, &page); err != nil {
			return nil, fmt.Errorf("record: query %s: %w", d.table, err)
		}
		for _, it := range page.Items {
			if expired(awsapi.Num(it[attrExpires]), now) {
				continue
			}
			r, err := decode([]byte(awsapi.Str(it[attrRecord])))
			if err != nil {
				return nil, err
			}
			out = append(out, r)
			if len(out) == max {
				return out, nil
			}
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		q.ExclusiveStartKey = page.LastEvaluatedKey
	}
}
