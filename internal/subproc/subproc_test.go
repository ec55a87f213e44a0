package subproc

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// pidsIn returns the pids a test program wrote to path and kills them
// when the test ends, so that none outlives it.
func pidsIn(t *testing.T, path string) []int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("%s: %q", path, b)
		}
		pids = append(pids, pid)
		t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	}
	return pids
}

// alive reports whether pid runs; a zombie does not.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && len(b) > i+2 && b[i+2] != 'Z' && b[i+2] != 'X'
}

func gone(t *testing.T, pid int, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); alive(pid); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still runs", pid)
		}
	}
}

func sh(script string) Cmd { return Cmd{Path: "/bin/sh", Args: []string{"-c", script}} }

// A background child holding stdout does not hold the caller, and is left
// running (system() semantics, on which "sorry-server &" relies).
func TestBackgroundChildDoesNotHold(t *testing.T) {
	pidf := filepath.Join(t.TempDir(), "pid")
	t0 := time.Now()
	res, err := Run(context.Background(), sh("echo hi; sleep 4 & echo $! > "+pidf))
	d := time.Since(t0)
	if err != nil {
		t.Fatal(err)
	}
	if d > time.Second {
		t.Fatalf("returned after %v", d)
	}
	if string(res.Output) != "hi\n" {
		t.Fatalf("output %q", res.Output)
	}
	pid := pidsIn(t, pidf)[0]
	if !alive(pid) {
		t.Fatal("the background child was killed")
	}
	// It can still write: its stdout is drained, not closed under it.
	if runtime.GOOS == "linux" {
		fd, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/1")
		if err != nil || !strings.HasPrefix(fd, "pipe:") {
			t.Fatalf("child stdout %q %v", fd, err)
		}
	}
}

// At the timeout the group gets SIGTERM, and what ignores it SIGKILL after
// the grace, the leader as well as its children.
func TestTimeoutKillsGroup(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script string
	}{
		{"leader obeys, child ignores SIGTERM", `sh -c 'trap "" TERM; while :; do sleep 0.05; done' & echo $! > PIDF; exec sleep 30`},
		{"both ignore SIGTERM", `trap "" TERM; sh -c 'trap "" TERM; while :; do sleep 0.05; done' & echo $! > PIDF; while :; do sleep 0.05; done`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pidf := filepath.Join(t.TempDir(), "pid")
			var logs bytes.Buffer
			var mu sync.Mutex
			c := sh(strings.ReplaceAll(tc.script, "PIDF", pidf))
			c.Timeout, c.Grace = 300*time.Millisecond, 300*time.Millisecond
			c.Log = slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
			t0 := time.Now()
			_, err := Run(context.Background(), c)
			d := time.Since(t0)
			child := pidsIn(t, pidf)[0]
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want a deadline", err)
			}
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("a stopped program reads as an exit status: %v", err)
			}
			if d < c.Timeout+c.Grace || d > c.Timeout+c.Grace+2*time.Second {
				t.Fatalf("returned after %v, want timeout+grace = %v", d, c.Timeout+c.Grace)
			}
			gone(t, child, time.Second)
			mu.Lock()
			defer mu.Unlock()
			if !strings.Contains(logs.String(), "SIGKILL") {
				t.Errorf("escalation not logged: %s", logs.String())
			}
		})
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// Grace 0 is SIGKILL at once; a program that obeys SIGTERM within the
// grace is not waited for longer.
func TestGraceZeroAndObeyedSIGTERM(t *testing.T) {
	c := sh("trap '' TERM; sleep 30")
	c.Timeout = 200 * time.Millisecond
	t0 := time.Now()
	if _, err := Run(context.Background(), c); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(t0); d > time.Second {
		t.Fatalf("SIGKILL at once took %v", d)
	}
	c = sh("exec sleep 30")
	c.Timeout, c.Grace = 200*time.Millisecond, 10*time.Second
	t0 = time.Now()
	if _, err := Run(context.Background(), c); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Fatalf("a program that obeys SIGTERM took %v", d)
	}
}

