package queue

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
)

// HandleSQS runs h on each record of an SQS event, one after the other, and
// reports the records to receive again (partial batch failures; the event
// source mapping needs FunctionResponseTypes: [ReportBatchItemFailures]).
// Once ctx has ended, the remaining records are reported without being
// tried, so none is lost to the invoke's deadline.
func HandleSQS(ctx context.Context, ev events.SQSEvent, h Handler) events.SQSEventResponse {
	var resp events.SQSEventResponse
	for _, r := range ev.Records {
		fail := ctx.Err() != nil
		if !fail {
			n, _ := strconv.Atoi(r.Attributes["ApproximateReceiveCount"])
			fail = handleOne(ctx, h, Delivery{ID: r.MessageId, Body: []byte(r.Body), ReceiveCount: n})
		}
		if fail {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
		}
	}
	return resp
}

// handleOne runs h for d and reports whether d failed. A panic (a bug)
// fails d alone, logged with its message id, so that the other messages of
// the batch are still applied and the queue's redrive moves d in the end.
func handleOne(ctx context.Context, h Handler, d Delivery) (failed bool) {
	defer func() {
		if r := recover(); r != nil {
			slog.ErrorContext(ctx, "worker: a message's processing panicked; it comes back, and goes to the dead-letter queue by the redrive",
				slog.String("messageId", d.ID), slog.String("panic", fmt.Sprintf("%T", r)))
			failed = true
		}
	}()
	return h(ctx, d) != nil
}
