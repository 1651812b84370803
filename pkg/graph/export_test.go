package graph

import (
	"context"
	"time"
)

// SetSleep replaces the retry wait of c, so tests see the delays without
// waiting them out. Call it before c is used.
func SetSleep(c *Client, f func(ctx context.Context, d time.Duration) error) { c.retry.sleep = f }
