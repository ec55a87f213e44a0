// Command ldirectord is a drop-in replacement for ldirectord 4.12: the same
// command line, config lookup, pid file, exit codes and log format, driving
// the kernel's IPVS table directly instead of through ipvsadm.
//
// The appliance's own settings (the metrics endpoint) are read from
// /etc/lvsdirector/settings.toml, or the file named by $LVSDIRECTOR_SETTINGS:
// the command line stays ldirectord's.
//
//	ldirectord [-d] [configfile] start|stop|restart|try-restart|reload|force-reload|status
//	ldirectord -t [configfile]   (check every file start would read; exit 0, 3 cannot run, 4 warnings)
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lvsdirector/director/director"
	"github.com/lvsdirector/director/internal/settings"
)

const version = "ldirectord (lvsdirector) 0.1"

// Exit codes, as ldirectord's.
const (
	exitOK      = 0
	exitFail    = 1
	exitConfig  = 2
	exitStopped = 3
	exitUsage   = 255
	childEnv    = "LDIRECTORD_DAEMON_CHILD"
	// executeDepthEnv counts the execute= runs above this one.
	executeDepthEnv = "LDIRECTORD_EXECUTE_DEPTH"
	maxExecuteDepth = 16
	usageMessage    = "Usage: ldirectord [-d|--debug] [--] [configfile] {start|stop|restart|try-restart|reload|force-reload|status}\n       ldirectord -t|--config-test [configfile]\n       ldirectord -v|--version\n"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// parseOptions follow execute= as runSelf will, so a cycle is refused at
// its line instead of running ldirectord without end.
var parseOptions = director.ParseOptions{FindConfig: findConfig}

type invocation struct {
	debug   bool
	config  string // as given (or "ldirectord.cf")
	cfgName string // for the pid file and log prefix
	cmd     string
	path    string // where the config was found

	settings     *settings.Settings // for commands that may start the daemon
	settingsPath string             // the file read (or looked for)
}

func run(args []string, stdout, stderr io.Writer) int {
	inv := invocation{}
	var pos []string
	test := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(pos) > 0 { // require_order: options stop at the first operand
			pos = append(pos, a)
			continue
		}
		switch a {
		case "-d", "--debug":
			inv.debug = true
		case "-t", "--config-test":
			test = true
		case "-v", "--version":
			fmt.Fprintln(stdout, version)
			return exitOK
		case "-h", "-?", "--help":
			fmt.Fprint(stdout, usageMessage)
			return exitOK
		case "--":
			pos = append(pos, args[i+1:]...)
			i = len(args)
		default:
			if strings.HasPrefix(a, "-") && a != "-" {
				fmt.Fprintf(stderr, "Unknown option: %s\n%s", strings.TrimLeft(a, "-"), usageMessage)
				return exitUsage
			}
			pos = append(pos, a)
		}
	}
	if test {
		switch len(pos) {
		case 0:
			return configTest("ldirectord.cf", stdout, stderr)
		case 1:
			return configTest(pos[0], stdout, stderr)
		}
		fmt.Fprint(stderr, usageMessage)
		return exitUsage
	}
	switch len(pos) {
	case 1:
		inv.config, inv.cfgName, inv.cmd = "ldirectord.cf", "ldirectord", pos[0]
	case 2:
		inv.config, inv.cfgName, inv.cmd = pos[0], filepath.Base(pos[0]), pos[1]
	default:
		fmt.Fprint(stderr, usageMessage)
		return exitUsage
	}
	switch inv.cmd {
	case "start", "stop", "restart", "try-restart", "reload", "force-reload", "status":
	default:
		fmt.Fprintf(stderr, "Unknown command: %s\n%s", inv.cmd, usageMessage)
		return exitUsage
	}
	inv.path = findConfig(inv.config)
	if inv.path == "" {
		fmt.Fprintf(stderr, "Config file %s not found%s\n", quoteOdd(inv.config), notRegular(inv.config))
		return exitFail
	}
	// As ldirectord: the file is parsed before any command, so a broken
	// file is reported by status/stop/reload too (exit 2). Unlike
	// ldirectord, the pid file of a running instance is left alone.
	cfg, err := director.ParseFile(inv.path, parseOptions)
	if err != nil {
		fmt.Fprintln(stderr, director.ErrorLine(err))
		return exitConfig
	}
	// execute= cycles are refused at parse; this bounds what the files
	// could still do if they changed between two nested runs.
	if d, _ := strconv.Atoi(os.Getenv(executeDepthEnv)); d >= maxExecuteDepth {
		fmt.Fprintf(stderr, "Error [%d] reading file %s: execute= nested %d deep; refusing to run ldirectord again (a cycle?)\n", os.Getpid(), inv.path, d)
		return exitConfig
	}
	// The appliance's own settings (metrics): read where a daemon may
	// start, so that a broken file stops "start" as a broken config does.
	switch inv.cmd {
	case "start", "restart", "try-restart":
		st, path, err := settings.FromEnv()
		if err != nil {
			msg := settingsErrorLine(err)
			if os.Getenv(childEnv) != "" {
				ready := os.NewFile(3, "ready")
				fmt.Fprintln(ready, msg)
				ready.Close()
			}
			fmt.Fprintln(stderr, msg)
			return exitConfig
		}
		inv.settings, inv.settingsPath = st, path
	}
	if os.Getenv(childEnv) != "" {
		return serveDaemon(inv, cfg)
	}
	switch inv.cmd {
	case "start":
		return start(inv, cfg, stdout, stderr)
	case "stop":
		return stop(inv, stdout, stderr)
	case "restart", "try-restart":
		if pid := runningPID(inv); pid > 0 {
			if rc := stop(inv, stdout, stderr); rc != exitOK {
				return rc
			}
		} else if inv.cmd == "try-restart" {
			return exitOK
		}
		return start(inv, cfg, stdout, stderr)
	case "reload", "force-reload":
		d, _ := findDaemon(pidFile(inv))
		if d == nil {
			fmt.Fprintf(stderr, "ldirectord is not running for %s\n", inv.path)
			return exitFail
		}
		defer d.close()
		if err := d.signal(syscall.SIGHUP); err != nil {
			fmt.Fprintf(stderr, "reload: %v\n", err)
			return exitFail
		}
		return exitOK
	case "status":
		return status(inv, cfg, stdout, stderr)
	}
	return exitUsage
}

