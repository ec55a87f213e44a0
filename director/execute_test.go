package director

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const execBody = "virtual=10.0.0.100:80\n\treal=10.0.1.11:80 masq\n"

// execFiles writes files (name → execute= targets) in a temp dir and
// returns the dir and options that look names up there.
func execFiles(t *testing.T, files map[string][]string) (string, ParseOptions) {
	t.Helper()
	dir := t.TempDir()
	for name, targets := range files {
		var b strings.Builder
		b.WriteString("# " + name + "\n")
		for _, x := range targets {
			b.WriteString("execute=" + x + "\n")
		}
		b.WriteString(execBody)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	find := func(name string) string {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			return ""
		}
		return p
	}
	return dir, ParseOptions{FindConfig: find}
}

func TestExecuteCycles(t *testing.T) {
	cases := []struct {
		name  string
		files map[string][]string
		file  string // where the error is; "" for none
		line  int
		msg   string
	}{
		{"itself", map[string][]string{"a.cf": {"a.cf"}}, "a.cf", 2, "a.cf -> a.cf"},
		{"two", map[string][]string{"a.cf": {"b.cf"}, "b.cf": {"x.cf", "a.cf"}}, "b.cf", 3, "a.cf -> b.cf -> a.cf"},
		{"three", map[string][]string{"a.cf": {"b.cf"}, "b.cf": {"c.cf"}, "c.cf": {"b.cf"}}, "c.cf", 2, "b.cf -> c.cf -> b.cf"},
		{"diamond", map[string][]string{"a.cf": {"b.cf", "c.cf"}, "b.cf": {"d.cf"}, "c.cf": {"d.cf"}, "d.cf": nil}, "", 0, ""},
		{"missing target", map[string][]string{"a.cf": {"nowhere.cf"}}, "", 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, opts := execFiles(t, c.files)
			_, err := ParseFile(filepath.Join(dir, "a.cf"), opts)
			if c.file == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("want a cycle error, got %v", err)
			}
			if ce.File != filepath.Join(dir, c.file) || ce.Line != c.line || !strings.Contains(ce.Msg, "cycle") || !strings.Contains(ce.Msg, c.msg) {
				t.Fatalf("got %s:%d %q; want %s:%d ~%q", ce.File, ce.Line, ce.Msg, c.file, c.line, c.msg)
			}
		})
	}
}

// Without FindConfig (unit tests of the grammar) execute= is not followed.
func TestExecuteNotFollowedWithoutFinder(t *testing.T) {
	dir, _ := execFiles(t, map[string][]string{"a.cf": {"a.cf"}})
	if _, err := ParseFile(filepath.Join(dir, "a.cf"), ParseOptions{}); err != nil {
		t.Fatal(err)
	}
}
