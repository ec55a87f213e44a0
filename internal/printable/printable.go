// Package printable escapes text from config files and the network before
// it reaches a terminal or a log: one rule for every error message that
// quotes what it read.
package printable

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// String escapes control characters and bytes that are not UTF-8 (as \x1b,
// \r, \xff); the rest, and text that is already quoted, is left as it is.
func String(s string) string {
	clean := utf8.ValidString(s)
	for _, r := range s {
		if !isPrintable(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case !isPrintable(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func isPrintable(r rune) bool { return r == '\t' || unicode.IsPrint(r) }
