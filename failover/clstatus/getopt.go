package clstatus

import (
	"fmt"
	"io"
	"strings"
)

// getopt parses args the way heartbeat's cl_status does: glibc getopt over
// the sub-command's arguments (args[0] is the sub-command, which glibc
// names in its messages), permuting, so options may follow operands; "--"
// ends the options. An option not in letters gets glibc's message and
// makes bad true; with stop, parsing ends there (the sub-commands that
// fail on it), else it goes on (hbstatus ignores it). The options before
// it are kept, as cl_status has already acted on them.
func getopt(args []string, letters string, stop bool, stderr io.Writer) (opts map[byte]bool, operands []string, bad bool) {
	opts = map[byte]bool{}
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			operands = append(operands, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			operands = append(operands, a)
			continue
		}
		if strings.HasPrefix(a, "--") {
			fmt.Fprintf(stderr, "%s: unrecognized option '%s'\n", args[0], a)
			if bad = true; stop {
				return opts, operands, true
			}
			continue
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			if c == ':' || strings.IndexByte(letters, c) < 0 {
				fmt.Fprintf(stderr, "%s: invalid option -- '%c'\n", args[0], c)
				if bad = true; stop {
					return opts, operands, true
				}
				continue
			}
			opts[c] = true
		}
	}
	return opts, operands, bad
}
