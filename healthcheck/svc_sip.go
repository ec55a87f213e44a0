package healthcheck

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/lvsdirector/director/ipvs"
)

func init() {
	registerService("sip", func(s Spec) (Checker, error) { return sipCheck{s: s}, nil })
}

// sipCheck is ldirectord's service sip: an OPTIONS request for
// sip:<login> over the virtual's protocol (UDP or TCP); up if the final
// reply's status line is "SIP/2.0 200 ...". Provisional (1xx) replies
// are skipped, and over UDP a datagram for another Call-ID is ignored.
// The request follows RFC 3261: Via and Contact carry the socket's real
// local address and port, branch, tag and Call-ID are fresh every time.
type sipCheck struct{ s Spec }

var sipOK = regexp.MustCompile(`^SIP/2\.0 200( |$)`)

func (c sipCheck) Check(ctx context.Context) error {
	if err := dialogSafe("login", c.s.Login); err != nil {
		return fmt.Errorf("sip: %w", err)
	}
	network, transport := "tcp", "TCP"
	if c.s.Protocol == ipvs.UDP {
		network, transport = "udp", "UDP"
	}
	d, err := openDialog(ctx, c.s, network, false, dialogMaxRead)
	if err != nil {
		return fmt.Errorf("sip: %w", err)
	}
	defer d.close()
	callID := rand.Text()
	req := sipOptions(c.s, transport, d.conn.LocalAddr(), callID)
	if _, err := io.WriteString(d.conn, req); err != nil {
		return fmt.Errorf("sip: sending OPTIONS: %w", err)
	}
	var status string
	if network == "udp" {
		status, err = sipReplyUDP(d, callID)
	} else {
		status, err = sipReplyTCP(d)
	}
	if err != nil {
		return fmt.Errorf("sip: reading reply: %w", err)
	}
	if !sipOK.MatchString(status) {
		return fmt.Errorf("sip: OPTIONS answered %s", dialogText(status))
	}
	return nil
}

// sipOptions builds the OPTIONS request. local is the socket's address.
func sipOptions(s Spec, transport string, local net.Addr, callID string) string {
	var la netip.AddrPort
	switch a := local.(type) {
	case *net.UDPAddr:
		la = a.AddrPort()
	case *net.TCPAddr:
		la = a.AddrPort()
	}
	la = netip.AddrPortFrom(la.Addr().Unmap(), la.Port())
	target := s.Login
	if target == "" {
		target = netip.AddrPortFrom(s.Addr, s.Port).String()
	}
	contact := "sip:" + la.String()
	if transport == "TCP" {
		contact += ";transport=tcp"
	}
	var b strings.Builder
	w := func(line string) { b.WriteString(line + "\r\n") }
	w("OPTIONS sip:" + target + " SIP/2.0")
	w("Via: SIP/2.0/" + transport + " " + la.String() + ";branch=z9hG4bK" + rand.Text() + ";rport")
	w("Max-Forwards: 70")
	w("To: <sip:" + target + ">")
	w("From: <sip:" + target + ">;tag=" + rand.Text())
	w("Call-ID: " + callID)
	w("CSeq: 1 OPTIONS")
	w("Contact: <" + contact + ">")
	w("Accept: application/sdp")
	w("Content-Length: 0")
	w("")
	return b.String()
}

// sipReplyUDP returns the status line of the first final reply: each
// datagram is one message.
func sipReplyUDP(d *dialog, callID string) (string, error) {
	buf := make([]byte, 64<<10)
	for {
		n, err := d.conn.Read(buf)
		if err != nil {
			return "", err
		}
		msg := string(buf[:n])
		head, _, _ := strings.Cut(msg, "\r\n\r\n")
		lines := strings.Split(strings.ReplaceAll(head, "\r\n", "\n"), "\n")
		if id, ok := sipHeader(lines[1:], "call-id", "i"); ok && id != callID {
			continue // a late reply to an earlier request
		}
		if sipProvisional(lines[0]) {
			continue
		}
		return lines[0], nil
	}
}

// sipReplyTCP returns the status line of the first final reply on the
// stream, skipping provisional replies (and their bodies).
func sipReplyTCP(d *dialog) (string, error) {
	for {
		status, err := d.readLine()
		if err != nil {
			return "", err
		}
		if status == "" {
			continue // keep-alive CRLFs between messages
		}
		var headers []string
		for {
			h, err := d.readLine()
			if err != nil {
				return "", err
			}
			if h == "" {
				break
			}
			headers = append(headers, h)
			if len(headers) > 200 {
				return "", errors.New("too many header lines")
			}
		}
		if !sipProvisional(status) {
			return status, nil
		}
		if v, ok := sipHeader(headers, "content-length", "l"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return "", fmt.Errorf("bad Content-Length %s", dialogText(v))
			}
			if _, err := io.CopyN(io.Discard, d.r, n); err != nil {
				return "", err
			}
		}
	}
}

func sipProvisional(status string) bool {
	return strings.HasPrefix(status, "SIP/2.0 1")
}

// sipHeader finds a header by its name or compact form, case-insensitive.
func sipHeader(lines []string, name, compact string) (string, bool) {
	for _, l := range lines {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		if strings.EqualFold(k, name) || strings.EqualFold(k, compact) {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}
