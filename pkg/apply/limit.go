package apply

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/limiter"
)

// Limiter is what the pipeline needs to pace Graph writes.
type Limiter interface {
	// Wait takes one write slot; a *limiter.BudgetError when none frees up
	// before ctx's deadline. done is called once the write is answered.
	Wait(ctx context.Context) (done func(), err error)
}

// waitForWriteSlot waits for the limiter; when the slot would come too late
// the caller is told to retry (503 with Retry-After), nothing is applied.
// done is called once Graph has answered the write.
func (p *Pipeline) waitForWriteSlot(ctx context.Context) (done func(), err error) {
	if p.opts.Update.Limiter == nil {
		return func() {}, nil
	}
	ctx, cancel := p.Outbound(ctx)
	defer cancel()
	done, err = p.opts.Update.Limiter.Wait(ctx)
	var be *limiter.BudgetError
	switch {
	case err == nil:
		return done, nil
	case errors.As(err, &be):
		return nil, &change.Error{Code: change.CodeUnavailable, Kind: change.KindWriteLimit, RetryAfter: be.RetryAfter,
			Message: "Intune's write limit is reached for now; nothing was applied, retry after Retry-After", Err: change.ErrNothingSent}
	default:
		return nil, &change.Error{Code: change.CodeTimeout, RetryAfter: 5 * time.Second,
			Message: "no write slot before the deadline; nothing was applied", Err: fmt.Errorf("%w: %w", change.ErrNothingSent, err)}
	}
}
