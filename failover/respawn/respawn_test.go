package respawn

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsdirector/director/failover/haconf"
)

// fast keeps the tests quick while keeping the ratios of the defaults.
var fast = options{
	minDelay: 20 * time.Millisecond,
	maxDelay: 80 * time.Millisecond,
	stable:   10 * time.Second,
	grace:    2 * time.Second,
}

// logBuf collects the log; the reader goroutines write to it concurrently.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuf) count(s string) int { return strings.Count(l.String(), s) }

func newLog(t *testing.T) (*slog.Logger, *logBuf) {
	t.Helper()
	buf := &logBuf{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", buf)
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// start runs run in the background. The cleanup cancels it and waits, so
// that a failed test does not leave processes or goroutines to the next.
func start(t *testing.T, children []haconf.Child, env []string, log *slog.Logger, o options) (context.CancelFunc, <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		run(ctx, children, env, log, o)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return cancel, done
}

func waitDone(t *testing.T, done <-chan struct{}, within time.Duration) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(within):
		t.Fatalf("Run did not return within %v", within)
	}
	noLeak(t)
}

// noLeak fails if a goroutine started by this package is still there.
func noLeak(t *testing.T) {
	t.Helper()
	var stacks string
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		b := make([]byte, 1<<20)
		stacks = string(b[:runtime.Stack(b, true)])
		leaked := false
		for g := range strings.SplitSeq(stacks, "\n\n") {
			if strings.Contains(g, "/failover/respawn/respawn.go:") {
				leaked = true
			}
		}
		if !leaked {
			return
		}
	}
	t.Fatalf("goroutines left behind:\n%s", stacks)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func me(t *testing.T) string {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Skip("no current user:", err)
	}
	return u.Username
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// readPID reads a pid the child wrote, 0 while it is not complete.
func readPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil || !bytes.HasSuffix(b, []byte("\n")) {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// gone reports whether pid has exited. A zombie counts: our orphans may be
// reparented to an init that does not reap.
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	f := bytes.Fields(b[i+1:])
	return len(f) > 0 && (string(f[0]) == "Z" || string(f[0]) == "X")
}

func TestNextDelay(t *testing.T) {
	o := defaults
	var d time.Duration
	var got []time.Duration
	for range 8 {
		d = o.nextDelay(d, 2*time.Second)
		got = append(got, d)
	}
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30, 30}
	for i := range want {
		want[i] *= time.Second
	}
	if !slices.Equal(got, want) {
		t.Errorf("delays while dying quickly: %v, want %v", got, want)
	}
	if d := o.nextDelay(30*time.Second, o.stable); d != 0 {
		t.Errorf("after a stable run: delay %v, want 0", d)
	}
	if d := o.nextDelay(0, o.stable-time.Millisecond); d != o.minDelay {
		t.Errorf("first quick death: delay %v, want %v", d, o.minDelay)
	}
}

func TestRestartedAfterExit1(t *testing.T) {
	dir := t.TempDir()
	starts := filepath.Join(dir, "starts")
	// %s%N: nanoseconds since the epoch, to check the pauses.
	p := script(t, dir, "fail.sh", "date +%s%N >> "+starts+"\nexit 1\n")
	log, buf := newLog(t)
	cancel, done := start(t, []haconf.Child{{User: me(t), Path: p, Line: 7}}, nil, log, fast)

	waitFor(t, "four starts", func() bool { return len(lines(t, starts)) >= 4 })
	cancel()
	waitDone(t, done, 5*time.Second)

	var ts []int64
	for _, l := range lines(t, starts) {
		n, err := strconv.ParseInt(l, 10, 64)
		if err != nil {
			t.Fatalf("start time %q: %v", l, err)
		}
		ts = append(ts, n)
	}
	// Pauses of 20, 40, 80 ms: each gap is at least that.
	for i, want := range []time.Duration{fast.minDelay, 2 * fast.minDelay, fast.maxDelay} {
		if gap := time.Duration(ts[i+1] - ts[i]); gap < want {
			t.Errorf("start %d came %v after the previous, want at least %v", i+2, gap, want)
		}
	}
	if n := buf.count("exit status 1"); n < 3 {
		t.Errorf("%d deaths logged, want at least 3", n)
	}
}

func TestExit100NotRespawned(t *testing.T) {
	dir := t.TempDir()
	starts := filepath.Join(dir, "starts")
	p := script(t, dir, "done.sh", "echo x >> "+starts+"\nexit 100\n")
	log, buf := newLog(t)
	_, done := start(t, []haconf.Child{{User: me(t), Path: p}}, nil, log, fast)

	// With nothing left to supervise Run returns by itself.
	waitDone(t, done, 5*time.Second)
	if n := len(lines(t, starts)); n != 1 {
		t.Errorf("started %d times, want 1", n)
	}
	if !strings.Contains(buf.String(), "exited 100: not respawned") {
		t.Error(`"exited 100: not respawned" not logged`)
	}
}

