package control

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/sys/unix"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// owner answers requests as directord does: status gets the node name,
// anything else an error text.
func owner(ctx context.Context, requests <-chan Request) {
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-requests:
			if r.Cmd == "status" {
				r.Reply <- Response{OK: true, Status: &Status{Node: "a"}}
			} else {
				r.Reply <- Response{Text: "unknown command " + r.Cmd}
			}
		}
	}
}

// start serves on a socket in a fresh directory; stop cancels and waits
// for Serve to return.
func start(t *testing.T) (path string, stop func() error) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "d.sock")
	ctx, cancel := context.WithCancel(context.Background())
	requests := make(chan Request)
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, path, requests) }()
	go owner(ctx, requests)
	if err := waitFor(func() bool { return listening(path) }); err != nil {
		cancel()
		t.Fatalf("socket %s never appeared: %v", path, <-done)
	}
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				err = errors.New("Serve did not return within 5 s of cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return path, stop
}

// listening: a connection to path is accepted (the file alone may exist
// between bind and listen).
func listening(path string) bool {
	c, err := net.Dial("unix", path)
	if err == nil {
		c.Close()
	}
	return err == nil
}

func waitFor(cond func() bool) error {
	for i := 0; i < 500; i++ {
		if cond() {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return errors.New("timed out")
}

func TestCallAndReply(t *testing.T) {
	path, _ := start(t)
	resp, err := Call(path, "status", "")
	if err != nil {
		t.Fatal(err)
	}
	if !resp.OK || resp.Status == nil || resp.Status.Node != "a" {
		t.Fatalf("status answer %+v", resp)
	}
	resp, err = Call(path, "frobnicate", "x")
	if err != nil {
		t.Fatal(err)
	}
	if resp.OK || resp.Text != "unknown command frobnicate" {
		t.Fatalf("unknown command answer %+v", resp)
	}
}

// After a clean stop the socket file is gone: Serve removes it before it
// returns, and returns once ctx is done.
func TestSocketRemovedOnStop(t *testing.T) {
	path, stop := start(t)
	if _, err := Call(path, "status", ""); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket file left after stop: %v", err)
	}
}

// Stop does not wait for idle clients: their connections are closed.
func TestStopClosesIdleConnections(t *testing.T) {
	path, stop := start(t)
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Half a request: the server has the connection and waits for more.
	if _, err := c.Write([]byte(`{"cmd":`)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	t0 := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Fatalf("stop took %v with an idle client (connection deadline is %v)", d, connTimeout)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err = c.Read(make([]byte, 1))
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("idle client read %v after stop, want the connection closed", err)

	}
}

// The socket is 0600 from the moment it exists: it is bound under a
// restrictive umask, not chmodded afterwards. listen alone (no chmod
// after it) must give 0600 whatever the process umask is, and leave the
// umask as it was.
func TestSocketModeFromTheStart(t *testing.T) {
	for _, mask := range []int{0, 0o022} {
		old := unix.Umask(mask)
		path := filepath.Join(t.TempDir(), "d.sock")
		ln, err := listen(path)
		got := unix.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		st, err := os.Lstat(path)
		ln.Close()
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o600 {
			t.Errorf("umask %03o: socket created as %v, want a socket with mode 0600", mask, st.Mode())
		}
		if got != mask {
			t.Errorf("umask %03o became %03o after listen", mask, got)
		}
	}
}

// A socket file left by a crash is replaced; anything else in the way is
// an error, not silently kept.
func TestStaleSocketReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close() // the file stays, as after a SIGKILL
	ln, err = listen(path)
	if err != nil {
		t.Fatalf("listen over a stale socket: %v", err)
	}
	ln.Close()

	dir := filepath.Join(t.TempDir(), "d.sock")
	os.MkdirAll(filepath.Join(dir, "x"), 0o755)
	if _, err := listen(dir); err == nil {
		t.Fatal("listen over a non-empty directory succeeded")
	}
}

