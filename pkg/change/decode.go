package change

import (
	"bytes"
	"hash/maphash"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// The envelope, as tables: Decode reads the body once, guided by them.
// Adding a property is one line in the table of its object: a string with
// str (the place in the Request it fills), an object with obj (its own
// table). The Go field carries the same name in its json tag, for the
// validator's pointers and for encoding a Request; a test holds the
// tables and the tags to each other.

// prop is one property of an object of the envelope.
type prop struct {
	name string
	// str is where a string property is stored. A JSON null leaves it as
	// it is, as encoding/json does.
	str func(*Request) *string
	// obj is the table of an object property.
	obj *object

	at     string // its JSON pointer, set by index
	folded []byte // its name folded (appendFolded), set by index
}

// object is the table of one JSON object of the envelope.
type object struct {
	props []prop
	// refuse reports unknown properties (their name, never their value);
	// the properties of an object without it that are in no table are
	// ignored.
	refuse bool
	// open makes the object's Go value ready before its properties are
	// read, allocating a pointer the first time; null handles a JSON null
	// (a pointer becomes nil). Both are nil for a struct held by value,
	// which a null leaves as it is.
	open, null func(*Request)

	at       string // its JSON pointer, set by index
	slot     int    // its list of unknown properties, when refuse
	group    int    // slot of its outermost refusing ancestor (or itself)
	subslots []int  // slots of itself and its refusing descendants
	names    []string
}

var (
	targetObject = &object{refuse: true,
		open: func(r *Request) {
			if r.Assignment.Target == nil {
				r.Assignment.Target = new(Target)
			}
		},
		null: func(r *Request) { r.Assignment.Target = nil },
		props: []prop{
			{name: "@odata.type", str: func(r *Request) *string { return &r.Assignment.Target.ODataType }},
			{name: "groupId", str: func(r *Request) *string { return &r.Assignment.Target.GroupID }},
			{name: "collectionId", str: func(r *Request) *string { return &r.Assignment.Target.CollectionID }},
			{name: "targetType", str: func(r *Request) *string { return &r.Assignment.Target.TargetType }},
			{name: "entraObjectId", str: func(r *Request) *string { return &r.Assignment.Target.EntraObjectID }},
			{name: "deviceAndAppManagementAssignmentFilterId", str: func(r *Request) *string { return &r.Assignment.Target.FilterID }},
			{name: "deviceAndAppManagementAssignmentFilterType", str: func(r *Request) *string { return &r.Assignment.Target.FilterType }},
		}}
	assignmentObject = &object{refuse: true, props: []prop{
		{name: "@odata.type", str: func(r *Request) *string { return &r.Assignment.ODataType }},
		{name: "id", str: func(r *Request) *string { return &r.Assignment.ID }},
		{name: "target", obj: targetObject},
		{name: "source", str: func(r *Request) *string { return &r.Assignment.Source }},
		{name: "sourceId", str: func(r *Request) *string { return &r.Assignment.SourceID }},
	}}
	windowObject = &object{
		open: func(r *Request) {
			if r.Ticket.Window == nil {
				r.Ticket.Window = new(Window)
			}
		},
		null: func(r *Request) { r.Ticket.Window = nil },
		props: []prop{
			{name: "start", str: func(r *Request) *string { return &r.Ticket.Window.Start }},
			{name: "end", str: func(r *Request) *string { return &r.Ticket.Window.End }},
		}}
	ticketObject = &object{props: []prop{
		{name: "id", str: func(r *Request) *string { return &r.Ticket.ID }},
		{name: "system", str: func(r *Request) *string { return &r.Ticket.System }},
		{name: "state", str: func(r *Request) *string { return &r.Ticket.State }},
		{name: "requestedBy", str: func(r *Request) *string { return &r.Ticket.RequestedBy }},
		{name: "approvedBy", str: func(r *Request) *string { return &r.Ticket.ApprovedBy }},
		{name: "requestedById", str: func(r *Request) *string { return &r.Ticket.RequestedByID }},
		{name: "approvedById", str: func(r *Request) *string { return &r.Ticket.ApprovedByID }},
		{name: "url", str: func(r *Request) *string { return &r.Ticket.URL }},
		{name: "window", obj: windowObject},
	}}
	// envelopeObject is the body. Its unknown properties are ignored, so
	// senders may add their own metadata.
	envelopeObject = &object{props: []prop{
		{name: "ticket", obj: ticketObject},
		{name: "action", str: func(r *Request) *string { return &r.Action }},
		{name: "configurationId", str: func(r *Request) *string { return &r.ConfigurationID }},
		{name: "assignmentId", str: func(r *Request) *string { return &r.AssignmentID }},
		{name: "assignment", obj: assignmentObject},
	}}

	// refusing lists the objects that refuse unknown properties, by slot.
	refusing = index(envelopeObject)
)

// index sets the pointers, slots and groups of root and the objects under
// it, and returns the refusing ones by slot.
func index(root *object) []*object {
	var out []*object
	var walk func(o *object, at string, group int) []int
	walk = func(o *object, at string, group int) []int {
		o.at = at
		var slots []int
		if o.refuse {
			if len(out) == maxRefusing {
				panic("change: more than maxRefusing objects refuse unknown properties")
			}
			o.slot = len(out)
			if group < 0 {
				group = o.slot
			}
			o.group = group
			out = append(out, o)
			slots = append(slots, o.slot)
		}
		o.names = o.propNames()
		for i := range o.props {
			p := &o.props[i]
			p.at = at + "/" + escapePointer(p.name)
			p.folded = appendFolded(nil, []byte(p.name))
			if p.obj != nil {
				slots = append(slots, walk(p.obj, p.at, group)...)
			}
		}
		o.subslots = slots
		return slots
	}
	walk(root, "", -1)
	return out
}

// propNames lists the names of o's properties, in table order.
func (o *object) propNames() []string {
	out := make([]string, len(o.props))
	for i, p := range o.props {
		out[i] = p.name
	}
	return out
}

// maxDepth is how deeply arrays and objects may nest, as encoding/json
// allows.
const maxDepth = 10000

// tooDeep is the syntax error of a body that nests deeper than maxDepth.
const tooDeep = "exceeded max depth"

// The refusals of a body that is not JSON (CodeMalformed): one that nests
// arrays and objects deeper than JSON is read here is told so, not that it
// is not well-formed.
const (
	MessageNotJSON = "the body is not well-formed JSON"
	MessageTooDeep = "the body nests arrays and objects deeper than the limit of 10000 levels"
	ReasonTooDeep  = "nests arrays and objects deeper than the limit of 10000 levels"
)

// TooDeep reports whether body, read as JSON, fails first where it nests
// arrays and objects deeper than the limit encoding/json (and Decode)
// keeps to: a decoder that refused body as not JSON refuses it with
// MessageTooDeep (Malformed) instead.
func TooDeep(body []byte) bool {
	d := reader{b: body}
	d.document(nil)
	return d.err != nil && d.err.msg == tooDeep
}

// Malformed is the refusal of a body a decoder could not read as JSON
// (err, for the operator's log): MessageTooDeep when it nests too deeply
// (TooDeep), else MessageNotJSON.
func Malformed(body []byte, err error) *Error {
	if TooDeep(body) {
		return &Error{Code: CodeMalformed, Message: MessageTooDeep, Err: err}
	}
	return &Error{Code: CodeMalformed, Message: MessageNotJSON, Err: err}
}

// syntaxError is why a body is not JSON, for the operator's log: a fixed
// text and an offset, never the input.
type syntaxError struct {
	msg    string
	Offset int
}

func (e *syntaxError) Error() string {
	return "change: " + e.msg + " at offset " + strconv.Itoa(e.Offset)
}

// span is a decoded string waiting for its place: the strings of a body
// share one allocation, made once the body has been read.
type span struct {
	to       *string
	off, end int
}

// reader reads one body. It validates the JSON as encoding/json does,
// fills the Request as encoding/json would (names matched ignoring case
// by Unicode simple folding, the last of a repeated property counting,
// strings unescaped with invalid UTF-8 and lone surrogates becoming
// U+FFFD), and notes on the way what Decode refuses: repeated properties
// at any depth, unknown properties of the refusing objects and the first
// value of the wrong type.
type reader struct {
	b   []byte
	i   int
	req *Request // nil when only repeats are wanted
	err *syntaxError

	// The pointer to where the reader is: its first steps in path, deeper
	// ones in deep (a slice of path kept in the reader would move the
	// reader to the heap).
	nest  int // arrays and objects open
	depth int
	path  [16]segment
	deep  []segment
	dups  []string            // pointers of repeated properties, in body order
	dupAt map[string]struct{} // the same, once there are many

	typeErrs int    // values of the wrong type
	typeAt   string // the first one's pointer ("" for the body)
	typeKind string // and what it must be
	top      bool   // the body itself is of the wrong type

	unknown [maxRefusing][]string // by slot
	dirty   [maxRefusing]bool     // by group slot: a value of the wrong type inside

	top1 *topLevel // what Read keeps of the top level beyond the envelope; nil for Decode

	// The decoded strings, in small until it is full, then in big; and
	// where each goes.
	small  [1024]byte
	n      int
	big    []byte
	spans  [24]span
	nspans int
	more   []span
}

// maxRefusing is how many objects of the envelope may refuse unknown
// properties (index panics at init past it).
const maxRefusing = 4

// segment is one step of the pointer to where the reader is: an object's
// property (key, as written once unescaped) or an array's element.
type segment struct {
	key   []byte
	index int
}

func (d *reader) fail(msg string) {
	if d.err == nil {
		d.err = &syntaxError{msg: msg, Offset: d.i}
	}
	d.i = len(d.b)
}

func (d *reader) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// document reads the whole body: one value, then only white space.
func (d *reader) document(root *object) {
	d.space()
	if d.i >= len(d.b) {
		d.fail("unexpected end of JSON input")
		return
	}
	switch c := d.b[d.i]; {
	case root != nil && c == '{':
		d.object(root)
	case root != nil && c == 'n':
		d.literal("null")
	default:
		if root != nil {
			d.top = true
			d.typeErrs++
		}
		d.value(nil)
	}
	d.end()
}

// end refuses anything but white space after the top-level value.
func (d *reader) end() {
	if d.err != nil {
		return
	}
	d.space()
	if d.i < len(d.b) {
		d.fail("invalid character after top-level value")
	}
}

// value reads the value at d.i into p, or only walks it when p is nil.
func (d *reader) value(p *prop) {
	if d.i >= len(d.b) {
		d.fail("unexpected end of JSON input")
		return
	}
	c := d.b[d.i]
	if p != nil && c == 'n' {
		d.literal("null")
		if p.obj != nil && p.obj.null != nil && d.err == nil {
			p.obj.null(d.req)
		}
		return
	}
	if p != nil {
		switch {
		case p.str != nil && c == '"':
			d.stringValue(p.str(d.req))
			return
		case p.obj != nil && c == '{':
			d.object(p.obj)
			return
		}
		d.typeErrs++
		if d.typeErrs == 1 {
			d.typeAt = p.at
			d.typeKind = "string"
			if p.obj != nil {
				d.typeKind = "JSON object"
			}
		}
	}
	switch {
	case c == '{':
		d.object(nil)
	case c == '[':
		d.array()
	case c == '"':
		d.str()
	case c == 't':
		d.literal("true")
	case c == 'f':
		d.literal("false")
	case c == 'n':
		d.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		d.number()
	default:
		d.fail("invalid character looking for beginning of value")
	}
}

func (d *reader) literal(word string) {
	for j := 0; j < len(word); j++ {
		if d.i >= len(d.b) {
			d.fail("unexpected end of JSON input")
			return
		}
		if d.b[d.i] != word[j] {
			d.fail("invalid character in literal " + word)
			return
		}
		d.i++
	}
}

// number walks a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *reader) number() {
	b := d.b
	if b[d.i] == '-' {
		d.i++
	}
	digits := func() bool {
		start := d.i
		for d.i < len(b) && '0' <= b[d.i] && b[d.i] <= '9' {
			d.i++
		}
		return d.i > start
	}
	switch {
	case d.i < len(b) && b[d.i] == '0':
		d.i++
	case !digits():
		d.numberFail()
		return
	}
	if d.i < len(b) && b[d.i] == '.' {
		d.i++
		if !digits() {
			d.numberFail()
			return
		}
	}
	if d.i < len(b) && (b[d.i] == 'e' || b[d.i] == 'E') {
		d.i++
		if d.i < len(b) && (b[d.i] == '+' || b[d.i] == '-') {
			d.i++
		}
		if !digits() {
			d.numberFail()
		}
	}
}