// The child and the grandchild it leaves in the background both die when
// ctx is cancelled; the SIGTERM is enough, so no SIGKILL is sent.
func TestCancelStopsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	pidf, gpidf := filepath.Join(dir, "pid"), filepath.Join(dir, "gpid")
	p := script(t, dir, "long.sh", "sleep 1000 &\necho $! > "+gpidf+"\necho $$ > "+pidf+"\nwait\n")
	log, buf := newLog(t)
	o := fast
	o.grace = 8 * time.Second // a SIGKILL would show as a slow Run
	cancel, done := start(t, []haconf.Child{{User: me(t), Path: p}}, nil, log, o)

	var pid, gpid int
	waitFor(t, "the pids", func() bool {
		pid, gpid = readPID(pidf), readPID(gpidf)
		return pid != 0 && gpid != 0
	})
	t0 := time.Now()
	cancel()
	waitDone(t, done, 4*time.Second)
	if !gone(pid) {
		t.Errorf("child %d still runs", pid)
	}
	waitFor(t, "the grandchild to die", func() bool { return gone(gpid) })
	if strings.Contains(buf.String(), "SIGKILL") {
		t.Errorf("SIGKILL sent, SIGTERM should have been enough")
	}
	t.Logf("stopped in %v", time.Since(t0))
}

// A program that ignores SIGTERM, and so does its helper, is killed after
// the grace.
func TestSIGTERMIgnoredThenKilled(t *testing.T) {
	dir := t.TempDir()
	pidf, gpidf := filepath.Join(dir, "pid"), filepath.Join(dir, "gpid")
	p := script(t, dir, "stubborn.sh", "trap '' TERM\nsleep 1000 &\necho $! > "+gpidf+"\necho $$ > "+pidf+"\nwait\n")
	log, buf := newLog(t)
	o := fast
	o.grace = 200 * time.Millisecond
	cancel, done := start(t, []haconf.Child{{User: me(t), Path: p}}, nil, log, o)

	var pid, gpid int
	waitFor(t, "the pids", func() bool {
		pid, gpid = readPID(pidf), readPID(gpidf)
		return pid != 0 && gpid != 0
	})
	cancel()
	waitDone(t, done, 5*time.Second)
	if !gone(pid) {
		t.Errorf("child %d still runs", pid)
	}
	waitFor(t, "the grandchild to die", func() bool { return gone(gpid) })
	if !strings.Contains(buf.String(), "SIGKILL") {
		t.Error("SIGKILL not logged")
	}
}

// A helper left behind by a program that died is stopped before the
// program is started again.
func TestLeftoverHelperStoppedOnExit(t *testing.T) {
	dir := t.TempDir()
	gpidf := filepath.Join(dir, "gpid")
	p := script(t, dir, "leaves.sh", "sleep 1000 &\necho $! > "+gpidf+"\nexit 100\n")
	log, _ := newLog(t)
	_, done := start(t, []haconf.Child{{User: me(t), Path: p}}, nil, log, fast)
	waitDone(t, done, 5*time.Second)
	gpid := readPID(gpidf)
	if gpid == 0 {
		t.Fatal("program did not run")
	}
	waitFor(t, "the helper to die", func() bool { return gone(gpid) })
}

func TestEnvAndOutput(t *testing.T) {
	t.Setenv("RESPAWN_TEST_INHERITED", "from the daemon")
	t.Setenv("RESPAWN_TEST_OVERRIDDEN", "old")
	dir := t.TempDir()
	out := filepath.Join(dir, "env")
	p := script(t, dir, "env.sh", `
printf '%s|%s|%s\n' "$RESPAWN_TEST_INHERITED" "$RESPAWN_TEST_OVERRIDDEN" "$RESPAWN_TEST_NEW" > `+out+`
echo "to stdout"
echo "to stderr" >&2
read x && echo "stdin not empty: $x"
exit 100
`)
	log, buf := newLog(t)
	env := []string{"RESPAWN_TEST_OVERRIDDEN=new", "RESPAWN_TEST_NEW=a b=c"}
	_, done := start(t, []haconf.Child{{User: me(t), Path: p}}, env, log, fast)
	waitDone(t, done, 5*time.Second)

	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), "from the daemon|new|a b=c\n"; got != want {
		t.Errorf("child's environment: %q, want %q", got, want)
	}
	for _, s := range []string{`msg="to stdout" program=` + p, `msg="to stderr" program=` + p} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("log lacks %q", s)
		}
	}
	if strings.Contains(buf.String(), "stdin not empty") {
		t.Error("stdin is not /dev/null")
	}
}

func TestUnknownUserSkipped(t *testing.T) {
	dir := t.TempDir()
	ranBad, ranGood := filepath.Join(dir, "bad"), filepath.Join(dir, "good")
	bad := script(t, dir, "bad.sh", "echo x > "+ranBad+"\nexit 100\n")
	good := script(t, dir, "good.sh", "echo x > "+ranGood+"\nexit 100\n")
	log, buf := newLog(t)
	_, done := start(t, []haconf.Child{
		{User: "no-such-user-respawn-test", Path: bad, Line: 12},
		{User: me(t), Path: good, Line: 13},
	}, nil, log, fast)
	waitDone(t, done, 5*time.Second)

	if _, err := os.Stat(ranBad); err == nil {
		t.Error("program of an unknown user ran")
	}
	if _, err := os.Stat(ranGood); err != nil {
		t.Error("the other program did not run:", err)
	}
	for _, s := range []string{"level=ERROR", "user=no-such-user-respawn-test", "line=12"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("log lacks %q", s)
		}
	}
}

