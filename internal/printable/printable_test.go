package printable

import "testing"

func TestString(t *testing.T) {
	for in, want := range map[string]string{
		"plain text, tabs\tand ünïcode": "plain text, tabs\tand ünïcode",
		"esc \x1b[31m red":              `esc \x1b[31m red`,
		"cr\rlf\n nul\x00":              `cr\rlf\n nul\x00`,
		"bad utf8 \xff\xfe":             `bad utf8 \xff\xfe`,
	} {
		if got := String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
}
