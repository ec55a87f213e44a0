package director

// Lexical helpers of ldirectord.cf: how ldirectord 4.12 splits and reads
// a line and its values.

import (
	"errors"
	"os"
	"strconv"
	"strings"
)

// cfIsSpace is Perl's \s for bytes.
func cfIsSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func cfTrimLeftSpace(s string) string {
	i := 0
	for i < len(s) && cfIsSpace(s[i]) {
		i++
	}
	return s[i:]
}

func cfTrimRightSpace(s string) string {
	i := len(s)
	for i > 0 && cfIsSpace(s[i-1]) {
		i--
	}
	return s[:i]
}

func cfIsBlank(s string) bool { return cfTrimLeftSpace(s) == "" }

func cfIsCommentLine(s string) bool {
	t := cfTrimLeftSpace(s)
	return t != "" && t[0] == '#'
}

func cfIsNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func cfIsDigit(c byte) bool { return c >= '0' && c <= '9' }

// cfAll reports whether s is non-empty and every byte satisfies ok.
func cfAll(s string, ok func(byte) bool) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func cfAllDigits(s string) bool { return cfAll(s, cfIsDigit) }

// cfSplitDirective splits "name = value" (ldirectord's /^name\s*=\s*(.*)/).
func cfSplitDirective(s string) (name, value string, ok bool) {
	i := 0
	for i < len(s) && cfIsNameChar(s[i]) {
		i++
	}
	if i == 0 {
		return "", "", false
	}
	name = s[:i]
	j := i
	for j < len(s) && cfIsSpace(s[j]) {
		j++
	}
	if j >= len(s) || s[j] != '=' {
		return name, "", false
	}
	return name, cfTrimLeftSpace(s[j+1:]), true
}

// cfTolerant is the part of a value that ldirectord's unanchored pattern
// looked at: a "#" comment (possible on global lines only) and trailing
// whitespace are dropped.
func cfTolerant(v string) string {
	if i := strings.IndexByte(v, '#'); i >= 0 {
		v = v[:i]
	}
	return cfTrimRightSpace(v)
}

// cfParseNum reads a non-negative decimal where ldirectord used (\d+).
func cfParseNum(v string) (int, bool) {
	s := cfTolerant(v)
	if !cfAllDigits(s) {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > cfMaxNumber {
		return 0, false
	}
	return int(n), true
}

// cfQuoted reads a value ldirectord matched with /"(.*)"/: the text between
// the first and the last double quote. After the closing quote only
// whitespace (or a # comment on global lines) may follow. ok is false when
// the value does not start with a quote or has no closing quote (ldirectord:
// "Unknown command"); trailing is true when other text follows.
func cfQuoted(v string) (content string, ok, trailing bool) {
	if v == "" || v[0] != '"' {
		return "", false, false
	}
	last := strings.LastIndexByte(v, '"')
	if last == 0 {
		return "", false, false
	}
	return v[1:last], true, cfTolerant(v[last+1:]) != ""
}

// cfOptQuoted reads a value that may be in double quotes
// (/"(.*)"/ or else /(.*)/), for checkcommand, fallbackcommand, monitorfile.
func cfOptQuoted(v string) (content string, wasQuoted, trailing, unbalanced bool) {
	if c, ok, tr := cfQuoted(v); ok {
		return c, true, tr, false
	}
	if v != "" && v[0] == '"' {
		return v, false, false, true
	}
	return v, false, false, false
}

func cfYesNo(v string) (bool, bool) {
	switch v {
	case "yes":
		return true, true
	case "no":
		return false, true
	}
	return false, false
}

func cfErrText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func cfQuote(s string) string { return strconv.Quote(s) }

// yesNoErr is ldirectord's "X must be 'yes' or 'no'" with a hint when the
// value only has trailing whitespace or a comment after yes/no.
func (p *cfParser) yesNoErr(line int, name, v string) error {
	msg := name + " must be 'yes' or 'no'"
	if t := cfTolerant(v); (t == "yes" || t == "no") && t != v {
		msg += ", not " + cfQuote(v) + " (no trailing whitespace or comment is allowed after yes/no, as in ldirectord)"
	}
	return p.errf(line, "%s", msg)
}