// settingsErrorLine words a settings error as ldirectord words a config
// error, naming the file and the line.
func settingsErrorLine(err error) string {
	var se *settings.Error
	if errors.As(err, &se) {
		if se.Line > 0 {
			return fmt.Sprintf("Error [%d] reading file %s at line %d: %s", os.Getpid(), se.File, se.Line, se.Msg)
		}
		return fmt.Sprintf("Error [%d] reading file %s: %s", os.Getpid(), se.File, se.Msg)
	}
	return fmt.Sprintf("Error [%d] reading settings: %v", os.Getpid(), err)
}

// findConfig looks in /etc/ha.d, then /etc/ha.d/conf, then the path
// itself, for a regular file (as ldirectord's -f test).
func findConfig(name string) string {
	for _, p := range configCandidates(name) {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

func configCandidates(name string) []string {
	dir := os.Getenv("LDIRECTORD_CONFDIR") // tests only
	if dir == "" {
		dir = "/etc/ha.d"
	}
	return []string{filepath.Join(dir, name), filepath.Join(dir, "conf", name), name}
}

// notRegular says why a name findConfig skipped was no config file: a
// directory (or FIFO, device) there is not "not found".
func notRegular(name string) string {
	for _, p := range configCandidates(name) {
		if st, err := os.Stat(p); err == nil && !st.Mode().IsRegular() {
			what := "not a regular file"
			if st.IsDir() {
				what = "a directory"
			}
			return fmt.Sprintf(" (%s is %s)", quoteOdd(p), what)
		}
	}
	return ""
}

func pidFile(inv invocation) string {
	dir := os.Getenv("LDIRECTORD_RUNDIR") // tests only
	if dir == "" {
		dir = "/var/run"
	}
	return filepath.Join(dir, "ldirectord."+inv.cfgName+".pid")
}

// runningPID returns the pid of the daemon holding the pid file, 0 if
// there is no pid file, -1 if it is stale (nobody holds it, whatever
// process has that pid now).
func runningPID(inv invocation) int {
	d, stale := findDaemon(pidFile(inv))
	if d == nil {
		if stale {
			return -1
		}
		return 0
	}
	d.close()
	return d.pid
}

func status(inv invocation, cfg *director.Config, stdout, stderr io.Writer) int {
	rc := exitOK
	switch pid := runningPID(inv); {
	case pid > 0:
		// On stdout, unlike ldirectord: heartbeat's ResourceManager greps
		// stdout for "running".
		fmt.Fprintf(stdout, "ldirectord for %s is running with pid: %d\n", inv.path, pid)
	case pid < 0:
		fmt.Fprintf(stderr, "ldirectord stale pid file %s for %s\n", pidFile(inv), inv.path)
		fmt.Fprintf(stdout, "ldirectord is stopped for %s\n", inv.path)
		rc = exitFail
	default:
		fmt.Fprintf(stdout, "ldirectord is stopped for %s\n", inv.path)
		rc = exitStopped
	}
	for _, ex := range cfg.Global.Execute {
		runSelf(ex, "status")
	}
	return rc
}

// stop sends TERM and, unlike ldirectord, waits (up to a minute) for the
// daemon to finish its cleanstop and let go of its pid file, so "stop;
// start" elsewhere is safe. Only the process holding the pid file is ever
// signalled.
func stop(inv invocation, stdout, stderr io.Writer) int {
	d, _ := findDaemon(pidFile(inv))
	if d == nil {
		return exitOK
	}
	defer d.close()
	if err := d.signal(syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		fmt.Fprintf(stderr, "stop: %v\n", err)
		return exitFail
	}
	deadline := time.Now().Add(stopWait)
	for time.Now().Before(deadline) {
		if !d.alive() {
			return exitOK
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Fprintf(stderr, "ldirectord (pid %d) did not stop within %v\n", d.pid, stopWait)
	return exitFail
}

// stopWait bounds how long stop waits for the daemon (tests shorten it).
var stopWait = time.Minute

// quoteOdd quotes s only when it holds bytes that must not be echoed raw.
func quoteOdd(s string) string {
	if q := strconv.Quote(s); q[1:len(q)-1] != s {
		return q
	}
	return s
}