// A request larger than maxRequest is dropped without reaching the owner.
func TestOversizedRequestDropped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.sock")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	requests := make(chan Request, 1)
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, path, requests) }()
	defer func() { cancel(); <-done }()
	if err := waitFor(func() bool { return listening(path) }); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		c.Write([]byte(`{"cmd":"status","arg":"` + strings.Repeat("x", 2*maxRequest) + `"}`))
	}()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("got an answer to an oversized request")
	}
	select {
	case r := <-requests:
		t.Fatalf("oversized request reached the owner: cmd %q, %d bytes of arg", r.Cmd, len(r.Arg))
	default:
	}
}

// failingListener fails every Accept with err until closed; after 1000
// calls it closes itself, so a loop without back-off ends (and fails the
// test) instead of spinning for ever.
type failingListener struct {
	mu     sync.Mutex
	calls  int
	ok     int // the first ok calls succeed
	times  []time.Time
	closed chan struct{}
	once   sync.Once
}

func newFailingListener() *failingListener { return &failingListener{closed: make(chan struct{})} }

func (l *failingListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	l.calls++
	n, ok := l.calls, l.calls <= l.ok
	l.times = append(l.times, time.Now())
	l.mu.Unlock()
	select {
	case <-l.closed:
		return nil, net.ErrClosed
	default:
	}
	if n >= 1000 {
		l.Close()
		return nil, net.ErrClosed
	}
	if ok {
		a, b := net.Pipe()
		b.Close()
		return a, nil
	}
	return nil, syscall.EMFILE
}

func (l *failingListener) Close() error   { l.once.Do(func() { close(l.closed) }); return nil }
func (l *failingListener) Addr() net.Addr { return &net.UnixAddr{Name: "fake", Net: "unix"} }
func (l *failingListener) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls
}

// An Accept error is retried after a pause that doubles up to a second,
// not in a hot loop; closing stops the loop even during a pause.
func TestAcceptErrorBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ln := newFailingListener()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		t0 := time.Now()
		go func() { done <- serve(ctx, ln, make(chan Request), quiet) }()
		time.Sleep(10 * time.Second)
		n := ln.count()
		// 5, 10, ..., 640 ms then 1 s each: 9 calls in the first 1.3 s,
		// about one a second after.
		if n < 10 || n > 25 {
			t.Errorf("%d Accept calls in 10 s of failures, want 10..25 (back-off up to %v)", n, acceptMaxDelay)
		}
		select {
		case err := <-done:
			t.Fatalf("serve returned on its own after %v: %v (%d Accept calls)", time.Since(t0), err, n)
		default:
		}
		time.Sleep(300 * time.Millisecond) // inside a 1 s pause
		cancel()
		synctest.Wait()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("serve: %v", err)
			}
		default:
			t.Fatal("serve still running after cancel during a back-off pause")
		}
	})
}

// A successful Accept resets the pause.
func TestAcceptBackOffResets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ln := newFailingListener()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- serve(ctx, ln, make(chan Request), quiet) }()
		time.Sleep(5 * time.Second) // the pause is at its 1 s cap now
		ln.mu.Lock()
		ln.ok = ln.calls + 1 // the next call succeeds
		success := ln.ok - 1
		ln.mu.Unlock()
		time.Sleep(2 * time.Second)
		cancel()
		<-done
		ln.mu.Lock()
		defer ln.mu.Unlock()
		if len(ln.times) <= success {
			t.Fatalf("only %d Accept calls", len(ln.times))
		}
		// After the success: pauses of 5, 10, 20, 40 ms fit in 100 ms.
		t1, n := ln.times[success], 0
		for _, at := range ln.times[success+1:] {
			if at.Sub(t1) <= 100*time.Millisecond {
				n++
			}
		}
		if n < 4 {
			t.Errorf("%d Accept calls in the 100 ms after a success, want >= 4 (pause reset to %v)", n, acceptMinDelay)
		}
	})
}
