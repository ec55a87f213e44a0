package wire

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
)

// Format is a framing.
type Format uint8

// Framings. Both are accepted on receive by every heartbeat since 2.x;
// heartbeat 3.0.6 (with cluster-glue >= 1.0.10) transmits Netstring.
const (
	Netstring Format = iota + 1
	Classic
)

func (f Format) String() string {
	switch f {
	case Netstring:
		return "netstring"
	case Classic:
		return "classic"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// MaxMessage is the largest datagram heartbeat handles (MAXMSG, 256 KiB).
const MaxMessage = 256 * 1024

const (
	nsStart      = "###\n"
	nsEnd        = "%%%\n"
	classicStart = ">>>\n"
	classicEnd   = "<<<\n"

	// newlineSym stands for '\n' inside string values of the classic
	// format (heartbeat's SPECIAL_SYM, 19).
	newlineSym = 0x13
)

// ErrMalformed is wrapped by every framing error Decode returns.
var ErrMalformed = errors.New("malformed message")

func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, a...))
}

// Packet is a decoded datagram.
type Packet struct {
	Message
	Format Format
	// Auth is the signature receivers check: the trailing auth netstring
	// of a netstring message, the auth= field of a classic one.
	Auth Auth
	// Inner is the classic auth= field heartbeat 3.0.6 also puts inside
	// netstring messages (Index -1 if absent). Receivers do not check it;
	// VerifyInner does, for diagnostics.
	Inner Auth

	signed []byte // bytes covered by Auth
}

// Verify checks the packet's signature against kr: ErrNoAuth without one,
// ErrUnknownKey for an index kr lacks, ErrBadDigest for a wrong digest.
func (p *Packet) Verify(kr *Keyring) error {
	if p.Auth.Index < 0 {
		return ErrNoAuth
	}
	return kr.Check(p.Auth.Index, p.Auth.Digest, p.signed)
}

// VerifyInner checks the classic auth field carried inside a netstring
// message (what a classic-only receiver would check).
func (p *Packet) VerifyInner(kr *Keyring) error {
	if p.Format == Classic {
		return p.Verify(kr)
	}
	if p.Inner.Index < 0 {
		return ErrNoAuth
	}
	body, err := classicBody(nil, &p.Message)
	if err != nil {
		return err
	}
	return kr.Check(p.Inner.Index, p.Inner.Digest, body)
}

// Open decodes a datagram and verifies its signature: the receive path.
func Open(b []byte, kr *Keyring) (*Message, error) {
	p, err := Decode(b)
	if err != nil {
		return nil, err
	}
	if err := p.Verify(kr); err != nil {
		return nil, err
	}
	return &p.Message, nil
}

// Decode parses a datagram in either framing. It does not check the
// signature (see Packet.Verify). Trailing NUL bytes after the message are
// ignored; anything else after it is an error.
func Decode(b []byte) (*Packet, error) {
	if len(b) > MaxMessage {
		return nil, malformed("%d bytes, more than %d", len(b), MaxMessage)
	}
	switch {
	case bytes.HasPrefix(b, []byte(nsStart)):
		return decodeNetstring(b)
	case bytes.HasPrefix(b, []byte(classicStart)):
		return decodeClassic(b)
	}
	return nil, malformed("neither %q nor %q at the start", nsStart[:3], classicStart[:3])
}

