package haconf

import "fmt"

// DefaultBaud is heartbeat's serial speed without a baud line.
const DefaultBaud = 19200

// bauds are the rates heartbeat 3.0.6's StringToBaud knows.
var bauds = map[string]int{"9600": 9600, "19200": 19200, "38400": 38400, "57600": 57600,
	"115200": 115200, "230400": 230400, "460800": 460800}

// baud N: once, one of heartbeat's rates (its messages).
func (p *hacfParser) baud(v string) error {
	if p.c.Baud != 0 {
		return fmt.Errorf("Baudrate multiply specified.")
	}
	n, ok := bauds[v]
	if !ok {
		return fmt.Errorf("invalid baudrate [%s] specified.", v)
	}
	p.c.Baud = n
	// heartbeat's serial plugin reads baud once, when the first serial
	// line loads it: a later baud does not change the line speed.
	for _, m := range p.c.Media {
		if m.Kind == Serial {
			p.warnf("baud setting must precede serial statements: serial on line %d keeps %d baud", m.Line, m.Baud)
			break
		}
	}
	return nil
}

// serial DEV [DEV ...]: one medium per tty, all at the one speed heartbeat's
// plugin takes when the first serial line loads it. That the path is a tty
// is checked when it is opened (at start), as heartbeat checks it.
func (p *hacfParser) serial(dev string) error {
	if dev[0] != '/' {
		return fmt.Errorf("Serial port not full pathname [%s] in config file", dev)
	}
	baud := p.c.Baud
	if baud == 0 {
		baud = DefaultBaud
	}
	for _, m := range p.c.Media {
		if m.Kind == Serial {
			baud = m.Baud
			break
		}
	}
	p.c.Media = append(p.c.Media, Medium{Kind: Serial, Dev: dev, Baud: baud, Line: p.line})
	return nil
}
