package slack

import (
	"context"
	"net/http"
	"time"

	"github.com/enrollhook/enrollhook/pkg/chat"
)

// Poster posts replies to a command's response_url: the half of the Slack
// sender that needs no signing secret, for the worker that applies queued
// commands. It cannot authenticate anything.
type Poster struct{ s *Source }

// NewPoster returns a Poster. Of opts it uses ResponseType, Client and
// AllowLoopbackResponseURL, with New's defaults.
func NewPoster(opts *Options) *Poster {
	s := &Source{}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.ResponseType != "in_channel" {
		s.opts.ResponseType = "ephemeral"
	}
	if s.opts.Client == nil {
		s.opts.Client = &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	return &Poster{s: s}
}

// FollowUp posts r to inv's response_url, as Source.FollowUp does.
func (p *Poster) FollowUp(ctx context.Context, inv *chat.Invocation, r *chat.Reply) error {
	return p.s.FollowUp(ctx, inv, r)
}