func onlyNULs(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// readNetstring reads "<len>:<body>," at b[i:] and returns the body and
// the index after the comma.
func readNetstring(b []byte, i int) ([]byte, int, error) {
	j := i
	for j < len(b) && j-i < 7 && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	if j == i || j >= len(b) || b[j] != ':' {
		return nil, 0, malformed("bad netstring length at offset %d", i)
	}
	n, _ := strconv.Atoi(string(b[i:j]))
	start := j + 1
	end := start + n
	if end >= len(b) || b[end] != ',' {
		return nil, 0, malformed("netstring at offset %d: length %d overruns or lacks its comma", i, n)
	}
	return b[start:end], end + 1, nil
}

func decodeNetstring(b []byte) (*Packet, error) {
	p := &Packet{Format: Netstring, Auth: Auth{Index: -1}, Inner: Auth{Index: -1}}
	i := len(nsStart)
	for {
		if bytes.HasPrefix(b[i:], []byte(nsEnd)) {
			i += len(nsEnd)
			break
		}
		if i >= len(b) {
			return nil, malformed("no %q end marker", nsEnd[:3])
		}
		body, next, err := readNetstring(b, i)
		if err != nil {
			return nil, err
		}
		f, err := parseNetstringField(body)
		if err != nil {
			return nil, fmt.Errorf("field at offset %d: %w", i, err)
		}
		if err := p.take(f, &p.Inner); err != nil {
			return nil, err
		}
		i = next
	}
	p.signed = b[:i]
	rest := b[i:]
	if onlyNULs(rest) {
		return p, nil
	}
	body, next, err := readNetstring(b, i)
	if err != nil {
		return nil, fmt.Errorf("auth trailer: %w", err)
	}
	a, ok := parseAuth(string(body))
	if !ok {
		return nil, malformed("auth trailer %q", body)
	}
	p.Auth = a
	if !onlyNULs(b[next:]) {
		return nil, malformed("%d bytes after the auth trailer", len(b)-next)
	}
	return p, nil
}

// take appends f to the message, or records it as the auth field.
func (p *Packet) take(f Field, auth *Auth) error {
	if f.Name != FAuth {
		p.Fields = append(p.Fields, f)
		return nil
	}
	if auth.Index >= 0 {
		return malformed("two auth fields")
	}
	a, ok := parseAuth(f.Value)
	if !ok || f.Type != String {
		return malformed("auth field %q", f.Value)
	}
	*auth = a
	return nil
}

// parseNetstringField parses "(type)name=value".
func parseNetstringField(body []byte) (Field, error) {
	if len(body) < 4 || body[0] != '(' || body[2] != ')' || body[1] < '0' || body[1] > '0'+byte(maxType) {
		return Field{}, malformed("no (type) prefix in %.40q", body)
	}
	t := Type(body[1] - '0')
	rest := body[3:]
	eq := bytes.IndexByte(rest, '=')
	if eq < 0 {
		return Field{}, malformed("no '=' in %.40q", body)
	}
	name := string(rest[:eq])
	if err := checkName(name); err != nil {
		return Field{}, err
	}
	return Field{Name: name, Type: t, Value: string(rest[eq+1:])}, nil
}

// checkName enforces what both framings can carry: a non-empty name of at
// most MaxNameLen bytes without '=', newline, NUL or the newline symbol,
// not starting with '(' (which would read as a type prefix).
func checkName(name string) error {
	if name == "" || len(name) > MaxNameLen {
		return malformed("field name of %d bytes", len(name))
	}
	if name[0] == '(' {
		return malformed("field name %.40q starts with '('", name)
	}
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '=', '\n', 0, newlineSym:
			return malformed("field name %.40q contains %q", name, name[i])
		}
	}
	return nil
}

func decodeClassic(b []byte) (*Packet, error) {
	p := &Packet{Format: Classic, Auth: Auth{Index: -1}, Inner: Auth{Index: -1}}
	i := len(classicStart)
	for {
		nl := bytes.IndexByte(b[i:], '\n')
		if nl < 0 {
			return nil, malformed("no %q end line", classicEnd[:3])
		}
		line := b[i : i+nl]
		i += nl + 1
		if string(line) == classicEnd[:3] {
			break
		}
		f, err := parseClassicLine(line)
		if err != nil {
			return nil, err
		}
		if err := p.take(f, &p.Auth); err != nil {
			return nil, err
		}
	}
	if !onlyNULs(b[i:]) {
		return nil, malformed("%d bytes after %q", len(b)-i, classicEnd[:3])
	}
	body, err := classicBody(nil, &p.Message)
	if err != nil {
		return nil, err
	}
	p.signed = body
	return p, nil
}

// parseClassicLine parses "[(type)]name=value".
func parseClassicLine(line []byte) (Field, error) {
	t := String
	if len(line) >= 3 && line[0] == '(' && line[2] == ')' && line[1] >= '0' && line[1] <= '9' {
		if line[1] > '0'+byte(maxType) {
			return Field{}, malformed("unknown field type in %.40q", line)
		}
		t = Type(line[1] - '0')
		line = line[3:]
	}
	eq := bytes.IndexByte(line, '=')
	if eq < 0 {
		return Field{}, malformed("no '=' in line %.40q", line)
	}
	name := string(line[:eq])
	if err := checkName(name); err != nil {
		return Field{}, err
	}
	raw := line[eq+1:]
	if len(raw) == 0 {
		// heartbeat's classic parser drops a message with an empty value.
		return Field{}, malformed("empty value for %q", name)
	}
	var v []byte
	switch t {
	case String:
		v = bytes.ReplaceAll(raw, []byte{newlineSym}, []byte{'\n'})
	case Binary:
		d, err := base64.StdEncoding.Strict().DecodeString(string(raw))
		if err != nil || len(d) == 0 {
			return Field{}, malformed("binary field %q: bad base64", name)
		}
		v = d
	default:
		v = raw
	}
	return Field{Name: name, Type: t, Value: string(v)}, nil
}

