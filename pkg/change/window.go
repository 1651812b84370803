package change

import (
	"errors"
	"time"
)

// Window is a ticket's approved change window (ticket.window of the
// envelope; the planned start and end of a ServiceNow change request, two
// date fields of a Jira issue): RFC 3339 times, as sent. Validation holds
// both to RFC 3339 (ParseTime) and the end after the start; Bounds reads
// them.
type Window struct {
	Start string `json:"start" validate:"required,max=64,rfc3339"`
	End   string `json:"end" validate:"required,max=64,rfc3339"`
}

// The reasons of a window's start or end that is not an RFC 3339 time
// (ParseTime), for every sender that reads one.
const (
	ReasonTime       = "must be a date and time: RFC 3339 with Z or an offset, e.g. 2026-03-02T20:00:00Z or 2026-03-02T21:00:00+01:00"
	ReasonLeapSecond = "is a leap second (:60): RFC 3339 allows one, but the receiver's clock never shows it, so a window cannot start or end on it; use :59 or the next minute's :00"
)

// ErrLeapSecond is ParseTime's error for a time whose seconds are 60.
var ErrLeapSecond = errors.New("change: a leap second (:60)")

var errNotRFC3339 = errors.New("change: not an RFC 3339 date and time")

// ParseTime reads an RFC 3339 date and time (its section 5.6: full-date
// "T" full-time), exactly: the separator T and the Z of UTC in either
// letter case (the section's NOTE: its grammar does not tell the cases
// apart), fractional seconds of any length after a '.', an offset of Z or
// +hh:mm / -hh:mm up to 23:59, every field in its range (the day in its
// month). It refuses what time.Parse would let through besides (a comma
// before the fraction, an offset of +24:00) and, with ErrLeapSecond, a
// leap second: no clock this runs on shows 23:59:60 (leap seconds are
// smeared or stepped over), so a window cannot start or end on one.
func ParseTime(s string) (time.Time, error) {
	// 2006-01-02T15:04:05 then [.fraction] then Z or ±hh:mm.
	const fixed = len("2006-01-02T15:04:05")
	if len(s) < fixed+1 || len(s) > 64 {
		return time.Time{}, errNotRFC3339
	}
	b := []byte(s)
	for i := range fixed {
		switch i {
		case 4, 7:
			if b[i] != '-' {
				return time.Time{}, errNotRFC3339
			}
		case 10:
			if b[i] != 'T' && b[i] != 't' {
				return time.Time{}, errNotRFC3339
			}
			b[i] = 'T'
		case 13, 16:
			if b[i] != ':' {
				return time.Time{}, errNotRFC3339
			}
		default:
			if !isDigit(b[i]) {
				return time.Time{}, errNotRFC3339
			}
		}
	}
	i := fixed
	if b[i] == '.' {
		i++
		start := i
		for i < len(b) && isDigit(b[i]) {
			i++
		}
		if i == start {
			return time.Time{}, errNotRFC3339
		}
	}
	switch rest := b[i:]; {
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
		rest[0] = 'Z'
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && isDigit(rest[1]) && isDigit(rest[2]) && rest[3] == ':' && isDigit(rest[4]) && isDigit(rest[5]):
		if two(rest[1:]) > 23 || two(rest[4:]) > 59 {
			return time.Time{}, errNotRFC3339
		}
	default:
		return time.Time{}, errNotRFC3339
	}
	if two(b[17:]) == 60 {
		// Refused only once the rest is RFC 3339: the hour and minute
		// of a leap second depend on the offset, so only the range of
		// each is checked.
		if two(b[5:]) < 1 || two(b[5:]) > 12 || two(b[8:]) < 1 || two(b[8:]) > 31 || two(b[11:]) > 23 || two(b[14:]) > 59 {
			return time.Time{}, errNotRFC3339
		}
		return time.Time{}, ErrLeapSecond
	}
	// The shape is RFC 3339's; time.Parse checks the ranges (the day in
	// its month, the hour, minute and second).
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return time.Time{}, errNotRFC3339
	}
	return t, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// two is the number of two ASCII digits.
func two(b []byte) int { return int(b[0]-'0')*10 + int(b[1]-'0') }

// TimeReason is the reason of a window's start or end that ParseTime
// refuses with err.
func TimeReason(err error) string {
	if errors.Is(err, ErrLeapSecond) {
		return ReasonLeapSecond
	}
	return ReasonTime
}

// Bounds returns the window's start and end; ok is false when either is
// not an RFC 3339 time or the end is not after the start (validation
// refuses such a window with 422 before any check reads it).
func (w *Window) Bounds() (start, end time.Time, ok bool) {
	if w == nil {
		return time.Time{}, time.Time{}, false
	}
	start, err1 := ParseTime(w.Start)
	end, err2 := ParseTime(w.End)
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
