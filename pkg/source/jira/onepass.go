package jira

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/enrollhook/enrollhook/pkg/change"
)

// readOnePass reads Jira's own webhook in one pass (change.Scanner) when
// it is clean, the form Jira sends: every property the adapter reads
// spelt exactly as Jira spells it and of the JSON type it has (null
// included), no name repeated at any depth, the names of issue.fields
// valid UTF-8. Of such a body it returns the reading read returns, with
// noRepeats set, so that Decode need not walk the body again for repeated
// names; of the issue's fields it keeps those keep names (the ones Decode
// reads), each read in the pass every way Decode reads it (readField,
// Issue.read), and walks the others, for their well-formedness and
// repeated names, without keeping them. It returns nil for any other
// body, which read then reads as before: a repeat or a wrong type is
// refused, with encoding/json's wording; a name in another letter case is
// unusual. FuzzReadOnePass holds it to read, FuzzFieldReading readField to
// the readings of a field's bytes.
func readOnePass(body []byte, keep func(name []byte) bool) *reading {
	s := change.NewScanner(body)
	rd := &reading{noRepeats: true}
	w := &rd.w
	ok := s.Members(func(name []byte) bool {
		switch string(name) {
		case "timestamp":
			return raw(s, &w.Timestamp)
		case "ticket":
			w.Ticket = true // whatever its value, null too, as present reads it
			return s.Skip()
		case "webhookEvent":
			return raw(s, &w.WebhookEvent)
		case "user":
			return object(s, &w.User, readUser)
		case "issue":
			return object(s, &w.Issue, func(s *change.Scanner, is *Issue) bool { return readIssue(s, is, keep) })
		case "changelog":
			return object(s, &w.Changelog, readChangelog)
		}
		return s.SkipOther(name, "timestamp", "ticket", "webhookEvent", "user", "issue", "changelog")
	})
	if !ok || !s.End() || s.Repeated() {
		return nil
	}
	return rd
}

// raw reads any value into *to, a copy as encoding/json's json.RawMessage
// is.
func raw(s *change.Scanner, to *json.RawMessage) bool {
	b, ok := s.Raw()
	*to = bytes.Clone(b)
	return ok
}

// text reads a string, or null (which leaves *to as it is), into *to.
func text(s *change.Scanner, to *string) bool {
	if s.Peek() == 'n' {
		return s.Skip()
	}
	v, ok := s.String()
	*to = v
	return ok
}

// object reads null (a nil *to) or an object, by read, into a new *to.
func object[T any](s *change.Scanner, to **T, read func(*change.Scanner, *T) bool) bool {
	if s.Peek() == 'n' {
		*to = nil
		return s.Skip()
	}
	*to = new(T)
	return read(s, *to)
}

func readUser(s *change.Scanner, u *User) bool {
	return s.Members(func(name []byte) bool {
		switch string(name) {
		case "accountId":
			return text(s, &u.AccountID)
		case "displayName":
			return text(s, &u.DisplayName)
		case "emailAddress":
			return text(s, &u.EmailAddress)
		}
		return s.SkipOther(name, "accountId", "displayName", "emailAddress")
	})
}

func readIssue(s *change.Scanner, is *Issue, keep func(name []byte) bool) bool {
	return s.Members(func(name []byte) bool {
		switch string(name) {
		case "key":
			return text(s, &is.Key)
		case "self":
			return text(s, &is.Self)
		case "fields":
			if s.Peek() == 'n' {
				is.Fields = nil
				return s.Skip()
			}
			is.read = map[string]*fieldReading{}
			return s.Members(func(name []byte) bool {
				if !utf8.Valid(name) {
					return false // encoding/json's key would be another string
				}
				if !keep(name) {
					return s.Skip()
				}
				f := new(fieldReading)
				is.read[string(name)] = f
				return readField(s, f)
			})
		}
		return s.SkipOther(name, "key", "self", "fields")
	})
}

func readChangelog(s *change.Scanner, c *Changelog) bool {
	return s.Members(func(name []byte) bool {
		if string(name) != "items" {
			return s.SkipOther(name, "items")
		}
		if s.Peek() == 'n' {
			c.Items = nil
			return s.Skip()
		}
		c.Items = []ChangelogItem{}
		return s.Elements(func() bool {
			var it ChangelogItem
			if s.Peek() == 'n' {
				c.Items = append(c.Items, it)
				return s.Skip()
			}
			ok := s.Members(func(name []byte) bool {
				switch string(name) {
				case "field":
					return text(s, &it.Field)
				case "fieldId":
					return text(s, &it.FieldID)
				case "fromString":
					return text(s, &it.FromString)
				case "toString":
					return text(s, &it.ToString)
				}
				return s.SkipOther(name, "field", "fieldId", "fromString", "toString")
			})
			c.Items = append(c.Items, it)
			return ok
		})
	})
}

