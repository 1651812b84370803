package idempotency

import (
	"context"
	"encoding/json"
	"errors"
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
	attrAttempt         = "attempt"                // an attempt's note (Attempted)
	attrAttemptUntil    = "attempt_expiration"     // epoch milliseconds
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

// Begin implements Store with one conditional UpdateItem, which keeps an
// attempt's note (Attempted) and returns the record as it was, so the note
// comes with the hold; when the condition fails it reads the record back
// (consistently) to say why.
func (d *DynamoDB) Begin(ctx context.Context, key, fingerprint string, inProgressUntil time.Time) (*Lease, error) {
	for attempt := 0; attempt < 3; attempt++ {
		now := d.now()
		l := &Lease{Key: key, Holder: newHolder()}
		var out struct {
			Attributes awsapi.Item `json:"Attributes"`
		}
		err := d.client.JSON(ctx, awsapi.DynamoDBTarget+"UpdateItem", awsapi.ItemRequest{
			TableName:        d.table,
			Key:              awsapi.Item{attrID: awsapi.S(key)},
			UpdateExpression: "SET #status = :inprogress, #fp = :fp, #holder = :holder, #ipe = :ipe, #exp = :exp REMOVE #data",
			// Free, expired, a dead holder's or given up as attempted,
			// and then, while a note lives, only for its own delivery.
			ConditionExpression: "attribute_not_exists(#id) OR ((#exp < :now OR (#status = :inprogress AND #ipe < :nowms) OR #status = :attempted)" +
				" AND (attribute_not_exists(#note) OR #noteUntil < :nowms OR #fp = :fp))",
			ExpressionAttributeNames: map[string]string{
				"#id": attrID, "#exp": attrExpiration, "#status": attrStatus, "#ipe": attrInProgressUntil,
				"#fp": attrFingerprint, "#holder": attrHolder, "#data": attrData, "#note": attrAttempt, "#noteUntil": attrAttemptUntil,
			},
			ExpressionAttributeValues: awsapi.Item{
				":now": awsapi.N(now.Unix()), ":nowms": awsapi.N(now.UnixMilli()), ":inprogress": awsapi.S(StatusInProgress),
				":attempted": awsapi.S(StatusAttempted), ":fp": awsapi.S(fingerprint), ":holder": awsapi.S(l.Holder),
				":ipe": awsapi.N(inProgressUntil.UnixMilli()), ":exp": awsapi.N(inProgressUntil.Unix() + 1),
			},
			ReturnValues: "ALL_OLD",
		}, &out)
		if err == nil {
			d.takeNote(ctx, l, out.Attributes, fingerprint, now)
			return l, nil
		}
		if !awsapi.ConditionFailed(err) {
			return nil, fmt.Errorf("idempotency: update %s: %w", d.table, err)
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
		case StatusAttempted:
			continue // given up between the two calls: take it on the next update
		default:
			if awsapi.Str(stored[attrHolder]) == l.Holder {
				// Our own update: it succeeded, but its answer was lost
				// and the client's retry met the record it had written,
				// with the note it kept.
				d.takeNote(ctx, l, stored, fingerprint, now)
				return l, nil
			}
			until := time.UnixMilli(awsapi.Num(stored[attrInProgressUntil]))
			if !now.Before(until) {
				continue // expired just now: take it over on the next update
			}
			return nil, &InProgressError{RetryAfter: retryAfter(until, now)}
		}
	}
	return nil, fmt.Errorf("idempotency: %s: the record kept changing", key)
}

// takeNote gives l the note of the record as it was before l took it, when
// it is an attempt of the same delivery and has not expired, and keeps the
// record (whose expiry the hold just set to its own) until the note
// expires: a holder that dies must not leave the note to TTL deletion. That
// second write is tried up to three times; its failure is only a shorter
// life for the record (TTL deletes it, note and all, no earlier than the
// hold's end), and the hold is taken either way.
func (d *DynamoDB) takeNote(ctx context.Context, l *Lease, old awsapi.Item, fingerprint string, now time.Time) {
	note, until := old[attrAttempt], time.UnixMilli(awsapi.Num(old[attrAttemptUntil]))
	if note == nil || awsapi.Str(old[attrFingerprint]) != fingerprint || !now.Before(until) {
		return
	}
	l.Attempt, l.attemptUntil = []byte(awsapi.Str(note)), until
	for range 3 {
		err := d.client.JSON(ctx, awsapi.DynamoDBTarget+"UpdateItem", awsapi.ItemRequest{
			TableName:                 d.table,
			Key:                       awsapi.Item{attrID: awsapi.S(l.Key)},
			UpdateExpression:          "SET #exp = :exp",
			ConditionExpression:       "#holder = :holder AND #status = :inprogress",
			ExpressionAttributeNames:  map[string]string{"#exp": attrExpiration, "#holder": attrHolder, "#status": attrStatus},
			ExpressionAttributeValues: awsapi.Item{":exp": awsapi.N(until.Unix() + 1), ":holder": awsapi.S(l.Holder), ":inprogress": awsapi.S(StatusInProgress)},
		}, nil)
		if err == nil || awsapi.ConditionFailed(err) || ctx.Err() != nil {
			return
		}
	}
}

// Complete implements Store: the record becomes COMPLETED with the answer,
// only while this lease still holds it.
func (d *DynamoDB) Complete(ctx context.Context, l *Lease, resp Response, expires time.Time) error {
	data, err := json.Marshal(resp)
	if err != nil {
		return err
	}
	return d.updateHeld(ctx, l, "complete", "SET #status = :completed, #data = :data, #exp = :exp REMOVE #ipe, #note, #noteUntil",
		map[string]string{"#data": attrData, "#exp": attrExpiration, "#ipe": attrInProgressUntil, "#note": attrAttempt, "#noteUntil": attrAttemptUntil},
		awsapi.Item{":completed": awsapi.S(StatusCompleted), ":data": awsapi.S(string(data)), ":exp": awsapi.N(expires.Unix())},
		// completed by this lease
		func(stored awsapi.Item) bool {
			return awsapi.Str(stored[attrHolder]) == l.Holder && awsapi.Str(stored[attrStatus]) == StatusCompleted
		})
}

// updateHeld runs update on the record only while l holds it (in progress,
// its holder). When that condition fails, the record is read back: a retry
// of an update whose answer was lost meets the record it wrote, which
// landed reports (success); anything else is ErrLost.
func (d *DynamoDB) updateHeld(ctx context.Context, l *Lease, op, update string, names map[string]string, values awsapi.Item, landed func(awsapi.Item) bool) error {
	names["#holder"], names["#status"] = attrHolder, attrStatus
	values[":holder"], values[":inprogress"] = awsapi.S(l.Holder), awsapi.S(StatusInProgress)
	err := d.client.JSON(ctx, awsapi.DynamoDBTarget+"UpdateItem", awsapi.ItemRequest{
		TableName:                 d.table,
		Key:                       awsapi.Item{attrID: awsapi.S(l.Key)},
		UpdateExpression:          update,
		ConditionExpression:       "#holder = :holder AND #status = :inprogress",
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}, nil)
	if awsapi.ConditionFailed(err) {
		if stored, gerr := awsapi.GetItem(ctx, d.client, d.table, awsapi.Item{attrID: awsapi.S(l.Key)}); gerr == nil && stored != nil && landed(stored) {
			return nil
		}
		return ErrLost
	}
	if err != nil {
		return fmt.Errorf("idempotency: %s %s: %w", op, l.Key, err)
	}
	return nil
}

// Release implements Store: the record goes only while this lease holds it;
// a lease with an earlier attempt's note gives it back as Attempted left
// it.
func (d *DynamoDB) Release(ctx context.Context, l *Lease) error {
	if l.Attempt != nil && d.now().Before(l.attemptUntil) {
		err := d.Attempted(ctx, l, l.Attempt, l.attemptUntil)
		if err != nil && !errors.Is(err, ErrLost) {
			return err
		}
		return nil
	}
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

// Note implements Store: the note is set on the record while this lease
// holds it, which is then kept (its TTL attribute) until the note expires.
func (d *DynamoDB) Note(ctx context.Context, l *Lease, note []byte, expires time.Time) error {
	err := d.updateHeld(ctx, l, "note", "SET #note = :note, #noteUntil = :until, #exp = :exp",
		map[string]string{"#note": attrAttempt, "#noteUntil": attrAttemptUntil, "#exp": attrExpiration},
		awsapi.Item{":note": awsapi.S(string(note)), ":until": awsapi.N(expires.UnixMilli()), ":exp": awsapi.N(expires.Unix() + 1)},
		// still held by this lease, with this note
		func(stored awsapi.Item) bool {
			return awsapi.Str(stored[attrHolder]) == l.Holder && awsapi.Str(stored[attrStatus]) == StatusInProgress &&
				awsapi.Str(stored[attrAttempt]) == string(note)
		})
	if err == nil && l.Attempt != nil {
		// A lease that carries an earlier note carries this one now: what
		// its release puts back.
		l.Attempt, l.attemptUntil = append([]byte(nil), note...), expires
	}
	return err
}

// Attempted implements Store: the record becomes ATTEMPTED with the note,
// only while this lease still holds it.
func (d *DynamoDB) Attempted(ctx context.Context, l *Lease, note []byte, expires time.Time) error {
	return d.updateHeld(ctx, l, "attempted", "SET #status = :attempted, #note = :note, #noteUntil = :until, #exp = :exp REMOVE #holder, #ipe",
		map[string]string{"#note": attrAttempt, "#noteUntil": attrAttemptUntil, "#exp": attrExpiration, "#ipe": attrInProgressUntil},
		awsapi.Item{":attempted": awsapi.S(StatusAttempted), ":note": awsapi.S(string(note)), ":until": awsapi.N(expires.UnixMilli()), ":exp": awsapi.N(expires.Unix())},
		// already given up by this lease, with this note
		func(stored awsapi.Item) bool {
			return awsapi.Str(stored[attrStatus]) == StatusAttempted && awsapi.Str(stored[attrAttempt]) == string(note) && awsapi.Str(stored[attrHolder]) == ""
		})
}
