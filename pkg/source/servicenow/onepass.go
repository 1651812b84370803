package servicenow

import (
	"bytes"

	"github.com/enrollhook/enrollhook/pkg/change"
)

// readOnePass reads a delivery that is clean, the form ServiceNow sends,
// in one pass (change.Scanner): every property the contract names spelt
// exactly as it names it, of the JSON type it names (a string, an object;
// the approval's sys_mod_count and data.intune.target any value), none
// null, none repeated at any depth, no property of data.intune the
// contract does not have. Of such a body it returns the reading read
// returns, with noRepeats set, so that Decode need not walk the body again
// for repeated names. It returns nil for any other body, which read then
// reads as before: such a body is refused (a repeat, a wrong type, an
// unknown property), or is unusual (a name in another letter case, a
// null), and read words its refusal as encoding/json reports it.
// FuzzReadOnePass holds it to read.
func readOnePass(body []byte) *reading {
	s := change.NewScanner(body)
	var (
		ts       string
		data     bool
		approval *Approval
		record   *Record
		intune   *Intune
		dry      bool
	)
	// dryRun reads a property spelled like the dry-run flag, at the top
	// level or in data: a dry run the body asks for, never ignored.
	dryRun := func(name []byte) (read, ok bool) {
		if !change.IsDryRunName(name) {
			return false, false
		}
		raw, ok := s.Raw()
		dry = dry || change.AsksDryRun(raw)
		return true, ok
	}
	ok := s.Members(func(name []byte) bool {
		switch string(name) {
		case "type":
			_, ok := s.String()
			return ok
		case "timestamp":
			var ok bool
			ts, ok = s.String()
			return ok
		case "data":
			data = true
			return s.Members(func(name []byte) bool {
				switch string(name) {
				case "approval":
					approval = &Approval{}
					return readApproval(s, approval)
				case "record":
					record = &Record{}
					return readRecord(s, record)
				case "intune":
					intune = &Intune{}
					return readIntune(s, intune)
				}
				if read, ok := dryRun(name); read {
					return ok
				}
				return s.SkipOther(name, "approval", "record", "intune")
			})
		}
		if read, ok := dryRun(name); read {
			return ok
		}
		return s.SkipOther(name, "type", "timestamp", "data")
	})
	if !ok || !s.End() || s.Repeated() {
		return nil
	}
	return &reading{ts: ts, approval: approval, record: record, intune: intune, hasData: data, noRepeats: true, dryRun: dry}
}

// text reads a string property into *to.
func text(s *change.Scanner, to *string) bool {
	v, ok := s.String()
	*to = v
	return ok
}

func readApproval(s *change.Scanner, a *Approval) bool {
	return s.Members(func(name []byte) bool {
		switch string(name) {
		case "sys_id":
			return text(s, &a.SysID)
		case "state":
			return text(s, &a.State)
		case "sys_mod_count":
			raw, ok := s.Raw()
			a.SysModCount = bytes.Clone(raw) // a copy, as encoding/json's
			return ok
		case "approver":
			return readUser(s, &a.Approver)
		case "source_table":
			return text(s, &a.SourceTable)
		case "document_id":
			return text(s, &a.DocumentID)
		case "comments":
			return text(s, &a.Comments)
		}
		return s.SkipOther(name, "sys_id", "state", "sys_mod_count", "approver", "source_table", "document_id", "comments")
	})
}

func readRecord(s *change.Scanner, r *Record) bool {
	return s.Members(func(name []byte) bool {
		switch string(name) {
		case "table":
			return text(s, &r.Table)
		case "sys_id":
			return text(s, &r.SysID)
		case "number":
			return text(s, &r.Number)
		case "approval":
			return text(s, &r.Approval)
		case "requested_by":
			return readUser(s, &r.RequestedBy)
		case "url":
			return text(s, &r.URL)
		case "state":
			return text(s, &r.State)
		case "start_date":
			return text(s, &r.StartDate)
		case "end_date":
			return text(s, &r.EndDate)
		}
		return s.SkipOther(name, "table", "sys_id", "number", "approval", "requested_by", "url", "state", "start_date", "end_date")
	})
}

func readIntune(s *change.Scanner, in *Intune) bool {
	return s.Members(func(name []byte) bool {
		switch string(name) {
		case "configurationId":
			return text(s, &in.ConfigurationID)
		case "assignmentId":
			return text(s, &in.AssignmentID)
		case "target":
			// Read in this pass, to be decoded under Decode's options.
			var ok bool
			in.target, ok = s.Target()
			return ok
		case "source":
			return text(s, &in.Source)
		case "action":
			return text(s, &in.Action)
		}
		return false // a property the contract does not have: refused
	})
}

// readUser reads a user reference as User.UnmarshalJSON does: a string is
// the user_name, an object its properties.
func readUser(s *change.Scanner, u *User) bool {
	if s.Peek() == '"' {
		name, ok := s.String()
		*u = User{UserName: name}
		return ok
	}
	var value, display string
	*u = User{idKey: "sys_id"}
	ok := s.Members(func(name []byte) bool {
		switch string(name) {
		case "sys_id":
			return text(s, &u.SysID)
		case "user_name":
			return text(s, &u.UserName)
		case "email":
			return text(s, &u.Email)
		case "name":
			return text(s, &u.Name)
		case "value":
			return text(s, &value)
		case "display_value":
			return text(s, &display)
		}
		return s.SkipOther(name, "sys_id", "user_name", "email", "name", "value", "display_value")
	})
	if u.SysID == "" && value != "" {
		u.SysID, u.idKey = value, "value"
	}
	if u.Name == "" {
		u.Name = display
	}
	return ok
}
