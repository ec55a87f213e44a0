package media

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/lvsdirector/director/failover/wire"
	"golang.org/x/sys/unix"
)

func testKeys() *wire.Keyring {
	kr := &wire.Keyring{Send: 1}
	kr.Keys[1] = wire.Key{Method: wire.SHA1, Secret: "k"}
	return kr
}

func classicMsg(t *testing.T, seq uint64) []byte {
	t.Helper()
	b, err := wire.Encode(wire.New("status").Add("src", "peer").Add("st", "active").AddHex("seq", seq), wire.Classic, testKeys())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// feed pushes s through f and returns the frames it completed.
func feed(f *framer, s []byte) [][]byte {
	var out [][]byte
	for _, c := range s {
		if fr, ok := f.push(c); ok {
			out = append(out, append([]byte(nil), fr...))
		}
	}
	return out
}

func TestFramerRoundTrip(t *testing.T) {
	f := &framer{max: maxSerialFrame}
	m1, m2 := classicMsg(t, 1), classicMsg(t, 2)
	got := feed(f, append(append([]byte(nil), m1...), m2...))
	if len(got) != 2 || !bytes.Equal(got[0], m1) || !bytes.Equal(got[1], m2) {
		t.Fatalf("frames %q", got)
	}
	for i, fr := range got {
		m, err := wire.Open(fr, testKeys())
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if s, _ := m.Seq(); s != uint64(i+1) {
			t.Errorf("frame %d seq %d", i, s)
		}
	}
	// CRs (a tty without IGNCR) are dropped as heartbeat's IGNCR does.
	crlf := bytes.ReplaceAll(m1, []byte("\n"), []byte("\r\n"))
	if got := feed(f, crlf); len(got) != 1 || !bytes.Equal(got[0], m1) {
		t.Fatalf("CRLF frame %q", got)
	}
	if f.skipped != 0 || f.dropped != 0 {
		t.Errorf("clean stream counted noise: %+v", f)
	}
}

func TestFramerGarbageAndResync(t *testing.T) {
	f := &framer{max: maxSerialFrame}
	m := classicMsg(t, 3)
	var in []byte
	in = append(in, "\x00\xffline noise\n>>"...)        // noise, a start cut short
	in = append(in, "\n"...)                            // ">>" is not a start
	in = append(in, ">>>\nt=status\nsrc=pe"...)         // a frame cut by a restart
	in = append(in, "\n"...)                            //
	in = append(in, m...)                               // the good one: resync at its ">>>"
	in = append(in, "trailing junk without newline"...) //
	got := feed(f, in)
	if len(got) != 1 || !bytes.Equal(got[0], m) {
		t.Fatalf("frames %q", got)
	}
	if f.dropped != 1 || f.skipped == 0 {
		t.Errorf("noise not counted: dropped %d skipped %d", f.dropped, f.skipped)
	}
	// "<<<x" ends a frame as in heartbeat; the decoder then refuses it.
	got = feed(f, []byte("\n>>>\nt=x\n<<<x\n"))
	if len(got) != 1 || string(got[0]) != ">>>\nt=x\n<<<x\n" {
		t.Fatalf("frames %q", got)
	}
	if _, err := wire.Decode(got[0]); err == nil {
		t.Error("decoder took a bad end line")
	}
}

func TestFramerBounded(t *testing.T) {
	const max = 1024
	f := &framer{max: max}
	m := classicMsg(t, 4)
	// An endless frame, then an endless line outside any frame, then a good
	// frame: memory stays under max and the good frame gets through.
	var in []byte
	in = append(in, ">>>\n"...)
	for len(in) < 10*max {
		in = append(in, "k=vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\n"...)
	}
	in = append(in, "<<<\n"...)
	in = append(in, bytes.Repeat([]byte("x"), 10*max)...)
	in = append(in, '\n')
	in = append(in, m...)
	var got [][]byte
	for _, c := range in {
		if fr, ok := f.push(c); ok {
			got = append(got, append([]byte(nil), fr...))
		}
		if cap(f.buf) > 2*max {
			t.Fatalf("buffer grew to %d", cap(f.buf))
		}
	}
	if len(got) != 1 || !bytes.Equal(got[0], m) {
		t.Fatalf("frames %q", got)
	}
	if f.dropped != 1 {
		t.Errorf("dropped %d", f.dropped)
	}
}

// ptyPair opens a pty: the master, and the slave's path.
func ptyPair(t *testing.T) (*os.File, string) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pty here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(fd)
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		unix.Close(fd)
		t.Fatalf("ptsname: %v", err)
	}
	// The master's own termios: raw, so that it passes bytes as they are.
	if tm, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil {
		tm.Lflag &^= unix.ICANON | unix.ECHO | unix.ISIG
		tm.Oflag &^= unix.OPOST
		_ = unix.IoctlSetTermios(fd, unix.TCSETS, tm)
	}
	m := os.NewFile(uintptr(fd), "ptmx")
	t.Cleanup(func() { m.Close() })
	return m, fmt.Sprintf("/dev/pts/%d", n)
}

