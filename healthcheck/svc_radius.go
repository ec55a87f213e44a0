package healthcheck

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"
)

func init() {
	registerService("radius", func(s Spec) (Checker, error) { return newRADIUSCheck(s), nil })
}

// RADIUS (RFC 2865) codes and attributes the check uses.
const (
	radiusAccessRequest   = 1
	radiusAccessAccept    = 2
	radiusAccessReject    = 3
	radiusAccessChallenge = 11

	radiusUserName             = 1
	radiusUserPassword         = 2
	radiusNASIPAddress         = 4
	radiusReplyMessage         = 18
	radiusNASIPv6Address       = 95
	radiusMessageAuthenticator = 80 // RFC 3579

	radiusHeaderLen = 20
	radiusMaxLen    = 4096
)

// radiusCheck is ldirectord's negotiate check for service radius
// (Authen::Radius check_pwd): an Access-Request with User-Name = login and
// User-Password = passwd hidden with secret, sent over UDP to the real
// server. Up only on an Access-Accept whose Response Authenticator proves
// it comes from a server knowing the secret; Access-Reject,
// Access-Challenge, silence until the deadline and ICMP port unreachable
// are down.
//
// Beyond ldirectord: the request carries a Message-Authenticator (RFC 3579,
// first attribute, as servers hardened against BlastRADIUS require), and a
// reply's Message-Authenticator is checked when present; the request is
// resent until the deadline (same identifier, as a retransmission should);
// a reply with a bad authenticator is reported as a likely wrong secret.
// An empty secret or login is down without sending anything.
//
// The protocol part is small enough to write here rather than depend on a
// RADIUS library.
type radiusCheck struct {
	s    Spec
	addr string
}

func newRADIUSCheck(s Spec) *radiusCheck {
	return &radiusCheck{s: s, addr: netip.AddrPortFrom(s.Addr, s.Port).String()}
}

func (c *radiusCheck) Check(ctx context.Context) error {
	switch {
	case c.s.Secret == "":
		return errors.New("radius: secret is empty")
	case c.s.Login == "":
		return errors.New("radius: login is empty")
	case len(c.s.Login) > 253:
		return errors.New("radius: login is longer than 253 bytes")
	case len(c.s.Passwd) > 128:
		return errors.New("radius: passwd is longer than 128 bytes")
	}
	d := checkDialer()
	conn, err := d.DialContext(ctx, "udp", c.addr)
	if err != nil {
		return fmt.Errorf("radius %s: %w", c.addr, err)
	}
	defer conn.Close()
	w := watchConn(ctx, conn)
	defer w.stop()

	var hdr [1 + 16]byte // identifier, request authenticator
	if _, err := rand.Read(hdr[:]); err != nil {
		return err
	}
	id, auth := hdr[0], [16]byte(hdr[1:])
	var nas netip.Addr
	if la, ok := conn.LocalAddr().(*net.UDPAddr); ok {
		nas = la.AddrPort().Addr().Unmap()
	}
	req := radiusRequest(id, auth, []byte(c.s.Secret), c.s.Login, c.s.Passwd, nas)

	buf := make([]byte, radiusMaxLen)
	every := retryInterval(time.Until(w.deadline()))
	var bad error // why the last reply was discarded
	for {
		if _, err := conn.Write(req); err != nil {
			return fmt.Errorf("radius %s: %w", c.addr, ctxErr(ctx, err))
		}
		w.setReadDeadline(time.Now().Add(every))
		for {
			n, err := conn.Read(buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil && time.Until(w.deadline()) > 0 {
					break // resend
				}
				if bad != nil {
					return fmt.Errorf("radius %s: no valid reply: %w (last reply discarded: %v)", c.addr, ctxErr(ctx, err), bad)
				}
				return fmt.Errorf("radius %s: no reply (no server, or one that drops requests with a wrong secret): %w", c.addr, ctxErr(ctx, err))
			}
			code, msg, err := radiusParseReply(buf[:n], id, auth, []byte(c.s.Secret))
			if err != nil {
				bad = err
				continue
			}
			switch code {
			case radiusAccessAccept:
				return nil
			case radiusAccessReject:
				return fmt.Errorf("radius %s: Access-Reject for %s%s", c.addr, c.s.Login, msg)
			case radiusAccessChallenge:
				return fmt.Errorf("radius %s: Access-Challenge for %s%s", c.addr, c.s.Login, msg)
			}
			bad = fmt.Errorf("unexpected code %d", code)
		}
	}
}

