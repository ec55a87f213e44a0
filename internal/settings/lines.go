package settings

import (
	"strings"

	"github.com/BurntSushi/toml"
)

// keyLine finds the line (1-based) where key is defined in a TOML
// document: a table header or a key/value line whose full key starts with
// key; failing that, the innermost table or inline-table key that contains
// it. 0 when nothing matches. The decoder keeps key positions to itself, so
// this reads the lines again; it understands table headers, dotted and
// quoted keys, comments and multi-line strings, which is all a settings
// file has.
func keyLine(data []byte, key toml.Key) int {
	var table []string
	best, bestLen := 0, -1
	inMulti := "" // closing delimiter of a multi-line string in progress
	for i, line := range strings.Split(string(data), "\n") {
		if inMulti != "" {
			if strings.Contains(line, inMulti) {
				inMulti = ""
			}
			continue
		}
		s := strings.TrimSpace(line)
		if s == "" || s[0] == '#' {
			continue
		}
		var path []string
		if s[0] == '[' {
			inner := strings.TrimPrefix(s[1:], "[")
			parts, rest, ok := parseKey(inner)
			if !ok || !strings.HasPrefix(strings.TrimSpace(rest), "]") {
				continue
			}
			table, path = parts, parts
		} else {
			parts, rest, ok := parseKey(s)
			rest = strings.TrimSpace(rest)
			if !ok || !strings.HasPrefix(rest, "=") {
				continue
			}
			path = append(append([]string(nil), table...), parts...)
			for _, q := range []string{`"""`, `'''`} {
				v := strings.TrimSpace(rest[1:])
				if strings.HasPrefix(v, q) && !strings.Contains(v[3:], q) {
					inMulti = q
				}
			}
		}
		if hasPrefix(path, key) {
			return i + 1
		}
		if hasPrefix(key, path) && len(path) > bestLen {
			best, bestLen = i+1, len(path)
		}
	}
	return best
}

func hasPrefix(a, prefix []string) bool {
	if len(prefix) > len(a) {
		return false
	}
	for i := range prefix {
		if a[i] != prefix[i] {
			return false
		}
	}
	return true
}

// parseKey reads a dotted key (bare, "basic" or 'literal' parts) at the
// start of s and returns its parts and what follows it.
func parseKey(s string) (parts []string, rest string, ok bool) {
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return nil, "", false
		}
		var part string
		switch s[0] {
		case '"':
			var b strings.Builder
			j := 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, "", false
			}
			part, s = b.String(), s[j+1:]
		case '\'':
			j := strings.IndexByte(s[1:], '\'')
			if j < 0 {
				return nil, "", false
			}
			part, s = s[1:j+1], s[j+2:]
		default:
			j := 0
			for j < len(s) && isBare(s[j]) {
				j++
			}
			if j == 0 {
				return nil, "", false
			}
			part, s = s[:j], s[j:]
		}
		parts = append(parts, part)
		t := strings.TrimLeft(s, " \t")
		if !strings.HasPrefix(t, ".") {
			return parts, s, true
		}
		s = t[1:]
	}
}

func isBare(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}