func openSerialSet(t *testing.T, dev string) *Set {
	t.Helper()
	s, err := OpenAll([]Spec{{Kind: "serial", Dev: dev, Label: dev, Baud: 19200}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestSerialOverPty(t *testing.T) {
	master, slave := ptyPair(t)
	s := openSerialSet(t, slave)

	// Peer → us: noise, then a frame, read as one packet named by the tty.
	m := classicMsg(t, 5)
	if _, err := master.Write(append([]byte("garbage\n"), m...)); err != nil {
		t.Fatal(err)
	}
	p := recv(t, s, "serial")
	if !bytes.Equal(p.Data, m) || p.Link != slave {
		t.Fatalf("got %q on %q", p.Data, p.Link)
	}

	// Us → peer: a netstring message goes out classic, and verifies.
	ns, err := wire.Encode(wire.New("status").Add("src", "me").AddHex("seq", 9), wire.Netstring, testKeys())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(ns); err != nil {
		t.Fatal(err)
	}
	want, _ := wire.ToClassic(ns)
	got := make([]byte, 0, len(want))
	buf := make([]byte, 4096)
	_ = master.SetReadDeadline(time.Now().Add(3 * time.Second))
	for len(got) < len(want) {
		n, err := master.Read(buf)
		if err != nil {
			t.Fatalf("peer read after %q: %v", got, err)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("peer got %q\nwant %q", got, want)
	}
	if _, err := wire.Open(got, testKeys()); err != nil {
		t.Fatal(err)
	}
}

// A message longer than a fragment arrives whole, after the pause.
func TestSerialFragments(t *testing.T) {
	master, slave := ptyPair(t)
	s := openSerialSet(t, slave)
	msg := wire.New("status").Add("src", "me").Add("pad", strings.Repeat("p", 1200))
	b, err := wire.Encode(msg, wire.Classic, testKeys())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Send(b) }()
	got := make([]byte, 0, len(b))
	buf := make([]byte, 4096)
	_ = master.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(got) < len(b) {
		n, err := master.Read(buf)
		if err != nil {
			t.Fatalf("read after %d bytes: %v", len(got), err)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, b) {
		t.Fatal("fragmented message changed")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Close ends a reader blocked on a silent tty, without leaking it.
func TestSerialCloseUnblocksReader(t *testing.T) {
	_, slave := ptyPair(t)
	before := runtime.NumGoroutine()
	s, err := OpenAll([]Spec{{Kind: "serial", Dev: slave}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the reader is in its read
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(3 * time.Second):
		t.Fatal("Close did not end the blocked read")
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("goroutines %d after Close, %d before", n, before)
	}
}

func TestSerialOpenRefuses(t *testing.T) {
	file := filepath.Join(t.TempDir(), "notatty")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ dev, want string }{
		{"/dev/null", "ha.cf:7: serial /dev/null: not a tty"},
		{file, "ha.cf:7: serial " + file + ": not a char device"},
		{"/nonexistent/tty", "ha.cf:7: serial /nonexistent/tty: stat"},
	} {
		_, err := Open(Spec{Kind: "serial", Dev: tt.dev, Where: "ha.cf:7"})
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %s...", tt.dev, err, tt.want)
		}
	}
	_, slave := ptyPair(t)
	if _, err := Open(Spec{Kind: "serial", Dev: slave, Baud: 14400}); err == nil || !strings.Contains(err.Error(), "invalid baudrate") {
		t.Errorf("baud 14400: %v", err)
	}
}