// appendClassicLine appends "[(type)]name=value\n" or fails if the field
// cannot be represented in the classic format.
func appendClassicLine(dst []byte, f Field) ([]byte, error) {
	if f.Value == "" {
		return nil, fmt.Errorf("classic format: field %q: empty value", f.Name)
	}
	if f.Type != String {
		dst = append(dst, '(', '0'+byte(f.Type), ')')
	}
	dst = append(dst, f.Name...)
	dst = append(dst, '=')
	switch f.Type {
	case String:
		if bytes.IndexByte([]byte(f.Value), newlineSym) >= 0 {
			return nil, fmt.Errorf("classic format: field %q: value contains byte 0x13", f.Name)
		}
		for i := 0; i < len(f.Value); i++ {
			c := f.Value[i]
			if c == '\n' {
				c = newlineSym
			}
			dst = append(dst, c)
		}
	case Binary:
		dst = base64.StdEncoding.AppendEncode(dst, []byte(f.Value))
	default:
		if bytes.IndexByte([]byte(f.Value), '\n') >= 0 {
			return nil, fmt.Errorf("classic format: field %q of type %d contains a newline", f.Name, f.Type)
		}
		dst = append(dst, f.Value...)
	}
	return append(dst, '\n'), nil
}

// classicBody is the classic text of every field (no markers, no auth):
// what a classic auth digest covers.
func classicBody(dst []byte, m *Message) ([]byte, error) {
	var err error
	for _, f := range m.Fields {
		if dst, err = appendClassicLine(dst, f); err != nil {
			return nil, err
		}
	}
	return dst, nil
}

func checkFields(m *Message) error {
	for _, f := range m.Fields {
		if err := checkName(f.Name); err != nil {
			return err
		}
		if f.Name == FAuth {
			return errors.New("field name auth is reserved for the signature")
		}
		if f.Type > maxType {
			return fmt.Errorf("field %q: unknown type %d", f.Name, f.Type)
		}
	}
	return nil
}

// Encode frames m and signs it with kr's sending key.
//
// Netstring output is what heartbeat 3.0.6 transmits: the fields, then a
// classic auth= field (the digest of the classic text of the fields; left
// out when a field cannot be written in the classic format), "%%%\n" and
// the trailing auth netstring over everything before it. Classic output is
// ">>>\n", the field lines, auth=, "<<<\n".
func Encode(m *Message, f Format, kr *Keyring) ([]byte, error) {
	if err := checkFields(m); err != nil {
		return nil, err
	}
	var out []byte
	switch f {
	case Netstring:
		out = append(out, nsStart...)
		for _, fl := range m.Fields {
			out = appendNetstringField(out, fl)
		}
		if body, err := classicBody(nil, m); err == nil {
			inner, err := kr.Sign(body)
			if err != nil {
				return nil, err
			}
			out = appendNetstringField(out, Field{Name: FAuth, Value: inner})
		}
		out = append(out, nsEnd...)
		trailer, err := kr.Sign(out)
		if err != nil {
			return nil, err
		}
		out = strconv.AppendInt(out, int64(len(trailer)), 10)
		out = append(out, ':')
		out = append(out, trailer...)
		out = append(out, ',')
	case Classic:
		body, err := classicBody(nil, m)
		if err != nil {
			return nil, err
		}
		auth, err := kr.Sign(body)
		if err != nil {
			return nil, err
		}
		out = append(out, classicStart...)
		out = append(out, body...)
		out = append(out, FAuth+"="...)
		out = append(out, auth...)
		out = append(out, '\n')
		out = append(out, classicEnd...)
	default:
		return nil, fmt.Errorf("unknown format %v", f)
	}
	if len(out) > MaxMessage {
		return nil, fmt.Errorf("message of %d bytes exceeds %d", len(out), MaxMessage)
	}
	return out, nil
}

func appendNetstringField(dst []byte, f Field) []byte {
	n := 3 + len(f.Name) + 1 + len(f.Value)
	dst = strconv.AppendInt(dst, int64(n), 10)
	dst = append(dst, ':', '(', '0'+byte(f.Type), ')')
	dst = append(dst, f.Name...)
	dst = append(dst, '=')
	dst = append(dst, f.Value...)
	return append(dst, ',')
}
