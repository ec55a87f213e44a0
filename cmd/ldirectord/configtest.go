package main

import (
	"fmt"
	"io"

	"github.com/lvsdirector/director/director"
	"github.com/lvsdirector/director/internal/settings"
)

// Exit codes of -t, keepalived's convention for its --config-test.
const (
	exitTestCannotRun = 3 // an error: the daemon would refuse to start
	exitTestWarnings  = 4 // it would run, but see the warnings
)

// configTest reads every file "start" would read — the configuration, each
// file its execute= lines name, the settings — and reports each problem
// with its file and line. Nothing is started, bound or written.
func configTest(config string, stdout, stderr io.Writer) int {
	path := findConfig(config)
	if path == "" {
		fmt.Fprintf(stderr, "Config file %s not found%s\n", quoteOdd(config), notRegular(config))
		return exitTestCannotRun
	}
	errors, warnings := 0, 0
	files := []string{path}
	seen := map[string]bool{path: true}
	for i := 0; i < len(files); i++ {
		cfg, err := director.ParseFile(files[i], parseOptions)
		if err != nil {
			fmt.Fprintln(stderr, director.ErrorLine(err))
			errors++
			continue
		}
		for _, w := range director.Lint(cfg) {
			fmt.Fprintln(stderr, w)
			warnings++
		}
		for _, ex := range cfg.Global.Execute {
			p := findConfig(ex)
			if p == "" {
				fmt.Fprintf(stderr, "%s: warning: execute=%s: config file not found%s; that ldirectord will not start\n", quoteOdd(files[i]), quoteOdd(ex), notRegular(ex))
				warnings++
				continue
			}
			if !seen[p] {
				seen[p] = true
				files = append(files, p)
			}
		}
	}
	if _, _, err := settings.FromEnv(); err != nil {
		fmt.Fprintln(stderr, settingsErrorLine(err))
		errors++
	}
	switch {
	case errors > 0:
		fmt.Fprintf(stdout, "%s: %d error(s), %d warning(s): ldirectord would not start\n", quoteOdd(path), errors, warnings)
		return exitTestCannotRun
	case warnings > 0:
		fmt.Fprintf(stdout, "%s: OK with %d warning(s)\n", quoteOdd(path), warnings)
		return exitTestWarnings
	}
	fmt.Fprintf(stdout, "%s: OK\n", quoteOdd(path))
	return exitOK
}