func (d *reader) numberFail() {
	if d.i >= len(d.b) {
		d.fail("unexpected end of JSON input")
		return
	}
	d.fail("invalid character in numeric literal")
}

// str walks the string at d.i == '"' and returns its content, still
// escaped, and whether it holds an escape.
func (d *reader) str() (raw []byte, escaped bool) {
	b := d.b
	start := d.i + 1
	for i := start; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			d.i = i + 1
			return b[start:i], escaped
		case c == '\\':
			escaped = true
			i++
			if i >= len(b) {
				break
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				for j := 1; j <= 4; j++ {
					if i+j >= len(b) {
						break
					}
					if !isHex(b[i+j]) {
						d.i = i + j
						d.fail("invalid character in \\u hexadecimal character escape")
						return nil, false
					}
				}
				i += 4
			default:
				d.i = i
				d.fail("invalid character in string escape code")
				return nil, false
			}
		case c < 0x20:
			d.i = i
			d.fail("invalid character in string literal")
			return nil, false
		}
	}
	d.fail("unexpected end of JSON input")
	return nil, false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// stringValue reads the string at d.i into *to.
func (d *reader) stringValue(to *string) {
	raw, escaped := d.str()
	if d.err != nil {
		return
	}
	off := d.n + len(d.big)
	if !escaped && utf8.Valid(raw) {
		d.put(raw)
	} else {
		var tmp [256]byte
		d.put(appendUnescaped(tmp[:0], raw))
	}
	sp := span{to: to, off: off, end: d.n + len(d.big)}
	if d.nspans < len(d.spans) {
		d.spans[d.nspans] = sp
		d.nspans++
	} else {
		d.more = append(d.more, sp)
	}
}

