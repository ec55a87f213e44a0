package media

// Serial media, as heartbeat 3.0.6's serial plugin (HBcomm/serial.c):
//
//   - the tty is set raw: no ICANON, ECHO, ISIG, OPOST, IXON/IXOFF/IXANY
//     (no software flow control), ICRNL off; INPCK|ISTRIP|IGNCR|BRKINT;
//     CS8|CREAD|CLOCAL|CRTSCTS at the configured speed (19200 by default);
//     input and output are flushed and a break is sent on open ("cause the
//     other guy to flush his I/O");
//   - every message goes out in the classic format (">>>\n" name=value
//     lines "<<<\n"; a netstring message is rewritten, as heartbeat's
//     serial_write does), in 512-byte pieces with a pause of one piece's
//     transmission time between them, each write given 500 ms;
//   - a message is read as lines: everything up to a line starting ">>>"
//     is skipped (line noise, a frame cut by a restart), then lines are
//     taken up to one starting "<<<".
//
// Unlike heartbeat, a frame is bounded (maxSerialFrame: heartbeat takes up
// to 256 KiB into a static buffer), a ">>>" line inside a frame starts the
// frame again (heartbeat keeps the broken frame and loses both), and a
// message received on one serial port is not copied to the other serial
// ports: heartbeat 1.x's plugin did this (a "serial ring" of 3 or more
// nodes, ttl = hopfudge + nodes), 3.0.6's does not, and a pair needs no
// relay.

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/lvsdirector/director/failover/wire"
	"golang.org/x/sys/unix"
)

const (
	// maxSerialFrame bounds a frame read from a tty (the medium read
	// buffer; at 19200 baud it takes 34 s, longer than any deadtime).
	maxSerialFrame = 64 * 1024
	fragSize       = 512                    // heartbeat's FRAGSIZE
	serialWriteMax = 500 * time.Millisecond // heartbeat's setmsalarm(500)
	defaultBaud    = 19200
)

// baudFlags are the speeds heartbeat accepts (StringToBaud).
var baudFlags = map[int]uint32{
	9600: unix.B9600, 19200: unix.B19200, 38400: unix.B38400, 57600: unix.B57600,
	115200: unix.B115200, 230400: unix.B230400, 460800: unix.B460800,
}

// serialConn is a tty as a medium's conn: ReadFromUDPAddrPort returns one
// frame, WriteToUDP writes one message.
type serialConn struct {
	f     *os.File
	name  string
	baud  int
	log   *slog.Logger
	done  chan struct{}
	once  sync.Once
	wmu   sync.Mutex
	fr    framer
	rbuf  [4096]byte
	r, w  int
	noise time.Time // last time line noise was logged
}

// openSerial opens and sets up a tty.
func openSerial(s Spec) (*Medium, error) {
	baud := s.Baud
	if baud == 0 {
		baud = defaultBaud
	}
	speed, ok := baudFlags[baud]
	if !ok {
		return nil, fmt.Errorf("serial %s: invalid baudrate [%d]", s.Dev, baud)
	}
	st, err := os.Stat(s.Dev)
	if err != nil {
		return nil, fmt.Errorf("serial %s: %w", s.Dev, err)
	}
	if st.Mode()&fs.ModeCharDevice == 0 {
		return nil, fmt.Errorf("serial %s: not a char device", s.Dev)
	}
	// Nonblocking, so that the runtime poller waits for it and Close
	// ends a blocked read.
	fd, err := unix.Open(s.Dev, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("serial %s: %w", s.Dev, err)
	}
	if err := ttySetup(fd, speed); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("serial %s: %w", s.Dev, err)
	}
	c := &serialConn{f: os.NewFile(uintptr(fd), s.Dev), name: s.Dev, baud: baud, log: slog.Default(),
		done: make(chan struct{}), fr: framer{max: maxSerialFrame}}
	return &Medium{spec: s, conn: c}, nil
}

func ttySetup(fd int, speed uint32) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		if errors.Is(err, unix.ENOTTY) {
			return errors.New("not a tty")
		}
		return fmt.Errorf("cannot get tty attributes: %w", err)
	}
	t.Iflag &^= unix.IGNBRK | unix.IUCLC | unix.IXANY | unix.IXOFF | unix.IXON | unix.ICRNL | unix.PARMRK
	t.Iflag |= unix.INPCK | unix.ISTRIP | unix.IGNCR | unix.BRKINT
	t.Oflag &^= unix.OPOST
	t.Cflag &^= unix.CBAUD | unix.CSIZE | unix.PARENB
	t.Cflag |= speed | unix.CS8 | unix.CREAD | unix.CLOCAL | unix.CRTSCTS
	t.Lflag &^= unix.ICANON | unix.ECHO | unix.ISIG
	t.Line = 0
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	t.Ispeed, t.Ospeed = speed, speed
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return fmt.Errorf("cannot set tty attributes: %w", err)
	}
	if err := unix.IoctlSetInt(fd, unix.TCFLSH, unix.TCIOFLUSH); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	// tcsendbreak(fd, 0): the peer's tty (BRKINT) flushes what it holds.
	// Not every tty can (a pty ignores it): not an error.
	_ = unix.IoctlSetInt(fd, unix.TCSBRK, 0)
	return nil
}

