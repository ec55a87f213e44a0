package haconf

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestHACFSerial(t *testing.T) {
	src := "baud 38400\nserial /dev/ttyS0, /dev/ttyS1\nbcast eth0\nserial /dev/ttyUSB0\nnode a b\nauto_failback on\n"
	c := parseHACF(t, src, "a")
	want := []Medium{
		{Kind: Serial, Dev: "/dev/ttyS0", Baud: 38400, Line: 2},
		{Kind: Serial, Dev: "/dev/ttyS1", Baud: 38400, Line: 2},
		{Kind: Bcast, Dev: "eth0", Port: 694, Line: 3},
		{Kind: Serial, Dev: "/dev/ttyUSB0", Baud: 38400, Line: 4},
	}
	if !reflect.DeepEqual(c.Media, want) {
		t.Errorf("media:\n got %+v\nwant %+v", c.Media, want)
	}
	if s := c.Media[0].String(); s != "serial /dev/ttyS0 38400 baud" {
		t.Errorf("String %q", s)
	}

	// Without baud: heartbeat's 19200. Only serial: enough media.
	c = parseHACF(t, "serial /dev/ttyS0\nnode a b\nauto_failback on\n", "a")
	if len(c.Media) != 1 || c.Media[0].Baud != DefaultBaud || c.Baud != 0 {
		t.Errorf("default baud: %+v baud %d", c.Media, c.Baud)
	}

	// A baud after the first serial line does not change its speed
	// (heartbeat's plugin read it when that line loaded it).
	c = parseHACF(t, "serial /dev/ttyS0\nbaud 9600\nserial /dev/ttyS1\nnode a b\nauto_failback on\n", "a")
	if c.Media[0].Baud != 19200 || c.Media[1].Baud != 19200 {
		t.Errorf("late baud: %+v", c.Media)
	}
	if w := warnings(c); !strings.Contains(w, "ha.cf:2: baud setting must precede serial statements: serial on line 1 keeps 19200 baud") {
		t.Errorf("warnings:\n%s", w)
	}
}

func TestHACFSerialErrors(t *testing.T) {
	const base = "bcast eth0\nnode a b\nauto_failback on\n"
	for _, tt := range []struct{ src, want string }{
		{base + "serial ttyS0\n", "ha.cf:4: Serial port not full pathname [ttyS0] in config file"},
		{base + "serial /dev/ttyS0 ttyS1\n", "ha.cf:4: Serial port not full pathname [ttyS1]"},
		{base + "baud 14400\n", "ha.cf:4: invalid baudrate [14400] specified."},
		{base + "baud 19200x\n", "ha.cf:4: invalid baudrate [19200x] specified."},
		{base + "baud 0\n", "ha.cf:4: invalid baudrate [0] specified."},
		{base + "baud 19200\nbaud 19200\n", "ha.cf:5: Baudrate multiply specified."},
		{base + "baud 9600 19200\n", "ha.cf:4: Baudrate multiply specified."},
	} {
		_, err := ParseHACF("ha.cf", strings.NewReader(tt.src), HACFOptions{LocalNode: "a"})
		var ce *Error
		if err == nil || !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("input:\n%s\ngot  %v\nwant %s...", tt.src, err, tt.want)
		}
	}
	for _, b := range []string{"9600", "19200", "38400", "57600", "115200", "230400", "460800"} {
		c := parseHACF(t, "baud "+b+"\nserial /dev/ttyS0\nnode a b\nauto_failback on\n", "a")
		if got := c.Media[0].Baud; b != strconv.Itoa(got) {
			t.Errorf("baud %s: medium at %d", b, got)
		}
	}
}
