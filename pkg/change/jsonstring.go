package change

import "unicode/utf8"

// AppendJSONString appends s as a JSON string, escaped as json.Marshal
// escapes it (HTML characters, U+2028 and U+2029, invalid UTF-8 as
// U+FFFD).
func AppendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	b = AppendJSONEscaped(b, s)
	return append(b, '"')
}

// asIs marks the bytes json.Marshal writes as they are: printable ASCII
// but '"', '\\' and the HTML characters '<', '>' and '&'.
var asIs = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// AppendJSONEscaped appends the content of s as a JSON string, without the
// quotes, escaped as AppendJSONString escapes it.
func AppendJSONEscaped(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if asIs[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

// appendJSON appends a as json.Marshal encodes it (its field order and
// omitempty rules; a nil target is null). TestPatchBodyIsTheAssignmentAsMarshalled
// and FuzzPatchBody hold it to json.Marshal.
func (a *Assignment) appendJSON(b []byte) []byte {
	var m members
	b = append(b, '{')
	b = m.add(b, `"@odata.type":`, a.ODataType)
	b = m.add(b, `"id":`, a.ID)
	b = m.name(b, `"target":`)
	if t := a.Target; t == nil {
		b = append(b, "null"...)
	} else {
		var tm members
		b = append(b, '{')
		b = tm.name(b, `"@odata.type":`)
		b = AppendJSONString(b, t.ODataType)
		b = tm.add(b, `"groupId":`, t.GroupID)
		b = tm.add(b, `"collectionId":`, t.CollectionID)
		b = tm.add(b, `"targetType":`, t.TargetType)
		b = tm.add(b, `"entraObjectId":`, t.EntraObjectID)
		b = tm.add(b, `"deviceAndAppManagementAssignmentFilterId":`, t.FilterID)
		b = tm.add(b, `"deviceAndAppManagementAssignmentFilterType":`, t.FilterType)
		b = append(b, '}')
	}
	b = m.add(b, `"source":`, a.Source)
	b = m.add(b, `"sourceId":`, a.SourceID)
	return append(b, '}')
}

// members writes the members of one JSON object, commas between them.
type members struct{ some bool }

// name appends a member's quoted name and colon.
func (m *members) name(b []byte, name string) []byte {
	if m.some {
		b = append(b, ',')
	}
	m.some = true
	return append(b, name...)
}

// add appends the member name: value unless value is empty (omitempty).
func (m *members) add(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	return AppendJSONString(m.name(b, name), value)
}