// readField reads an issue field's value each way Decode may read it, as
// fieldString, approvalValue and json.Unmarshal into a User read its bytes.
func readField(s *change.Scanner, f *fieldReading) bool {
	switch c := s.Peek(); c {
	case 'n':
		f.textOK, f.approvalOK, f.userOK = true, true, true // "", and an empty user
		return s.Skip()
	case '"':
		v, ok := s.String()
		f.text, f.textOK = v, true
		f.approval, f.approvalOK = v, true
		return ok
	case '{':
		var o option
		if !readOption(s, &o) {
			return false
		}
		f.text, f.textOK = o.text()
		f.approval, f.approvalOK = f.text, f.textOK
		f.user, f.userOK = o.user, !o.userBad
		return true
	case '[':
		var ok bool
		f.approval, f.approvalOK, ok = readApprovals(s)
		return ok
	case 't', 'f':
		return s.Skip() // no reading takes a boolean
	case 0:
		return false
	default: // a number, as json.Number reads it
		raw, ok := s.Raw()
		f.text, f.textOK = string(raw), true
		f.approval, f.approvalOK = f.text, true
		return ok
	}
}

// option is an object field (a select option, a user, an approval) as
// the readings take it: encoding/json's *string fields for the text and an
// approval's entry (a string and whether it is set: not when absent or
// null), plain strings for a user.
type option struct {
	value, name, decision          string
	hasValue, hasName, hasDecision bool
	textBad, entryBad, userBad     bool // a value of the wrong type for that reading
	user                           User
}

// optionNames are the names option reads: any other name in another letter
// case would be matched by encoding/json, so the body is read with it.
var optionNames = []string{"value", "name", "finalDecision", "accountId", "displayName", "emailAddress"}

func readOption(s *change.Scanner, o *option) bool {
	var ignored bool
	return s.Members(func(name []byte) bool {
		switch string(name) {
		case "value":
			return optString(s, &o.value, &o.hasValue, &o.textBad, &o.entryBad)
		case "name":
			return optString(s, &o.name, &o.hasName, &o.textBad)
		case "finalDecision":
			return optString(s, &o.decision, &o.hasDecision, &o.entryBad)
		// A user's strings: null leaves them as they are, so whether it
		// was set is not kept.
		case "accountId":
			return optString(s, &o.user.AccountID, &ignored, &o.userBad)
		case "displayName":
			return optString(s, &o.user.DisplayName, &ignored, &o.userBad)
		case "emailAddress":
			return optString(s, &o.user.EmailAddress, &ignored, &o.userBad)
		}
		return s.SkipOther(name, optionNames...)
	})
}

// optString reads a string as encoding/json reads one into a *string:
// null unsets it (*set false, *to as it was), a string sets it, any other
// value marks each reading in bad.
func optString(s *change.Scanner, to *string, set *bool, bad ...*bool) bool {
	switch s.Peek() {
	case 'n':
		*set = false
		return s.Skip()
	case '"':
		v, ok := s.String()
		*to, *set = v, true
		return ok
	}
	for _, b := range bad {
		*b = true
	}
	return s.Skip()
}

// text is the option as fieldString reads an object.
func (o *option) text() (string, bool) {
	return firstSet(o.textBad, o.value, o.hasValue, o.name, o.hasName, false)
}

// entry is the option as approvalValue reads an entry of a list.
func (o *option) entry() (string, bool) {
	return firstSet(o.entryBad, o.decision, o.hasDecision, o.value, o.hasValue, true)
}

// firstSet is the first of a and b that is set; "" and neither when
// neither is; nothing when a value of the wrong type made bad.
func firstSet(bad bool, a string, hasA bool, b string, hasB bool, neither bool) (string, bool) {
	switch {
	case bad:
		return "", false
	case hasA:
		return a, true
	case hasB:
		return b, true
	}
	return "", neither
}

// readApprovals reads a list as approvalValue does: approved when it has
// entries and each reads approved. walked is false when the list is not
// well-formed.
func readApprovals(s *change.Scanner) (v string, ok, walked bool) {
	n, all := 0, true
	walked = s.Elements(func() bool {
		n++
		var v string
		var ok bool
		if s.Peek() == '{' {
			var o option
			if !readOption(s, &o) {
				return false
			}
			v, ok = o.entry()
		} else {
			var f fieldReading
			if !readField(s, &f) {
				return false
			}
			v, ok = f.text, f.textOK
		}
		all = all && ok && strings.EqualFold(strings.TrimSpace(v), change.ApprovedState)
		return true
	})
	if n == 0 || !all {
		return "", false, walked
	}
	return change.ApprovedState, true, walked
}
