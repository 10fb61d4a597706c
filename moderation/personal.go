package moderation

// The personal-data rules: a post that names a patient, carries a phone
// number or an NHS number, is held for a moderator whatever the event's
// mode, with what matched marked on the moderator's card. Each rule has a
// switch name (the Check names below) that Rules.Off turns off. The
// detectors look at the post's plain text only, since that is what the
// screens show, and report byte spans of it. They are tuned to hold too
// much rather than too little: a held post costs a moderator a key, a
// shown phone number cannot be taken back.

import (
	"regexp"
	"strings"

	"github.com/backchannel/backchannel/event"
)

// The switch names of the rules (config: moderation.checks_off) and the
// names moderators see.
const (
	CheckPhone       = "phone"
	CheckEmail       = "email"
	CheckNHSNumber   = "nhs_number"
	CheckPostcode    = "postcode"
	CheckDateOfBirth = "date_of_birth"
	CheckHospital    = "hospital"
	CheckDuplicate   = "duplicate"
	CheckLinks       = "links"
	CheckFlood       = "flood"
)

// Checks lists every switch name, in the order the rules run.
var Checks = []string{CheckPhone, CheckEmail, CheckNHSNumber, CheckPostcode, CheckDateOfBirth, CheckHospital,
	CheckDuplicate, CheckLinks, CheckFlood}

// The rule names a moderator sees on a check.
const (
	RulePhone       = "personal data: UK phone number"
	RuleEmail       = "personal data: email address"
	RuleNHSNumber   = "personal data: NHS number"
	RulePostcode    = "personal data: postcode"
	RuleDateOfBirth = "personal data: date of birth"
	RuleHospital    = "personal data: a person placed in hospital"
	RuleMedia       = "media: held until a moderator has looked"
	RuleDuplicate   = "spam: same text again"
	RuleLinks       = "spam: link from a new or little-followed account"
	RuleFlood       = "spam: too many posts a minute"
)

var (
	urlRe   = regexp.MustCompile(`(?i)\b(?:https?://|www\.)[^\s<>"]+`)
	emailRe = regexp.MustCompile(`(?i)[a-z0-9][a-z0-9._%+\-]*@[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?)*\.[a-z]{2,}`)
	// A run of digits and the separators people write numbers with,
	// starting with +44 or a 0 (a UK number) or any digit (an NHS number).
	numberRe   = regexp.MustCompile(`(?:\+\s?44\s?(?:\(0\)\s?)?|\(?)\d[\d\s\-().]{7,16}\d`)
	postcodeRe = regexp.MustCompile(`(?i)\b([A-PR-UWYZ][A-HK-Y]?[0-9][A-Z0-9]?) ?([0-9][ABD-HJLNP-UW-Z]{2})\b`)
	months     = `(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)`
	dateRe     = regexp.MustCompile(`(?i)\b(?:\d{1,2}[/.\-]\d{1,2}[/.\-](?:\d{4}|\d{2})|\d{4}-\d{2}-\d{2}|\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?` + months + `\.?,?\s+\d{4}|` + months + `\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4})\b`)
	// What makes a date a birth date: said just before it or near it.
	birthRe = regexp.MustCompile(`(?i)\b(?:born|b\.|dob|d\.o\.b\.?|date\s+of\s+birth|birthday|birth\s+date|aged\s+\d{1,3}|\d{1,3}[\s\-]years?[\s\-]old)`)
	// Words that place someone in hospital.
	hospitalRe = regexp.MustCompile(`(?i)\b(?:wards?|beds?|bay|admitted|icu|itu|a&e|resus|intensive care|high dependency)\b`)
	wordRe     = regexp.MustCompile(`[\p{L}][\p{L}'’\-]*`)
)

