package record

// Standing returns the records of rs (one ticket's, oldest first, as
// ByTicket returns them) whose change still stands: applied (not
// scheduled) and not put back by a later record of rs. The result is
// latest first, the order a revert puts them back in.
//
// With applying set, only the records whose effect is to apply the
// ticket's change are returned: its applies, and a revert of a revert (it
// applies the change again). A revert of the ticket puts back exactly
// these, so after "apply, revert, revert the revert" the ticket's revert
// undoes the change once more, and a revert that stands is reverted only
// when named by its id.
func Standing(rs []Record, applying bool) []Record {
	byID := make(map[string]*Record, len(rs))
	reverted := make(map[string]bool, len(rs))
	for i := range rs {
		byID[rs[i].ID] = &rs[i]
		if rs[i].Action == ActionRevert && rs[i].Reverts != "" {
			reverted[rs[i].Reverts] = true
		}
	}
	var out []Record
	for i := len(rs) - 1; i >= 0; i-- {
		r := rs[i]
		if r.State == StateScheduled || reverted[r.ID] || (applying && !applies(&r, byID)) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// applies reports whether r's effect is the ticket's change: an apply, or
// a revert of a record that did not apply it (a revert of a revert), to
// any depth within the ticket.
func applies(r *Record, byID map[string]*Record) bool {
	for depth := 0; depth < len(byID)+1; depth++ {
		if r.Action != ActionRevert {
			return depth%2 == 0
		}
		t, ok := byID[r.Reverts]
		if !ok {
			// A revert of a record of another ticket (by its id): it
			// undoes that change, it does not apply this ticket's.
			return depth%2 == 1
		}
		r = t
	}
	return false
}

// RevertedBy returns the record of rs that put back the record id, if one
// did.
func RevertedBy(rs []Record, id string) (Record, bool) {
	for _, r := range rs {
		if r.Action == ActionRevert && r.Reverts == id {
			return r, true
		}
	}
	return Record{}, false
}
