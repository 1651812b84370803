package config

import (
	"net/url"
	"slices"
	"strings"

	"github.com/enrollhook/enrollhook/pkg/sender"
)

// Asynchronous apply settings.
const (
	// EnvQueueURL is the SQS queue that takes changes to the worker
	// (functions/worker), or "local" for the in-process queue of one
	// long-running process (`make run`; refused on Lambda). Unset: every
	// change is applied in the request.
	EnvQueueURL = "ENROLLHOOK_QUEUE_URL"
	// EnvAsyncSources names the senders whose approved changes are queued
	// and answered at once (202; chat senders an "accepted" message):
	// comma-separated source names, or "none". Default with a queue: the
	// senders the registry marks Async (sender.AsyncNames: slack,teams,
	// whose deadline, 3 s and 5 s, a throttled Graph call can miss).
	EnvAsyncSources = "ENROLLHOOK_ASYNC_SOURCES"
	// EnvDeadLetterURL is where the worker sends a message that failed for
	// good (a permanent failure, or a retryable one on its last receive),
	// with its reason as message attributes: the SQS dead-letter queue
	// (template.yaml sets it on the worker only), or "local" for the
	// in-process queue's dead-letter list (the default with
	// ENROLLHOOK_QUEUE_URL=local). Unset: such a message reaches the
	// dead-letter queue by SQS's redrive only, without its reason, and a
	// permanent failure is logged and dropped.
	EnvDeadLetterURL = "ENROLLHOOK_DEAD_LETTER_URL"
)

// QueueLocal is the EnvQueueURL value of the in-process queue.
const QueueLocal = "local"

var queueKeys = []string{EnvQueueURL, EnvAsyncSources, EnvDeadLetterURL}

// Queue holds the asynchronous apply settings.
type Queue struct {
	// URL is the SQS queue URL; empty with Local or without a queue.
	URL string
	// Local selects the in-process queue.
	Local bool
	// Async are the senders whose changes are queued; empty without a
	// queue.
	Async []string
	// DeadLetterURL is the SQS dead-letter queue the worker sends failed
	// messages to; empty with DeadLetterLocal or without one.
	DeadLetterURL string
	// DeadLetterLocal selects the in-process queue's dead-letter list.
	DeadLetterLocal bool
}

// Enabled reports whether changes of some sender are queued.
func (q Queue) Enabled() bool { return (q.URL != "" || q.Local) && len(q.Async) > 0 }

// sqsPath is /<account id>/<queue name> (a FIFO queue ends in .fifo).
var sqsPath = lazyRegexp(`^/[0-9]{12}/[A-Za-z0-9_-]{1,80}(\.fifo)?$`)

func loadQueue(get func(string) string, c *Config, bad func(string, ...any)) {
	var q Queue
	switch v := strings.TrimSpace(get(EnvQueueURL)); {
	case v == "":
	case v == QueueLocal:
		q.Local = true
	case !sqsURL(v):
		bad("%s must be an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>) or %q", EnvQueueURL, QueueLocal)
	default:
		q.URL = v
	}
	switch v := strings.TrimSpace(get(EnvDeadLetterURL)); {
	case v == "" && q.Local, v == QueueLocal && q.Local:
		q.DeadLetterLocal = true
	case v == "":
	case v == QueueLocal:
		bad("%s=%q is the in-process queue's dead-letter list, which exists only with %s=%q", EnvDeadLetterURL, QueueLocal, EnvQueueURL, QueueLocal)
	case !sqsURL(v):
		bad("%s must be an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>) or %q", EnvDeadLetterURL, QueueLocal)
	case v == q.URL:
		bad("%s must not be the queue of %s: a failed message would come straight back", EnvDeadLetterURL, EnvQueueURL)
	default:
		q.DeadLetterURL = v
	}
	raw := strings.TrimSpace(get(EnvAsyncSources))
	switch {
	case raw == "" && (q.URL != "" || q.Local):
		q.Async = sender.AsyncNames()
	case raw == "" || strings.EqualFold(raw, "none"):
	case q.URL == "" && !q.Local:
		bad("%s is set but %s is not: queued changes need a queue", EnvAsyncSources, EnvQueueURL)
	default:
		for _, s := range strings.Split(raw, ",") {
			s = strings.ToLower(strings.TrimSpace(s))
			if _, ok := sender.Lookup(s); !ok {
				bad("%s: %q is not a source (%s), nor none", EnvAsyncSources, s, strings.Join(sender.Names(), ", "))
				continue
			}
			if !slices.Contains(q.Async, s) {
				q.Async = append(q.Async, s)
			}
		}
	}
	c.Queue = q
}

// sqsURL reports whether v is an SQS queue URL: https on an AWS host, or
// plain http on a loopback host (tests, local emulators).
func sqsURL(v string) bool {
	u, err := url.Parse(v)
	if err != nil {
		return false
	}
	host := u.Hostname()
	return u.User == nil && u.RawQuery == "" && u.Fragment == "" && sqsPath().MatchString(u.Path) &&
		(u.Scheme == "https" && (strings.HasSuffix(host, ".amazonaws.com") || strings.HasSuffix(host, ".amazonaws.com.cn")) ||
			u.Scheme == "http" && Loopback(host))
}