// radiusRequest builds an Access-Request: Message-Authenticator first,
// then User-Name, User-Password and NAS-IP(v6)-Address when nas is valid.
func radiusRequest(id byte, auth [16]byte, secret []byte, user, passwd string, nas netip.Addr) []byte {
	p := make([]byte, radiusHeaderLen, 128)
	p[0], p[1] = radiusAccessRequest, id
	copy(p[4:20], auth[:])
	p = append(p, radiusMessageAuthenticator, 18)
	ma := len(p)
	p = append(p, make([]byte, 16)...)
	p = radiusAttr(p, radiusUserName, []byte(user))
	p = radiusAttr(p, radiusUserPassword, radiusHidePassword([]byte(passwd), secret, auth))
	if nas.Is4() {
		a := nas.As4()
		p = radiusAttr(p, radiusNASIPAddress, a[:])
	} else if nas.Is6() {
		a := nas.As16()
		p = radiusAttr(p, radiusNASIPv6Address, a[:])
	}
	binary.BigEndian.PutUint16(p[2:4], uint16(len(p)))
	mac := hmac.New(md5.New, secret)
	mac.Write(p)
	copy(p[ma:ma+16], mac.Sum(nil))
	return p
}

func radiusAttr(p []byte, typ byte, v []byte) []byte {
	return append(append(p, typ, byte(2+len(v))), v...)
}

// radiusHidePassword is RFC 2865 5.2: the password padded with NULs to a
// multiple of 16 bytes, each block XORed with MD5(secret + previous block),
// the first previous block being the request authenticator.
func radiusHidePassword(passwd, secret []byte, auth [16]byte) []byte {
	n := max((len(passwd)+15)/16*16, 16)
	out := make([]byte, n)
	copy(out, passwd)
	prev := auth[:]
	for i := 0; i < n; i += 16 {
		h := md5.New()
		h.Write(secret)
		h.Write(prev)
		b := h.Sum(nil)
		for j := range 16 {
			out[i+j] ^= b[j]
		}
		prev = out[i : i+16]
	}
	return out
}

// radiusParseReply checks that p is a reply to the request with id and
// auth from a server sharing secret, and returns its code and, for the
// reason of a down result, its Reply-Message.
func radiusParseReply(p []byte, id byte, auth [16]byte, secret []byte) (code byte, msg string, err error) {
	if len(p) < radiusHeaderLen {
		return 0, "", fmt.Errorf("short reply (%d bytes)", len(p))
	}
	if p[1] != id {
		return 0, "", fmt.Errorf("reply to another request (identifier %d, want %d)", p[1], id)
	}
	n := int(binary.BigEndian.Uint16(p[2:4]))
	if n < radiusHeaderLen || n > len(p) {
		return 0, "", fmt.Errorf("bad length %d in a %d-byte reply", n, len(p))
	}
	p = p[:n] // bytes past the length are padding (RFC 2865 3)
	h := md5.New()
	h.Write(p[:4])
	h.Write(auth[:])
	h.Write(p[20:])
	h.Write(secret)
	if !hmac.Equal(h.Sum(nil), p[4:20]) {
		return 0, "", errors.New("bad response authenticator (wrong secret?)")
	}
	for a := p[20:]; len(a) > 0; {
		if len(a) < 2 || int(a[1]) < 2 || int(a[1]) > len(a) {
			return 0, "", errors.New("malformed attributes")
		}
		typ, v := a[0], a[2:a[1]]
		switch typ {
		case radiusReplyMessage:
			if len(msg) < 200 {
				msg += string(v)
			}
		case radiusMessageAuthenticator:
			if len(v) != 16 {
				return 0, "", errors.New("malformed Message-Authenticator")
			}
			off := len(p) - len(a) + 2
			q := bytes.Clone(p)
			copy(q[4:20], auth[:])
			clear(q[off : off+16])
			mac := hmac.New(md5.New, secret)
			mac.Write(q)
			if !hmac.Equal(mac.Sum(nil), v) {
				return 0, "", errors.New("bad Message-Authenticator (wrong secret?)")
			}
		}
		a = a[a[1]:]
	}
	if msg != "" {
		msg = ": " + strconv.Quote(msg)
	}
	return p[0], msg, nil
}