// A program that is missing or not executable is retried, and runs once
// it is in place.
func TestStartFailureRetried(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.sh")
	noexec := filepath.Join(dir, "noexec.sh")
	if err := os.WriteFile(noexec, []byte("#!/bin/sh\necho x > "+noexec+".ran\nexit 100\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	log, buf := newLog(t)
	_, done := start(t, []haconf.Child{{User: me(t), Path: missing}, {User: me(t), Path: noexec}}, nil, log, fast)

	waitFor(t, "two failed starts of each", func() bool {
		s := buf.String()
		return strings.Count(s, "no such file or directory") >= 2 && strings.Count(s, "permission denied") >= 2
	})
	// Renamed into place, so it is never run half written.
	tmp := script(t, dir, "tmp", "echo x > "+missing+".ran\nexit 100\n")
	if err := os.Rename(tmp, missing); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(noexec, 0o755); err != nil {
		t.Fatal(err)
	}
	waitDone(t, done, 5*time.Second)
	for _, p := range []string{missing, noexec} {
		if _, err := os.Stat(p + ".ran"); err != nil {
			t.Errorf("%s never ran: %v", p, err)
		}
	}
}

// Run returns even when a process that left the group (setsid) still
// holds the output pipe, instead of waiting for it to close.
func TestEscapedHolderOfOutput(t *testing.T) {
	if _, err := os.Stat("/usr/bin/setsid"); err != nil {
		t.Skip("no setsid")
	}
	dir := t.TempDir()
	pidf := filepath.Join(dir, "pid")
	p := script(t, dir, "escape.sh", "setsid sh -c 'echo $$ > "+pidf+"; exec sleep 30' &\n"+
		"while ! test -s "+pidf+"; do sleep 0.01; done\nexit 100\n")
	log, _ := newLog(t)
	o := fast
	o.grace = 100 * time.Millisecond
	t0 := time.Now()
	_, done := start(t, []haconf.Child{{User: me(t), Path: p}}, nil, log, o)
	t.Cleanup(func() {
		if pid := readPID(pidf); pid != 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	waitDone(t, done, 2*time.Second)
	pid := readPID(pidf)
	if pid == 0 || gone(pid) {
		t.Fatalf("the escaped process (%d) is not running: the test proves nothing", pid)
	}
	if d := time.Since(t0); d < o.grace {
		t.Errorf("Run returned after %v, before the grace for the pipe", d)
	}
}

func TestRunsAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	gids, err := u.GroupIds()
	if err != nil {
		t.Skip(err)
	}
	log, buf := newLog(t)
	_, done := start(t, []haconf.Child{{User: "nobody", Path: "/bin/sh",
		Args: []string{"-c", `echo "uid=$(id -u) gid=$(id -g) groups=$(id -G)"; exit 100`}}}, nil, log, fast)
	waitDone(t, done, 5*time.Second)
	slices.Sort(gids)
	want := fmt.Sprintf("uid=%s gid=%s groups=%s", u.Uid, u.Gid, strings.Join(gids, " "))
	if !strings.Contains(buf.String(), want) {
		t.Errorf("log lacks %q", want)
	}
}

func TestCredential(t *testing.T) {
	log, _ := newLog(t)
	root, err := user.LookupId("0")
	if err != nil {
		t.Skip("no uid 0")
	}
	if _, err := credential(root.Username, 1000, log); err == nil {
		t.Error("not root, yet allowed to run as root")
	}
	if c, err := credential(root.Username, 0, log); err != nil || c == nil || c.Uid != 0 || c.Gid != 0 {
		t.Errorf("root as root: %+v, %v", c, err)
	}
	if _, err := credential("no-such-user-respawn-test", 0, log); err == nil {
		t.Error("unknown user accepted")
	}
	// Not root but the user we are: run as is (setgroups would fail).
	if u, err := user.Lookup("nobody"); err == nil {
		euid, _ := strconv.Atoi(u.Uid)
		if c, err := credential("nobody", euid, log); err != nil || c != nil {
			t.Errorf("own user without root: %+v, %v; want no credential", c, err)
		}
	}
}

func TestCancelledBeforeStart(t *testing.T) {
	dir := t.TempDir()
	ran := filepath.Join(dir, "ran")
	p := script(t, dir, "x.sh", "echo x > "+ran+"\nexec sleep 1000\n")
	log, _ := newLog(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	run(ctx, []haconf.Child{{User: me(t), Path: p}}, nil, log, fast)
	noLeak(t)
	if _, err := os.Stat(ran); err == nil {
		t.Error("started although ctx was already cancelled")
	}
}