// put adds b to the decoded strings.
func (d *reader) put(b []byte) {
	if d.big == nil && d.n+len(b) <= len(d.small) {
		d.n += copy(d.small[d.n:], b)
		return
	}
	if d.big == nil {
		d.big = make([]byte, d.n, 2*(d.n+len(b)))
		copy(d.big, d.small[:d.n])
		d.n = 0
	}
	d.big = append(d.big, b...)
}

// finish gives every decoded string its place, all sharing one
// allocation.
func (d *reader) finish() {
	s := string(d.small[:d.n])
	if d.big != nil {
		s = string(d.big)
	}
	for _, sp := range d.spans[:d.nspans] {
		*sp.to = s[sp.off:sp.end]
	}
	for _, sp := range d.more {
		*sp.to = s[sp.off:sp.end]
	}
}

// appendUnescaped appends the string content raw (valid JSON) unescaped as
// encoding/json unescapes it: each byte of invalid UTF-8, and each \u
// escape of a surrogate that is not half of a pair, becomes U+FFFD.
func appendUnescaped(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c == '\\' {
			e := raw[i+1]
			i += 2
			switch e {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := hex4(raw[i:])
				i += 4
				if utf16.IsSurrogate(r) {
					next := rune(-1)
					if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
						next = hex4(raw[i+2:])
					}
					if pair := utf16.DecodeRune(r, next); pair != unicode.ReplacementChar {
						dst = utf8.AppendRune(dst, pair)
						i += 6
						continue
					}
					r = unicode.ReplacementChar
				}
				dst = utf8.AppendRune(dst, r)
			default: // '"', '\\', '/'
				dst = append(dst, e)
			}
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(raw[i:])
		dst = utf8.AppendRune(dst, r)
		i += n
	}
	return dst
}

