package queue

import (
	"context"
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
			fail = h(ctx, Delivery{ID: r.MessageId, Body: []byte(r.Body), ReceiveCount: n}) != nil
		}
		if fail {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
		}
	}
	return resp
}
