package director

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// maxExecuteFiles bounds how many configuration files execute= may reach
// from one file: each one is a running ldirectord.
const maxExecuteFiles = 64

// executeCycles follows cfg's execute= lines through opts.FindConfig and
// returns an *Error at the line that closes a cycle (a file that, through
// execute=, runs itself), or when too many files are reached. A target
// that is missing or does not parse is not followed: its own ldirectord
// reports it when execute= runs it.
func executeCycles(path string, cfg *Config, opts ParseOptions) error {
	child := opts
	child.FindConfig = nil // each file is walked from here, not again
	w := &execWalk{find: opts.FindConfig, opts: child, done: map[string]bool{}}
	st, err := os.Stat(path)
	if err != nil {
		return nil
	}
	return w.visit([]execHop{{name: path, info: st}}, cfg)
}

type execHop struct {
	name string // as written in execute= (the first: the file's path)
	info os.FileInfo
}

type execWalk struct {
	find  func(string) string
	opts  ParseOptions    // for the files reached
	done  map[string]bool // resolved paths already walked without a cycle
	files int
}

func (w *execWalk) visit(stack []execHop, cfg *Config) error {
	for i, name := range cfg.Global.Execute {
		p := w.find(name)
		if p == "" {
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		for j, h := range stack {
			if os.SameFile(h.info, st) {
				var chain []string
				for _, h := range stack[j:] {
					chain = append(chain, quoteOdd(h.name))
				}
				chain = append(chain, quoteOdd(name))
				return &Error{File: cfg.File, Line: cfg.executeLine[i],
					Msg: fmt.Sprintf("execute=%s makes a cycle: %s", cfQuote(name), strings.Join(chain, " -> "))}
			}
		}
		if w.done[p] {
			continue
		}
		if w.files++; w.files > maxExecuteFiles {
			return &Error{File: cfg.File, Line: cfg.executeLine[i],
				Msg: fmt.Sprintf("execute=%s: more than %d configuration files reached through execute=", cfQuote(name), maxExecuteFiles)}
		}
		next, err := ParseFile(p, w.opts)
		if err != nil {
			continue
		}
		if err := w.visit(append(stack[:len(stack):len(stack)], execHop{name: name, info: st}), next); err != nil {
			return err
		}
		w.done[p] = true
	}
	return nil
}

// quoteOdd quotes s only when it holds bytes that should not be echoed raw.
func quoteOdd(s string) string {
	if q := strconv.Quote(s); q[1:len(q)-1] != s {
		return q
	}
	return s
}