func closedErr(err error) error {
	if errors.Is(err, os.ErrClosed) {
		return net.ErrClosed
	}
	return err
}

// ReadFromUDPAddrPort returns the next complete frame.
func (c *serialConn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	for {
		for c.r < c.w {
			ch := c.rbuf[c.r]
			c.r++
			if fr, ok := c.fr.push(ch); ok {
				c.reportNoise()
				return copy(b, fr), netip.AddrPort{}, nil
			}
		}
		n, err := c.f.Read(c.rbuf[:])
		if err != nil {
			return 0, netip.AddrPort{}, closedErr(err)
		}
		c.r, c.w = 0, n
	}
}

// reportNoise logs what the framer threw away, at most once a minute.
func (c *serialConn) reportNoise() {
	if c.fr.skipped == 0 && c.fr.dropped == 0 {
		return
	}
	if now := time.Now(); now.Sub(c.noise) >= time.Minute {
		c.log.Warn("serial line noise: bytes outside frames skipped, frames dropped",
			"link", c.name, "skipped_bytes", c.fr.skipped, "dropped_frames", c.fr.dropped)
		c.noise = now
		c.fr.skipped, c.fr.dropped = 0, 0
	}
}

// WriteToUDP writes one message in heartbeat's classic framing, in
// fragSize pieces paced to the line speed.
func (c *serialConn) WriteToUDP(b []byte, _ *net.UDPAddr) (int, error) {
	out, err := wire.ToClassic(b)
	if err != nil {
		return 0, fmt.Errorf("serial %s: %w", c.name, err)
	}
	if len(out) > maxSerialFrame {
		return 0, fmt.Errorf("serial %s: message of %d bytes, more than %d", c.name, len(out), maxSerialFrame)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	pause := time.Duration(fragSize) * time.Second / time.Duration(c.baud/8)
	for off := 0; off < len(out); off += fragSize {
		end := min(off+fragSize, len(out))
		_ = c.f.SetWriteDeadline(time.Now().Add(serialWriteMax))
		if _, err := c.f.Write(out[off:end]); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				// heartbeat flushes and says this (flow control held
				// the line: no peer, or a cable without RTS/CTS).
				if fd, ferr := c.fd(); ferr == nil {
					_ = unix.IoctlSetInt(fd, unix.TCFLSH, unix.TCOFLUSH)
				}
				return off, fmt.Errorf("TTY write timeout on [%s] (no connection or bad cable?)", c.name)
			}
			return off, closedErr(err)
		}
		if end < len(out) {
			t := time.NewTimer(pause)
			select {
			case <-c.done:
				t.Stop()
				return end, net.ErrClosed
			case <-t.C:
			}
		}
	}
	return len(b), nil
}

func (c *serialConn) fd() (int, error) {
	rc, err := c.f.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	err = rc.Control(func(u uintptr) { fd = int(u) })
	return fd, err
}

// Close closes the tty, ending a blocked read or write.
func (c *serialConn) Close() error {
	c.once.Do(func() { close(c.done) })
	return c.f.Close()
}

// framer cuts a byte stream into heartbeat serial frames. Memory is
// bounded by max whatever arrives.
type framer struct {
	max      int
	buf      []byte // the frame so far, then the current line
	in       bool   // a ">>>" line has been seen
	line     int    // start of the current line in buf
	overflow bool   // discarding up to the next newline

	skipped int // bytes outside frames (noise), since last reported
	dropped int // frames dropped: oversized or cut by a new ">>>"
}

// push takes one byte; it returns a complete frame (valid until the next
// push) when c ends one.
func (f *framer) push(c byte) ([]byte, bool) {
	if c == '\r' { // IGNCR, should the tty not do it
		return nil, false
	}
	if f.overflow {
		f.skipped++
		if c == '\n' {
			f.overflow = false
		}
		return nil, false
	}
	if c != '\n' {
		if len(f.buf) >= f.max-1 {
			if f.in {
				f.dropped++
			}
			f.skipped += len(f.buf) - f.line + 1
			f.reset()
			f.overflow = true
			return nil, false
		}
		f.buf = append(f.buf, c)
		return nil, false
	}
	line := f.buf[f.line:]
	f.buf = append(f.buf, '\n')
	switch {
	case hasPrefix(line, ">>>"):
		if f.in {
			f.dropped++ // a frame without its end: start again here
		}
		f.buf = append(f.buf[:0], f.buf[f.line:]...)
		f.in, f.line = true, len(f.buf)
	case !f.in:
		f.skipped += len(f.buf) - f.line
		f.reset()
	case hasPrefix(line, "<<<"):
		fr := f.buf
		f.reset()
		return fr, true
	default:
		f.line = len(f.buf)
	}
	return nil, false
}

func (f *framer) reset() {
	f.buf, f.in, f.line = f.buf[:0], false, 0
}

func hasPrefix(b []byte, p string) bool {
	return len(b) >= len(p) && string(b[:len(p)]) == p
}
