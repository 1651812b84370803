package change

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/secure/bidirule"
	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/bidi"
	"golang.org/x/text/unicode/norm"
)

// Errors of NormalizeIdentity. Their text is a reason for a field error and
// never quotes the identity.
var (
	// ErrIdentityInvisible: the identity holds a character that cannot be
	// seen (zero-width space and joiners, bidirectional controls, soft
	// hyphen, variation selectors, Hangul fillers, tag characters, other
	// Unicode format (Cf), control (Cc) or private-use (Co) characters, line
	// and paragraph separators). Two spellings of one user would compare
	// unequal while reading the same.
	ErrIdentityInvisible = errors.New("must not contain invisible or format characters (zero-width, bidirectional, variation selectors or other Unicode format characters)")
	// ErrIdentityMixedScript: one label (a part between '.', '@' or spaces)
	// has letters of more than one script, such as a Cyrillic 'с' among
	// Latin letters: the shape of a lookalike.
	ErrIdentityMixedScript = errors.New("mixes letters of more than one script (for example Latin and Cyrillic) in one part between '.', '@' or spaces")
	// ErrIdentityForm: the identity is not a user name or e-mail address
	// the PRECIS UsernameCaseMapped profile (RFC 8265) accepts: symbols,
	// non-ASCII punctuation, compatibility characters (ligatures,
	// mathematical or circled letters), unassigned code points, or an empty
	// part around '@' or between the labels of a domain.
	ErrIdentityForm = errors.New("must be a user name or e-mail address of letters, digits and ASCII punctuation (RFC 8265 PRECIS user name: no symbols, compatibility or unassigned characters, nothing empty around '@')")
)

// NormalizeIdentity returns the form in which separation of duties compares
// a user identity (a user name, an e-mail address, a display name or a
// sender's user id), or an error (ErrIdentityInvisible,
// ErrIdentityMixedScript, ErrIdentityForm) when the identity cannot be
// compared soundly. "" normalises to "".
//
// The rules, in order:
//   - invisible and format characters are refused, not removed: stripping
//     them would let the stripped text through unseen in the audit trail;
//   - every Unicode space becomes ' ', runs of spaces become one, and the
//     ends are trimmed; fullwidth '＠' and '．' and the ideographic full
//     stops become '@' and '.';
//   - the last '@' splits a local part from a domain; a trailing '.' of
//     the domain is dropped (an absolute domain name is the same domain);
//   - each space-separated word of the local part and each label of the
//     domain is enforced with PRECIS UsernameCaseMapped (RFC 8265: width
//     folded, so fullwidth letters read as ASCII; lower-cased; NFC;
//     the bidi rule), RFC 8265 §3.1's advice for user names with spaces;
//   - a label (a part between '.', '@' or spaces) may hold letters of one
//     script only, Common and Inherited characters (digits, '-', '_',
//     combining marks) aside; Han with Hiragana and Katakana, with
//     Bopomofo, or with Hangul counts as one script (Japanese, Chinese and
//     Korean writing, as Unicode TR 39 allows).
//
// Normalising is idempotent: NormalizeIdentity of a result is the result.
// Whole-script lookalikes (an all-Cyrillic "асе" for the Latin "ace") are
// different identities here; nothing short of a confusables table tells
// them apart.
func NormalizeIdentity(s string) (string, error) {
	if n, err, ok := normalizeASCII(s); ok {
		return n, err
	}
	return normalizeIdentity(s)
}

// normalizeASCII is NormalizeIdentity of a string of printable ASCII, the
// form of nearly every name and address a sender gives, and ok false for
// any other string. PRECIS keeps every printable ASCII character but the
// space and maps none but the upper-case letters, and ASCII letters are
// all Latin, so what is left of the rules is the spaces, the shape of an
// address and the case. It allocates only when the result differs from s
// (FuzzNormalizeIdentityASCII holds it to normalizeIdentity).
func normalizeASCII(s string) (n string, err error, ok bool) {
	upper, spaces := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			return "", nil, false
		}
		upper = upper || 'A' <= c && c <= 'Z'
		spaces = spaces || c == ' ' && (i == 0 || i == len(s)-1 || s[i+1] == ' ')
	}
	t := s
	if spaces {
		t = strings.Join(strings.Fields(s), " ")
	}
	if t == "" {
		return "", nil, true
	}
	if local, domain, email := cutLast(t, "@"); email {
		local = strings.TrimSpace(local)
		domain = strings.TrimSuffix(strings.TrimSpace(domain), ".")
		if local == "" || domain == "" || strings.Contains(local, "@") || strings.Contains(domain, " ") ||
			strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
			return "", ErrIdentityForm, true
		}
		if len(local)+1+len(domain) != len(t) {
			t = local + "@" + domain
		}
	}
	if upper {
		t = strings.ToLower(t)
	}
	return t, nil, true
}