// hex4 is the value of the four hex digits at the start of b.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// key reads an object's property name at d.i: as written when it has no
// escape, unescaped otherwise.
func (d *reader) key() []byte {
	if d.i >= len(d.b) {
		d.fail("unexpected end of JSON input")
		return nil
	}
	if d.b[d.i] != '"' {
		d.fail("invalid character looking for beginning of object key string")
		return nil
	}
	raw, escaped := d.str()
	if escaped && d.err == nil {
		return appendUnescaped(nil, raw)
	}
	return raw
}

// names holds the property names of one object so far, to find a repeat:
// a name repeats another when they are equal under Unicode simple case
// folding (bytes.EqualFold), as encoding/json matches them. Past a few
// names it looks names up by a hash of their folded form, so that a body
// of many names costs linear time; the names themselves are not copied
// (they are the body's bytes, or a key's own unescaped copy).
type names struct {
	buf [16][]byte
	n   int
	// byHash is the first name of each folded hash, past buf.
	byHash map[uint64][]byte
	// clashed are the names whose folded hash an earlier, different name
	// has: compared one by one, and as good as never there.
	clashed [][]byte
	// hash, when set, replaces foldedHash: a test's, to make names clash.
	hash func(folded []byte) uint64
}

// nameSeed seeds foldedHash.
var nameSeed = maphash.MakeSeed()

