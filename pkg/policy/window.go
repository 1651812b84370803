package policy

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	// The chat hours name an IANA zone; Lambda's provided.al2023 image
	// has no zoneinfo, so the database is compiled in (it adds to the bootstrap's size).
	_ "time/tzdata"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/sender"
)

// maxWindowCap bounds the maxWindow a policy may set: a change window of
// more than 90 days is no window.
const maxWindowCap = 90 * 24 * time.Hour

// fileHours is a chat sender's change hours in the document.
type fileHours struct {
	Zone string   `json:"zone"`
	Days []string `json:"days"`
	From string   `json:"from"`
	To   string   `json:"to"`
}

// hours are the times of the week a chat command may change anything: on
// the listed weekdays, from..to (minutes after midnight) in zone.
type hours struct {
	zone     *time.Location
	days     [7]bool // by time.Weekday
	from, to int
	text     string // as the refusal shows it: "Mon-Fri 08:00-18:00 Europe/Berlin"
}

var dayNames = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
	"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// buildWindowRule reads a rule's requireWindow and maxWindow.
func buildWindowRule(r *fileRule, at string, out *rule, bad func(string, ...any)) {
	if r.RequireWindow != nil {
		out.requireWindow = *r.RequireWindow
	}
	if r.MaxWindow != nil {
		d, err := time.ParseDuration(*r.MaxWindow)
		if err != nil || d <= 0 || d > maxWindowCap {
			bad("%s/maxWindow: must be a duration such as \"72h\" or \"30m\", more than zero and at most 2160h (90 days)", at)
			return
		}
		out.maxWindow = d
	}
	if r.MaxScheduleAhead != nil {
		d, err := time.ParseDuration(*r.MaxScheduleAhead)
		if err != nil || d <= 0 || d > maxWindowCap {
			bad("%s/maxScheduleAhead: must be a duration such as \"336h\" (14 days), more than zero and at most 2160h (90 days)", at)
			return
		}
		out.scheduleAhead = d
	}
}

// DefaultScheduleAhead is how far ahead a change is scheduled when the
// policy does not say (maxScheduleAhead): 14 days.
const DefaultScheduleAhead = 14 * 24 * time.Hour

// ScheduleAhead is how far ahead a change of sender from may be scheduled
// to be applied when its window opens (maxScheduleAhead, default 14 days).
func (p *Policy) ScheduleAhead(from string) time.Duration {
	if p == nil {
		return DefaultScheduleAhead
	}
	r, ok := p.senders[from]
	if !ok {
		r = p.defaults
	}
	if r.scheduleAhead > 0 {
		return r.scheduleAhead
	}
	return DefaultScheduleAhead
}

// buildHours reads a chat sender's hours.
func buildHours(h *fileHours, at string, bad func(string, ...any)) *hours {
	out := &hours{}
	ok := true
	zone := strings.TrimSpace(h.Zone)
	loc, err := time.LoadLocation(zone)
	if zone == "" || zone == "Local" || err != nil {
		bad("%s/zone: must be an IANA time zone such as \"Europe/Berlin\" or \"UTC\"", at)
		ok = false
	}
	out.zone = loc
	days := h.Days
	if days == nil {
		days = []string{"mon", "tue", "wed", "thu", "fri"}
	}
	if len(days) == 0 {
		bad("%s/days: must name at least one day (mon, tue, wed, thu, fri, sat, sun); leave it out for mon-fri", at)
		ok = false
	}
	for i, d := range days {
		wd, found := dayNames[strings.ToLower(strings.TrimSpace(d))]
		if !found {
			bad("%s/days/%d: must be one of mon, tue, wed, thu, fri, sat, sun", at, i)
			ok = false
			continue
		}
		out.days[wd] = true
	}
	from, fok := clock(h.From)
	to, tok := clock(h.To)
	switch {
	case !fok:
		bad("%s/from: must be a time of day as HH:MM, 00:00 to 23:59", at)
		ok = false
	case !tok:
		bad("%s/to: must be a time of day as HH:MM, 00:01 to 24:00", at)
		ok = false
	case to <= from:
		bad("%s/to: must be after from on the same day", at)
		ok = false
	}
	out.from, out.to = from, to
	if !ok {
		return nil
	}
	var names []string
	for wd := time.Sunday; wd <= time.Saturday; wd++ {
		if out.days[wd] {
			names = append(names, wd.String()[:3])
		}
	}
	out.text = strings.Join(names, ",") + " " + h.From + "-" + h.To + " " + zone
	return out
}

// clock reads "HH:MM" as minutes after midnight; "24:00" is the end of
// the day.
func clock(s string) (int, bool) {
	hh, mm, found := strings.Cut(s, ":")
	if !found || len(hh) != 2 || len(mm) != 2 {
		return 0, false
	}
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if err1 != nil || err2 != nil || h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, false
	}
	return h*60 + m, true
}

// open reports whether t falls inside the hours.
func (h *hours) open(t time.Time) bool {
	local := t.In(h.zone)
	if !h.days[local.Weekday()] {
		return false
	}
	m := local.Hour()*60 + local.Minute()
	return m >= h.from && m < h.to
}

// CheckWindow returns nil when the change may be applied at now as far as
// its timing goes. chat says the change is a chat command (from a chat
// sender): it has no window of its own, and the chat section's hours, when
// the policy sets them, are its window. Any other change is held to its
// ticket's window w, when it has one, and to the sender's rule:
// requireWindow (refused with policy-window-required without one) and
// maxWindow (policy-window-too-long).
//
// A change outside its window is refused with change.KindOutsideWindow
// (403 outside-change-window), naming the window and now. When the window
// has not opened yet, opensIn is how long until it does: the caller may
// queue the change for then instead of refusing it.
func (p *Policy) CheckWindow(from string, chat bool, w *change.Window, now time.Time) (opensIn time.Duration, err error) {
	if p == nil {
		return 0, nil
	}
	if chat && sender.IsChat(from) {
		h := p.chat[from].hours
		if h == nil || h.open(now) {
			return 0, nil
		}
		return 0, change.Refuse(change.KindOutsideWindow, fmt.Sprintf(
			"chat commands may change Intune only during the policy's hours, %s; it is now %s there; nothing was changed",
			h.text, now.In(h.zone).Format("Mon 15:04")))
	}
	r, ok := p.senders[from]
	if !ok {
		r = p.defaults
	}
	if w == nil {
		if r.requireWindow {
			return 0, change.Refuse(change.KindPolicyWindowRequired, "the policy requires a change window (ticket.window) for changes from the "+from+" sender, and this ticket has none; nothing was changed")
		}
		return 0, nil
	}
	if start, end, ok := w.Bounds(); ok && r.maxWindow > 0 && end.Sub(start) > r.maxWindow {
		return 0, change.Refuse(change.KindPolicyWindowTooLong, fmt.Sprintf(
			"the change window %s to %s is %s long; the policy allows the %s sender at most %s; nothing was changed",
			w.Start, w.End, end.Sub(start), from, r.maxWindow))
	}
	return w.Check(now)
}