// normalizeIdentity is NormalizeIdentity of any string.
func normalizeIdentity(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", ErrIdentityForm
	}
	var b strings.Builder
	b.Grow(len(s))
	space := true // at the start: drop leading spaces
	for _, r := range s {
		if invisible(r) {
			return "", ErrIdentityInvisible
		}
		switch {
		case unicode.Is(unicode.Zs, r):
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		case r == '\uFF20': // FULLWIDTH COMMERCIAL AT
			r = '@'
		case r == '\uFF0E' || r == '\u3002' || r == '\uFF61': // fullwidth, ideographic, halfwidth ideographic full stop
			r = '.'
		}
		b.WriteRune(r)
		space = false
	}
	t := strings.TrimSuffix(b.String(), " ")
	if t == "" {
		return "", nil
	}
	local, domain, email := cutLast(t, "@")
	if email {
		local = strings.TrimSpace(local)
		domain = strings.TrimSuffix(strings.TrimSpace(domain), ".")
		if local == "" || domain == "" || strings.Contains(domain, " ") {
			return "", ErrIdentityForm
		}
	}
	var out strings.Builder
	out.Grow(len(t))
	for i, word := range strings.Split(local, " ") {
		if word == "" {
			continue // a space next to the '@'
		}
		w, err := enforce(word)
		if err != nil {
			return "", err
		}
		for _, label := range strings.Split(w, ".") {
			if !oneScript(label) {
				return "", ErrIdentityMixedScript
			}
		}
		if i > 0 && out.Len() > 0 {
			out.WriteByte(' ')
		}
		out.WriteString(w)
	}
	if !email {
		return out.String(), nil
	}
	out.WriteByte('@')
	for i, label := range strings.Split(domain, ".") {
		if label == "" {
			return "", ErrIdentityForm
		}
		l, err := enforce(label)
		if err != nil {
			return "", err
		}
		if strings.Contains(l, ".") {
			return "", ErrIdentityForm // a label that folds into two
		}
		if !oneScript(l) {
			return "", ErrIdentityMixedScript
		}
		if i > 0 {
			out.WriteByte('.')
		}
		out.WriteString(l)
	}
	return out.String(), nil
}

// usernameCaseMapped is PRECIS UsernameCaseMapped (RFC 8265 §3.3: the
// IdentifierClass, width folding, lower case, NFC) with its directionality
// rule applied as §3.4.4 says, to strings that hold right-to-left
// characters only. precis.UsernameCaseMapped applies the Bidi Rule to
// every non-ASCII string, which refuses left-to-right names that start
// with a digit ("1müller"); otherwise the two agree (FuzzNormalizeIdentity).
var usernameCaseMapped = precis.NewIdentifier(precis.FoldWidth, precis.LowerCase(), precis.Norm(norm.NFC))

// enforce applies UsernameCaseMapped to one word or label. A word that
// width folding would turn into two ('@', '.' or a space) is refused
// rather than re-split, so that the result is stable.
func enforce(s string) (string, error) {
	w, err := usernameCaseMapped.String(s)
	if err != nil || w == "" || strings.ContainsAny(w, "@ ") {
		return "", ErrIdentityForm
	}
	if bidirule.DirectionString(w) != bidi.LeftToRight && !bidirule.ValidString(w) {
		return "", ErrIdentityForm
	}
	for _, r := range w {
		if invisible(r) {
			return "", ErrIdentityInvisible
		}
	}
	return w, nil
}

// SameIdentity reports whether a and b name one user for separation of
// duties: equal once normalised, or, when exactly one of them is an e-mail
// address, the other equals its local part ("alice" is
// "alice@contoso.com": a sender may give a bare user name on one side and
// an address on the other, and treating them as one user refuses, which is
// the safe side). Empty identities are nobody and never the same. When
// either cannot be normalised (a request that has not been validated),
// they compare as the same when equal ignoring case and surrounding
// spaces, as they did before normalisation.
func SameIdentity(a, b string) bool {
	na, errA := NormalizeIdentity(a)
	nb, errB := NormalizeIdentity(b)
	if errA != nil || errB != nil {
		a, b = strings.TrimSpace(a), strings.TrimSpace(b)
		return a != "" && strings.EqualFold(a, b)
	}
	if na == "" || nb == "" {
		return false
	}
	if na == nb {
		return true
	}
	la, _, ea := cutLast(na, "@")
	lb, _, eb := cutLast(nb, "@")
	return ea != eb && la == lb
}