func foldedHash(folded []byte) uint64 { return maphash.Bytes(nameSeed, folded) }

// add records name and reports whether it repeats an earlier one.
func (s *names) add(name []byte) bool {
	if s.byHash == nil {
		for _, prev := range s.buf[:s.n] {
			if bytes.EqualFold(prev, name) {
				return true
			}
		}
		if s.n < len(s.buf) {
			s.buf[s.n] = name
			s.n++
			return false
		}
		s.byHash = make(map[uint64][]byte, 4*len(s.buf))
		for _, prev := range s.buf[:s.n] {
			s.insert(prev)
		}
	}
	return s.insert(name)
}

// insert adds name to byHash (or clashed) unless it repeats a name there,
// and reports whether it does.
func (s *names) insert(name []byte) bool {
	var tmp [64]byte
	f := appendFolded(tmp[:0], name)
	h := foldedHash(f)
	if s.hash != nil {
		h = s.hash(bytes.Clone(f)) // a copy, so that tmp stays on the stack
	}
	prev, ok := s.byHash[h]
	if !ok {
		s.byHash[h] = name
		return false
	}
	if bytes.EqualFold(prev, name) {
		return true
	}
	for _, c := range s.clashed {
		if bytes.EqualFold(c, name) {
			return true
		}
	}
	s.clashed = append(s.clashed, name)
	return false
}

