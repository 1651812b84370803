package change

import (
	"time"
)

// Window is a ticket's approved change window (ticket.window of the
// envelope; the planned start and end of a ServiceNow change request, two
// date fields of a Jira issue): RFC 3339 times, as sent. Validation holds
// both to RFC 3339 and the end after the start; Bounds reads them.
type Window struct {
	Start string `json:"start" validate:"required,max=64,datetime=2006-01-02T15:04:05Z07:00"`
	End   string `json:"end" validate:"required,max=64,datetime=2006-01-02T15:04:05Z07:00"`
}

// Bounds returns the window's start and end; ok is false when either is
// not an RFC 3339 time or the end is not after the start (validation
// refuses such a window with 422 before any check reads it).
func (w *Window) Bounds() (start, end time.Time, ok bool) {
	if w == nil {
		return time.Time{}, time.Time{}, false
	}
	start, err1 := time.Parse(time.RFC3339, w.Start)
	end, err2 := time.Parse(time.RFC3339, w.End)
	if err1 != nil || err2 != nil || !end.After(start) {
		return time.Time{}, time.Time{}, false
	}
	return start, end, true
}

// Check returns nil when now is inside the window (its start included, its
// end not), else the OutsideWindow refusal and, when the window has not
// opened yet, how long until it does. A window that does not read (Bounds)
// is refused too: validation refuses it with 422 before, so one here
// skipped validation (a forged queue message) and is not taken as open.
func (w *Window) Check(now time.Time) (opensIn time.Duration, err error) {
	start, end, ok := w.Bounds()
	switch {
	case !ok:
		return 0, Refuse(KindOutsideWindow, "the change window is not two RFC 3339 times with the end after the start; nothing was changed")
	case now.Before(start):
		return start.Sub(now), OutsideWindow(start, end, now)
	case !now.Before(end):
		return 0, OutsideWindow(start, end, now)
	}
	return 0, nil
}

// OutsideWindow is the refusal of a change whose window is not open at
// now: 403 outside-change-window, naming the window and the time now (in
// UTC, to the second). opensIn is how long until the window opens (zero
// when it has closed).
func OutsideWindow(start, end, now time.Time) *Error {
	const layout = "2006-01-02T15:04:05Z07:00"
	s, e, n := start.UTC().Format(layout), end.UTC().Format(layout), now.UTC().Format(layout)
	msg := "the change window " + s + " to " + e + " has closed; it is now " + n + "; nothing was changed"
	if now.Before(start) {
		msg = "the change window " + s + " to " + e + " has not opened yet; it is now " + n + "; nothing was changed"
	}
	return Refuse(KindOutsideWindow, msg)
}