// personal runs the personal-data rules on text that are not off.
func personal(text string, off func(string) bool, out []event.Check) []event.Check {
	if text == "" {
		return out
	}
	// Cheap looks first: most posts have no '@', few digits and no
	// hospital word, and then the regular expressions never run.
	lower := strings.ToLower(text)
	digits, letterDigit := 0, false
	for i := 0; i < len(text); i++ {
		if c := text[i]; c >= '0' && c <= '9' {
			digits++
			if i > 0 && (text[i-1]|0x20) >= 'a' && (text[i-1]|0x20) <= 'z' {
				letterDigit = true
			}
		}
	}
	var urls [][]int
	if strings.Contains(lower, "http") || strings.Contains(lower, "www.") {
		urls = urlRe.FindAllStringIndex(text, -1)
	}
	inURL := func(s, e int) bool {
		for _, u := range urls {
			if s < u[1] && e > u[0] {
				return true
			}
		}
		return false
	}
	var emails [][]int
	if (!off(CheckEmail) || !off(CheckPhone)) && strings.IndexByte(text, '@') >= 0 {
		for _, m := range emailRe.FindAllStringIndex(text, -1) {
			// "@ada@mastodon.social" is a handle, not an email address.
			if m[0] > 0 && text[m[0]-1] == '@' || inURL(m[0], m[1]) {
				continue
			}
			emails = append(emails, m)
		}
	}
	if !off(CheckEmail) && len(emails) > 0 {
		out = append(out, check(RuleEmail, "", text, emails))
	}
	if (!off(CheckPhone) || !off(CheckNHSNumber)) && digits >= 9 {
		var phones, nhs [][]int
		for _, m := range numberRe.FindAllStringIndex(text, -1) {
			s, e := m[0], m[1]
			if inURL(s, e) || s > 0 && isWordByte(text[s-1]) || e < len(text) && isWordByte(text[e]) {
				continue
			}
			if within(emails, s, e) {
				continue
			}
			raw := text[s:e]
			digits := digitsOf(raw)
			switch {
			case !off(CheckNHSNumber) && len(digits) == 10 && nhsGrouping(raw) && ValidNHSNumber(digits):
				nhs = append(nhs, trimSpan(text, s, e))
			case !off(CheckPhone) && ukPhone(raw, digits):
				phones = append(phones, trimSpan(text, s, e))
			}
		}
		if len(phones) > 0 {
			out = append(out, check(RulePhone, "", text, phones))
		}
		if len(nhs) > 0 {
			out = append(out, check(RuleNHSNumber, "ten digits that pass the NHS number check", text, nhs))
		}
	}
	if !off(CheckPostcode) && letterDigit {
		var pcs [][]int
		for _, m := range postcodeRe.FindAllStringSubmatchIndex(text, -1) {
			if inURL(m[0], m[1]) || within(emails, m[0], m[1]) {
				continue
			}
			in := text[m[4]:m[5]]
			// "B12 4th" is a room and a floor.
			if l := strings.ToLower(in[1:]); in[1:] == l && (l == "th" || l == "st" || l == "nd" || l == "rd") {
				continue
			}
			pcs = append(pcs, []int{m[0], m[1]})
		}
		if len(pcs) > 0 {
			out = append(out, check(RulePostcode, "", text, pcs))
		}
	}
	if !off(CheckDateOfBirth) && digits >= 4 && containsAny(lower, birthWords) {
		var dobs [][]int
		for _, m := range dateRe.FindAllStringIndex(text, -1) {
			if inURL(m[0], m[1]) {
				continue
			}
			lo, hi := max(0, m[0]-40), min(len(text), m[1]+30)
			if birthRe.MatchString(text[lo:m[0]]) || birthRe.MatchString(text[m[1]:hi]) {
				dobs = append(dobs, m)
			}
		}
		if len(dobs) > 0 {
			out = append(out, check(RuleDateOfBirth, "a date said to be a birth date", text, dobs))
		}
	}
	if !off(CheckHospital) && containsAny(lower, hospitalWords) {
		if spans := hospitalNearName(text); spans != nil {
			out = append(out, check(RuleHospital, "a hospital word near a name", text, spans))
		}
	}
	return out
}

func check(rule, detail, text string, spans [][]int) event.Check {
	c := event.Check{Rule: rule, Detail: detail, Score: 1}
	for _, s := range spans {
		c.Spans = append(c.Spans, event.Span{Start: s[0], End: s[1], Text: text[s[0]:s[1]]})
	}
	return c
}

func within(spans [][]int, s, e int) bool {
	for _, m := range spans {
		if s < m[1] && e > m[0] {
			return true
		}
	}
	return false
}

func isWordByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '/' || c == '_'
}

// trimSpan drops separators from the ends of a number's span.
func trimSpan(text string, s, e int) []int {
	keepParen := strings.IndexByte(text[s:e], ')') >= 0
	for s < e && (strings.IndexByte(" -.)", text[s]) >= 0 || text[s] == '(' && !keepParen) {
		s++
	}
	for e > s && strings.IndexByte(" -.(", text[e-1]) >= 0 {
		e--
	}
	return []int{s, e}
}

