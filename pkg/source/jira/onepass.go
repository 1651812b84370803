package jira

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/enrollhook/enrollhook/pkg/change"
)

// readOnePass reads Jira's own webhook in one pass (change.Scanner) when
// it is clean, the form Jira sends: every property the adapter reads
// spelt exactly as Jira spells it and of the JSON type it has (null
// included), no name repeated at any depth, the names of issue.fields
// valid UTF-8. Of such a body it returns the reading read returns, with
// noRepeats set, so that Decode need not walk the body again for repeated
// names, but with only the issue fields keep names (the ones Decode
// reads): the others are walked, for their well-formedness and repeated
// names, and not kept. It returns nil for any other body, which read then reads as
// before: a repeat or a wrong type is refused, with encoding/json's
// wording; a name in another letter case is unusual. FuzzReadOnePass
// holds it to read.
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
			is.Fields = map[string]json.RawMessage{}
			return s.Members(func(name []byte) bool {
				if !utf8.Valid(name) {
					return false // encoding/json's key would be another string
				}
				if !keep(name) {
					return s.Skip()
				}
				var v json.RawMessage
				ok := raw(s, &v)
				is.Fields[string(name)] = v
				return ok
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
