package source

import (
	"errors"
	"strings"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
)

// WindowEnd is one end of a change window as a sender carries it: its
// text, its JSON pointer (for a refusal) and the name the other end's
// refusal calls it by.
type WindowEnd struct {
	Value, At, Name string
}

// Window reads a ticket's change window from a sender's start and end:
// nil when both are empty; otherwise both must be a date and time, RFC
// 3339 as change.ParseTime reads it (T and Z in either case) or the
// sender's own layout (read after it), else the refusal names the field,
// with reason for one that does not read (change.ReasonLeapSecond for a
// leap second). The window is
// written in RFC 3339, in UTC, with the sender's fractional seconds
// (change.Window).
func Window(start, end WindowEnd, layout, reason string) (*change.Window, []change.FieldError) {
	start.Value, end.Value = strings.TrimSpace(start.Value), strings.TrimSpace(end.Value)
	if start.Value == "" && end.Value == "" {
		return nil, nil
	}
	var fields []change.FieldError
	read := func(e, other WindowEnd) string {
		if e.Value == "" {
			fields = append(fields, change.FieldError{Field: e.At, Reason: "is required with " + other.Name + ": a change window has a start and an end"})
			return ""
		}
		t, err := change.ParseTime(e.Value)
		if errors.Is(err, change.ErrLeapSecond) {
			fields = append(fields, change.FieldError{Field: e.At, Reason: change.ReasonLeapSecond})
			return ""
		}
		if err != nil {
			t, err = time.Parse(layout, e.Value)
		}
		if err != nil {
			fields = append(fields, change.FieldError{Field: e.At, Reason: reason})
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano) // to the sender's precision
	}
	w := &change.Window{Start: read(start, end), End: read(end, start)}
	if len(fields) > 0 {
		return nil, fields
	}
	return w, nil
}