// appendFolded appends name with each rune replaced by the smallest rune
// of its simple case-folding orbit (invalid UTF-8 as U+FFFD), so that two
// names fold to the same bytes exactly when bytes.EqualFold holds.
func appendFolded(dst, name []byte) []byte {
	for i := 0; i < len(name); {
		if c := name[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(name[i:])
		i += n
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		dst = utf8.AppendRune(dst, least)
	}
	return dst
}

// match is the property of o a name stands for, as encoding/json picks
// a struct field: the exact name, else one equal ignoring case.
func (o *object) match(name []byte) *prop {
	for i := range o.props {
		if o.props[i].name == string(name) {
			return &o.props[i]
		}
	}
	var buf [64]byte
	folded := appendFolded(buf[:0], name)
	for i := range o.props {
		if string(o.props[i].folded) == string(folded) {
			return &o.props[i]
		}
	}
	return nil
}

func (o *object) known(name []byte) bool {
	for i := range o.props {
		if o.props[i].name == string(name) {
			return true
		}
	}
	return false
}

// push and pop step the pointer to where the reader is.
func (d *reader) push(seg segment) {
	if d.depth < len(d.path) {
		d.path[d.depth] = seg
	} else {
		d.deep = append(d.deep, seg)
	}
	d.depth++
}

func (d *reader) pop() {
	d.depth--
	if d.depth >= len(d.path) {
		d.deep = d.deep[:len(d.deep)-1]
	}
}

// enter steps into an array or an object, as deep as encoding/json
// allows.
func (d *reader) enter() bool {
	d.nest++
	d.i++
	if d.nest > maxDepth {
		d.fail(tooDeep)
		return false
	}
	return true
}

// object reads the object at d.i == '{' into o, or only walks it when o
// is nil.
func (d *reader) object(o *object) {
	if !d.enter() {
		return
	}
	if o != nil && o.open != nil {
		o.open(d.req)
	}
	var seen names
	if d.closes('}') {
		return
	}
	for d.err == nil {
		d.space()
		name := d.key()
		if d.err != nil {
			return
		}
		d.push(segment{key: name})
		if seen.add(name) {
			d.repeat()
		}
		var p *prop
		if o != nil {
			p = o.match(name)
			if o.refuse && !o.known(name) {
				d.unknown[o.slot] = append(d.unknown[o.slot], string(name))
			}
		}
		if !d.colon() {
			return
		}
		if o == envelopeObject && p == nil && IsDryRunName(name) {
			// Not unknown metadata: a dry run the body asks for.
			start := d.i
			d.value(nil)
			if d.err == nil && AsksDryRun(d.b[start:d.i]) && d.req != nil {
				d.req.DryRun = true
			}
		} else if d.top1 != nil && o == envelopeObject && d.top1.take(d, name, p) {
			if d.top1.stopped {
				return // another shape than the envelope
			}
		} else if p != nil && p.obj != nil && p.obj.refuse {
			// The last occurrence of a refusing object counts, with
			// everything under it.
			for _, s := range p.obj.subslots {
				d.unknown[s] = d.unknown[s][:0]
			}
			before := d.typeErrs
			d.value(p)
			if p.obj.group == p.obj.slot {
				d.dirty[p.obj.slot] = d.typeErrs > before
			}
		} else {
			d.value(p)
		}
		d.pop()
		if !d.next('}') {
			return
		}
	}
}

// closes steps over the end of the object or array just entered when it
// is empty.
func (d *reader) closes(end byte) bool {
	d.space()
	if d.i < len(d.b) && d.b[d.i] == end {
		d.i++
		d.nest--
		return true
	}
	return false
}

// colon steps over the ':' after a property's name, to its value.
func (d *reader) colon() bool {
	d.space()
	if d.i >= len(d.b) || d.b[d.i] != ':' {
		d.endOr("invalid character after object key")
		return false
	}
	d.i++
	d.space()
	return true
}

// next steps over what follows a value in an object or array (end says
// which): true at a ',' with more to read, false at its end or an error.
func (d *reader) next(end byte) bool {
	d.space()
	if d.i >= len(d.b) {
		d.fail("unexpected end of JSON input")
		return false
	}
	switch d.b[d.i] {
	case ',':
		d.i++
		return true
	case end:
		d.i++
		d.nest--
		return false
	}
	if end == '}' {
		d.fail("invalid character after object key:value pair")
	} else {
		d.fail("invalid character after array element")
	}
	return false
}

// endOr fails with msg, or as the input's end when it has ended.
func (d *reader) endOr(msg string) {
	if d.i >= len(d.b) {
		msg = "unexpected end of JSON input"
	}
	d.fail(msg)
}

// array walks the array at d.i == '['.
func (d *reader) array() {
	if !d.enter() || d.closes(']') {
		return
	}
	for n := 0; d.err == nil; n++ {
		d.space()
		d.push(segment{index: n})
		d.value(nil)
		d.pop()
		if !d.next(']') {
			return
		}
	}
}

// repeat notes that the property where the reader is repeats another,
// each pointer once.
func (d *reader) repeat() {
	p := d.pointer()
	if d.dupAt == nil {
		if contains(d.dups, p) {
			return
		}
		if len(d.dups) < 16 {
			d.dups = append(d.dups, p)
			return
		}
		d.dupAt = make(map[string]struct{}, 2*len(d.dups))
		for _, q := range d.dups {
			d.dupAt[q] = struct{}{}
		}
	}
	if _, ok := d.dupAt[p]; !ok {
		d.dupAt[p] = struct{}{}
		d.dups = append(d.dups, p)
	}
}

// pointer is the JSON pointer of where the reader is, each name cut to 64
// bytes.
func (d *reader) pointer() string {
	var p strings.Builder
	for i := range d.depth {
		seg := d.path[min(i, len(d.path)-1)]
		if i >= len(d.path) {
			seg = d.deep[i-len(d.path)]
		}
		p.WriteByte('/')
		if seg.key == nil {
			p.WriteString(strconv.Itoa(seg.index))
		} else {
			p.WriteString(PointerSegment(string(seg.key)))
		}
	}
	return p.String()
}

// unknownFields reports the unknown properties of the refusing objects;
// with clean, only of those without a value of the wrong type inside
// their outermost refusing object (there is no such object to name the
// properties of).
func (d *reader) unknownFields(clean bool) []FieldError {
	var out []FieldError
	for _, o := range refusing {
		if clean && d.dirty[o.group] {
			continue
		}
		for _, k := range d.unknown[o.slot] {
			out = append(out, unknownField(o.at, k, o.names))
		}
	}
	return out
}

// duplicateKeys returns a JSON pointer for every property that appears
// twice in the same object, at any depth of the valid JSON body.
// encoding/json keeps the last one silently, so a reviewer reading the
// first would see another change than the one Graph gets.
func duplicateKeys(body []byte) []string {
	d := reader{b: body}
	d.document(nil)
	return d.dups
}

// Decode parses the generic envelope and validates every field. It returns
// a *Error with CodeMalformed when body is not JSON, and CodeInvalid with all
// field errors, sorted by field, when it is JSON but not a valid change.
// Unknown properties inside "assignment" are refused, so a typo never
// becomes a silent no-op; unknown top-level properties are ignored so
// senders may add their own metadata. A property repeated in one object,
// at any depth, is refused: encoding/json would keep the last silently.
//
// The body is read once, by a reader that fills the Request and finds the
// repeated, unknown and wrongly typed properties in the same walk; it
// accepts and decodes exactly what encoding/json's Unmarshal would.
func Decode(body []byte, opts *Options) (*Request, error) {
	r := new(Request)
	d := reader{b: body, req: r}
	d.document(envelopeObject)
	fields, err := d.settle()
	if err != nil {
		return nil, err
	}
	return r.decided(fields, opts)
}

// settle is what the reader found that does not depend on the options:
// the error of a body that is no envelope, else the unknown and repeated
// properties; the Request's strings are in place.
func (d *reader) settle() ([]FieldError, error) {
	if d.err != nil {
		msg := MessageNotJSON
		if d.err.msg == tooDeep {
			msg = MessageTooDeep
		}
		return nil, &Error{Code: CodeMalformed, Message: msg, Err: d.err}
	}
	if d.top {
		return nil, invalid(FieldError{Field: "", Reason: "the body must be a JSON object"})
	}
	if d.typeErrs > 0 {
		// Only the first value of the wrong type is named, and the unknown
		// properties of an assignment without one.
		fields := d.unknownFields(true)
		fields = append(fields, FieldError{Field: d.typeAt, Reason: "must be a " + d.typeKind})
		return nil, invalid(fields...)
	}
	d.finish()
	fields := d.unknownFields(false)
	for _, p := range d.dups {
		fields = append(fields, FieldError{Field: p, Reason: "appears more than once; send each property once"})
	}
	return fields, nil
}

// decided validates r, read with fields found on the way, under opts.
func (r *Request) decided(fields []FieldError, opts *Options) (*Request, error) {
	fields = append(fields, r.check(opts)...)
	if len(fields) > 0 {
		return nil, invalid(fields...)
	}
	r.Normalize()
	return r, nil
}

// ReadOptions name the top-level properties beyond the envelope that Read
// looks at, each matched as encoding/json matches a field's name (exactly,
// else ignoring case). Empty names none.
type ReadOptions struct {
	// Stamp is a property whose raw JSON value Read keeps
	// (Reading.Stamp): a sender's signed timestamp.
	Stamp string
	// Stop is a property that, with a value other than null, makes the
	// body another shape than the envelope (a sender's own webhook): Read
	// stops there (Reading.Stopped), having read little of such a body.
	Stop string
}

// Reading is a body Read has read once, not yet validated: what a sender's
// Authenticate reads of an authenticated body that is the envelope, for
// its Decode to validate, so that the body is parsed once.
type Reading struct {
	req    Request
	fields []FieldError // unknown and repeated properties
	err    error        // Decode's answer to a body that is no envelope
	// Stamp is the raw JSON value of the last top-level property that
	// ReadOptions.Stamp names; nil when there is none. It is a part of
	// the body read.
	Stamp []byte
	// Stopped: Read met ReadOptions.Stop and stopped (see there). Nothing
	// else of the Reading is set.
	Stopped bool
	// Ticket: the body is JSON and has a top-level "ticket" (of any
	// value, null too).
	Ticket bool

	top topLevel
}

// topLevel is what Read keeps of the top level as the reader goes.
type topLevel struct {
	stamp, stop     string
	stamped         []byte
	stopped, ticket bool
}

// take reads the value at d.i of the envelope's top-level property name
// (p, nil when the envelope has none of that name) when t wants it, and
// reports whether it did; the reader stops at t.stop.
func (t *topLevel) take(d *reader, name []byte, p *prop) bool {
	switch {
	case p != nil:
		t.ticket = t.ticket || p.obj == ticketObject
	case t.stop != "" && bytes.EqualFold(name, []byte(t.stop)) && d.i < len(d.b) && d.b[d.i] != 'n':
		t.stopped = true
		d.i = len(d.b)
		return true
	case t.stamp != "" && bytes.EqualFold(name, []byte(t.stamp)):
		start := d.i
		d.value(nil)
		t.stamped = d.b[start:d.i]
		return true
	}
	return false
}

// Read reads body as Decode does, keeping what o names of its top level
// (nil names nothing). Its Decode validates what it read. A body that is
// not JSON has no Stamp and no Ticket.
func Read(body []byte, o *ReadOptions) *Reading {
	rd := new(Reading)
	t := &rd.top
	if o != nil {
		t.stamp, t.stop = o.Stamp, o.Stop
	}
	d := reader{b: body, req: &rd.req, top1: t}
	d.document(envelopeObject)
	if t.stopped {
		*rd = Reading{Stopped: true}
		return rd
	}
	rd.fields, rd.err = d.settle()
	if d.err == nil {
		rd.Stamp, rd.Ticket = t.stamped, t.ticket
	}
	return rd
}

// Decode validates the envelope read under opts, with Decode's answers
// (the package's Decode); it is called once. A stopped reading is no
// envelope: CodeInvalid.
func (rd *Reading) Decode(opts *Options) (*Request, error) {
	switch {
	case rd.Stopped:
		return nil, invalid(FieldError{Field: "", Reason: "is not the envelope"})
	case rd.err != nil:
		return nil, rd.err
	}
	return rd.req.decided(rd.fields, opts) // the Request is rd's own
}
