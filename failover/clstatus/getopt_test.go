package clstatus

import (
	"reflect"
	"strings"
	"testing"
)

// glibc's getopt permutes: options may follow operands; "--" ends them;
// an unknown letter gets glibc's message naming the sub-command, and
// parsing stops there only when asked to.
func TestGetopt(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		stop     bool
		opts     string
		operands []string
		bad      bool
		stderr   string
	}{
		{args: []string{"nodestatus", "b"}, operands: []string{"b"}},
		{args: []string{"nodestatus", "b", "-m"}, opts: "m", operands: []string{"b"}},
		{args: []string{"listnodes", "-pn", "-v"}, opts: "npv"},
		{args: []string{"nodestatus", "--", "-m"}, operands: []string{"-m"}},
		{args: []string{"nodestatus", "-x", "b"}, stop: true, bad: true, stderr: "nodestatus: invalid option -- 'x'\n"},
		{args: []string{"hbstatus", "-x", "-m"}, opts: "m", bad: true, stderr: "hbstatus: invalid option -- 'x'\n"},
		{args: []string{"hbstatus", "--verbose"}, bad: true, stderr: "hbstatus: unrecognized option '--verbose'\n"},
	} {
		var se strings.Builder
		letters := "mv"
		if tc.args[0] == "listnodes" {
			letters = "mpnv"
		}
		opts, ops, bad := getopt(tc.args, letters, tc.stop, &se)
		var got []byte
		for _, c := range []byte("mnpv") {
			if opts[c] {
				got = append(got, c)
			}
		}
		if string(got) != tc.opts || !reflect.DeepEqual(ops, tc.operands) || bad != tc.bad || se.String() != tc.stderr {
			t.Errorf("%q: opts %q operands %q bad %v stderr %q; want %q %q %v %q", tc.args, got, ops, bad, se.String(), tc.opts, tc.operands, tc.bad, tc.stderr)
		}
	}
}