// SameID reports whether two stable user ids (a ServiceNow sys_id, a Jira
// accountId) are one: equal once normalised, ignoring case. Unlike
// SameIdentity there is no local-part rule: an id is opaque. Empty ids
// are nobody.
func SameID(a, b string) bool {
	na, errA := NormalizeIdentity(a)
	nb, errB := NormalizeIdentity(b)
	if errA != nil || errB != nil {
		a, b = strings.TrimSpace(a), strings.TrimSpace(b)
		return a != "" && strings.EqualFold(a, b)
	}
	return na != "" && na == nb
}

// SelfApproved reports whether the ticket's approver is its requester:
// the same stable id when the sender gave both (RequestedByID,
// ApprovedByID), or the same identity (SameIdentity of RequestedBy and
// ApprovedBy). Ids only add refusals: two different ids with one name are
// still one user here, since a name that reads the same to the reviewer of
// the audit trail cannot be told apart there. The error is
// NormalizeIdentity's for the first of the four that cannot be compared
// (a ticket that was not validated); the answer is then true, the safe
// side.
func (t *Ticket) SelfApproved() (bool, error) {
	for _, s := range []string{t.RequestedBy, t.ApprovedBy, t.RequestedByID, t.ApprovedByID} {
		if _, err := NormalizeIdentity(s); err != nil {
			return true, err
		}
	}
	return SameID(t.RequestedByID, t.ApprovedByID) || SameIdentity(t.RequestedBy, t.ApprovedBy), nil
}

// identityFields reports the ticket's identities that cannot be compared,
// with their pointers; fields the validator refuses already (too long,
// control characters, invalid UTF-8) are left to it.
func (t *Ticket) identityFields() []FieldError {
	var out []FieldError
	for _, f := range []struct{ at, v string }{
		{"/ticket/requestedBy", t.RequestedBy},
		{"/ticket/approvedBy", t.ApprovedBy},
		{"/ticket/requestedById", t.RequestedByID},
		{"/ticket/approvedById", t.ApprovedByID},
	} {
		if f.v == "" || len(f.v) > 256 || !safeText(f.v) {
			continue
		}
		if _, err := NormalizeIdentity(f.v); err != nil {
			out = append(out, FieldError{Field: f.at, Reason: err.Error()})
		}
	}
	return out
}

// invisible reports characters that do not show: see ErrIdentityInvisible.
func invisible(r rune) bool {
	if r < utf8.RuneSelf {
		return r < 0x20 || r == 0x7f
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Zl, unicode.Zp,
		unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point)
}

// oneScript reports whether the letters of label belong to one script
// (see NormalizeIdentity for the CJK combinations).
func oneScript(label string) bool {
	var seen []string
	for _, r := range label {
		if s := scriptOf(r); s != "" && !contains(seen, s) {
			seen = append(seen, s)
		}
	}
	if len(seen) <= 1 {
		return true
	}
	for _, set := range cjkSets {
		all := true
		for _, s := range seen {
			all = all && contains(set, s)
		}
		if all {
			return true
		}
	}
	return false
}

// cjkSets are the scripts one label may mix: Japanese, Chinese and Korean
// writing (Unicode TR 39, "highly restrictive", without Latin).
var cjkSets = [][]string{{"Han", "Hiragana", "Katakana"}, {"Han", "Bopomofo"}, {"Han", "Hangul"}}

// scriptOf returns r's Unicode script, or "" for Common and Inherited
// characters (digits, punctuation, combining marks shared by scripts).
func scriptOf(r rune) string {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
			return "Latin"
		}
		return ""
	}
	if unicode.Is(unicode.Common, r) || unicode.Is(unicode.Inherited, r) {
		return ""
	}
	for name, table := range unicode.Scripts {
		if unicode.Is(table, r) {
			return name
		}
	}
	return "" // unassigned: PRECIS has refused it already
}

// cutLast is strings.Cut at the last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}