func digitsOf(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// nhsGrouping reports whether a ten-digit number is written as an NHS
// number is: together, or 3-3-4 with spaces or hyphens.
func nhsGrouping(raw string) bool {
	raw = strings.TrimSpace(raw)
	if len(raw) == 10 {
		return true
	}
	if len(raw) != 12 {
		return false
	}
	return (raw[3] == ' ' || raw[3] == '-') && raw[7] == raw[3]
}

// ValidNHSNumber reports whether ten digits are an NHS number: the tenth
// is the modulus-11 check digit of the first nine (weights 10 down to 2;
// 11 minus the remainder, 11 counting as 0; a check of 10 is no number).
func ValidNHSNumber(digits string) bool {
	if len(digits) != 10 {
		return false
	}
	sum := 0
	for i := 0; i < 9; i++ {
		sum += int(digits[i]-'0') * (10 - i)
	}
	c := 11 - sum%11
	if c == 11 {
		c = 0
	}
	return c != 10 && c == int(digits[9]-'0')
}

// ukPhone reports whether a number is written as a UK phone number: +44
// and 9 or 10 digits, or 0 and 9 or 10 more, the second digit 1, 2, 3, 5,
// 7, 8 or 9 (geographic, non-geographic, mobile, freephone).
func ukPhone(raw, digits string) bool {
	raw = strings.TrimLeft(raw, "( ")
	if strings.HasPrefix(raw, "+") {
		if !strings.HasPrefix(digits, "44") {
			return false
		}
		digits = "0" + strings.TrimPrefix(digits[2:], "0")
	} else if !strings.HasPrefix(raw, "0") {
		return false
	}
	if len(digits) != 10 && len(digits) != 11 {
		return false
	}
	return strings.IndexByte("1235789", digits[1]) >= 0
}

// notNames are capitalised words that name no person: sentence openers,
// places and the words of hospitals' own names.
var notNames = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`I A An The My Our Your His Her Their We He She They It This That These Those There Here
		Today Yesterday Tomorrow Tonight Just So And But Or If When While After Before Thanks Thank Great Good Well Please
		What Why How Who Where Which Is Are Was Were Has Have Had Will Would Can Could Should Must Not No Yes
		Ward Wards Bed Beds Bay Admitted ICU ITU Resus Hospital Hospitals Infirmary General Royal University Teaching
		Trust Foundation NHS Unit Centre Center Clinic Health Care Intensive Dependency Department Emergency Team Staff
		Nurse Nurses Doctor Doctors Consultant Matron Patient Patients Visiting Visitors Mum Dad Nan Grandad Grandma
		St Saint Street Road Lane City Council Leeds London Manchester Bradford Sheffield York Wakefield Birmingham
		Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June July August
		September October November December England Scotland Wales Britain UK`) {
		notNames[w] = true
	}
}

// titles make the capitalised word after them a name.
var titles = map[string]bool{"Mr": true, "Mrs": true, "Ms": true, "Miss": true, "Mx": true, "Dr": true}

// hospitalNearName returns the spans of a hospital word and a name-like
// word at most four words from it, or nil. A name-like word is
// capitalised, not all capitals, not in notNames, and not the first word
// of a sentence unless a title (Mr, Dr) comes before it.
func hospitalNearName(text string) [][]int {
	hw := hospitalRe.FindAllStringIndex(text, -1)
	if hw == nil {
		return nil
	}
	words := wordRe.FindAllStringIndex(text, -1)
	nameAt := map[int]bool{}
	for i, w := range words {
		tok := text[w[0]:w[1]]
		if !nameLike(tok) {
			continue
		}
		prev := ""
		if i > 0 {
			prev = text[words[i-1][0]:words[i-1][1]]
		}
		if prev == "St" {
			continue // St James's is a hospital
		}
		if sentenceStart(text, w[0]) && !titles[prev] {
			continue
		}
		nameAt[i] = true
	}
	var out [][]int
	for _, h := range hw {
		// The word index of the hospital word.
		hi := -1
		for i, w := range words {
			if w[0] >= h[0] {
				hi = i
				break
			}
		}
		if hi < 0 {
			continue
		}
		for i := max(0, hi-4); i <= min(len(words)-1, hi+4); i++ {
			if nameAt[i] {
				out = append(out, h, words[i])
				break
			}
		}
	}
	return out
}

func nameLike(tok string) bool {
	if len(tok) < 2 || tok[0] < 'A' || tok[0] > 'Z' || notNames[strings.TrimRight(tok, "'’s")] || notNames[tok] {
		return false
	}
	return strings.ToUpper(tok) != tok // "NHS", "ICU"
}

// sentenceStart reports whether the word at i begins a sentence: at the
// start of the text, or after ". ", "! ", "? ", a line break.
func sentenceStart(text string, i int) bool {
	j := i - 1
	for j >= 0 && (text[j] == ' ' || text[j] == '\t' || text[j] == '"' || text[j] == '(') {
		j--
	}
	return j < 0 || strings.IndexByte(".!?\n:", text[j]) >= 0
}

// The words without which the date of birth and hospital rules cannot
// match, looked for before their regular expressions run.
var (
	birthWords    = []string{"born", "dob", "d.o.b", "birth", "aged", "year"}
	hospitalWords = []string{"ward", "bed", "bay", "admitted", "icu", "itu", "a&e", "resus", "intensive", "dependency"}
)

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}