// Endless output is kept to the limit, memory stays small, and the call
// returns when the context ends.
func TestOutputBounded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	t0 := time.Now()
	res, err := Run(ctx, Cmd{Path: "yes", Limit: 1000})
	d := time.Since(t0)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if d > 3*time.Second {
		t.Fatalf("returned after %v", d)
	}
	if len(res.Output) != 1000 || string(res.Output[:4]) != "y\ny\n" || res.Dropped < 1<<20 {
		t.Fatalf("kept %d bytes, dropped %d", len(res.Output), res.Dropped)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 8<<20 {
		t.Fatalf("allocated %d MiB", got>>20)
	}
}

// Exit statuses are reported as exec reports them; stderr apart or with
// stdout.
func TestExitStatusAndStreams(t *testing.T) {
	c := sh("echo out; echo err >&2; exit 3")
	res, err := Run(context.Background(), c)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || res.State.ExitCode() != 3 {
		t.Fatalf("err = %v", err)
	}
	if string(res.Output) != "out\nerr\n" {
		t.Fatalf("combined %q", res.Output)
	}
	c.SeparateStderr = true
	res, _ = Run(context.Background(), c)
	if string(res.Output) != "out\n" || string(res.Stderr) != "err\n" {
		t.Fatalf("separate %q %q", res.Output, res.Stderr)
	}
	if _, err := Run(context.Background(), sh("exit 0")); err != nil {
		t.Fatal(err)
	}
	_, err = Run(context.Background(), sh("kill -9 $$"))
	if !errors.As(err, &ee) || ee.ExitCode() != -1 {
		t.Fatalf("signal: %v", err)
	}
	if _, err := Run(context.Background(), Cmd{Path: "/nonexistent/prog"}); err == nil {
		t.Fatal("a missing program started")
	}
}

// Cancelling the context stops the program the same way.
func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p, err := Start(ctx, sh("sleep 30"))
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(100*time.Millisecond, cancel)
	if _, err := p.Wait(); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if _, err := Start(ctx, sh("true")); err == nil {
		t.Fatal("started with a cancelled context")
	}
}

// The long-running use: started and waited separately, with its own
// environment, output file and credential; Reap stops the helpers it
// left when it exits.
func TestStartWaitEnvOutputReap(t *testing.T) {
	dir := t.TempDir()
	out, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	pidf := filepath.Join(dir, "pid")
	c := sh(`echo "$FOO $(id -u)"; sleep 30 & echo $! > ` + pidf)
	c.Env = []string{"FOO=bar", "PATH=/usr/bin:/bin"}
	c.Output = out
	c.Reap, c.Grace = true, 2*time.Second
	c.Credential = &syscall.Credential{Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid()), NoSetGroups: true}
	p, err := Start(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if p.Pid() <= 0 {
		t.Fatal("no pid")
	}
	res, err := p.Wait()
	if err != nil || res.State == nil || !res.State.Success() || res.Output != nil {
		t.Fatalf("wait: %v %+v", err, res)
	}
	b, _ := os.ReadFile(out.Name())
	if want := "bar " + strconv.Itoa(os.Getuid()) + "\n"; string(b) != want {
		t.Fatalf("output %q, want %q", b, want)
	}
	gone(t, pidsIn(t, pidf)[0], time.Second)
}

// Stdin reaches the program and is closed after it; input nobody reads
// (a program that exits at once, a background child holding stdin) does
// not hold Wait, and the writer does not outlive it.
func TestStdin(t *testing.T) {
	res, err := Run(context.Background(), Cmd{Path: "/bin/cat", Stdin: []byte("mail body\n")})
	if err != nil || string(res.Output) != "mail body\n" {
		t.Fatalf("cat: %v %q", err, res.Output)
	}
	pidf := filepath.Join(t.TempDir(), "pid")
	big := bytes.Repeat([]byte("x"), 1<<20)
	before := runtime.NumGoroutine()
	start := time.Now()
	c := sh("sleep 30 <&0 >/dev/null 2>&1 & echo $! > " + pidf)
	c.Stdin = big
	if _, err := Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %v with unread stdin", d)
	}
	pidsIn(t, pidf)
	for i := 0; runtime.NumGoroutine() > before && i < 100; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Run, %d before: the stdin writer is left", n, before)
	}
}
