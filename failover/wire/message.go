// Package wire is heartbeat 3.0.6's message format: an ordered list of
// name=value fields, framed either the classic way (">>>\n name=value
// lines <<<\n") or as netstrings ("###\n" len:(type)name=value, ... "%%%\n"
// and a trailing auth netstring), signed with the authkeys method (crc,
// HMAC-MD5 or HMAC-SHA1).
//
// The package is pure: no sockets, no clocks. Decode parses a datagram,
// Packet.Verify checks its digest against a Keyring (Open does both) and
// Encode frames and signs a Message.
package wire

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Type is the type tag of a field: "(1)srcuuid=...". Only String and Binary
// appear in the 2-node messages; the others are carried as opaque bytes.
type Type uint8

// Field types, numbered as on the wire.
const (
	String       Type = 0 // text
	Binary       Type = 1 // raw bytes (netstring) / base64 (classic)
	Struct       Type = 2 // nested message (opaque here)
	List         Type = 3 // list (opaque here)
	Compressed   Type = 4 // compressed (opaque here)
	Uncompressed Type = 5 // uncompressed (opaque here)

	maxType = Uncompressed
)

// Field is one name=value pair. Value holds the decoded bytes: for Binary
// the raw bytes (not base64), for String the text with real newlines.
type Field struct {
	Name  string
	Type  Type
	Value string
}

// Standard field names (heartbeat's F_* names).
const (
	FType     = "t"
	FSrc      = "src"
	FSrcUUID  = "srcuuid"
	FDest     = "dest"
	FDestUUID = "destuuid"
	FSeq      = "seq"
	FGen      = "hg"
	FTS       = "ts"
	FLoad     = "ld"
	FTTL      = "ttl"
	FAuth     = "auth"
	FStatus   = "st"
	FDeadTime = "dt"
	FProtocol = "protocol"
)

// MaxNameLen bounds a field name (heartbeat: MAXNAMELEN 256).
const MaxNameLen = 256

// Message is an ordered list of fields. Names may repeat; lookups return
// the first. The auth field is never part of Fields: Decode takes it out
// and Encode adds it.
type Message struct {
	Fields []Field
}

// New returns a message whose first field is t=<typ>, as heartbeat builds
// them.
func New(typ string) *Message {
	m := &Message{}
	return m.Add(FType, typ)
}

// Add appends a string field and returns m.
func (m *Message) Add(name, value string) *Message {
	m.Fields = append(m.Fields, Field{Name: name, Type: String, Value: value})
	return m
}

// AddBinary appends a binary field (e.g. srcuuid) and returns m.
func (m *Message) AddBinary(name string, value []byte) *Message {
	m.Fields = append(m.Fields, Field{Name: name, Type: Binary, Value: string(value)})
	return m
}

// AddHex appends a string field holding v in lowercase hex without
// padding (heartbeat's "%lx": seq, hg, ts, dt, ackseq) and returns m.
func (m *Message) AddHex(name string, v uint64) *Message {
	return m.Add(name, strconv.FormatUint(v, 16))
}

// AddDec appends a string field holding v in decimal (ttl, firstseq and
// lastseq of NS_rexmit) and returns m.
func (m *Message) AddDec(name string, v int64) *Message {
	return m.Add(name, strconv.FormatInt(v, 10))
}

// Set replaces the value of the first field called name (keeping its
// position and making it a string field) or appends one, and returns m.
func (m *Message) Set(name, value string) *Message {
	for i := range m.Fields {
		if m.Fields[i].Name == name {
			m.Fields[i] = Field{Name: name, Type: String, Value: value}
			return m
		}
	}
	return m.Add(name, value)
}

// Del removes every field called name and returns m.
func (m *Message) Del(name string) *Message {
	out := m.Fields[:0]
	for _, f := range m.Fields {
		if f.Name != name {
			out = append(out, f)
		}
	}
	m.Fields = out
	return m
}

// Clone returns a deep copy of m.
func (m *Message) Clone() *Message {
	return &Message{Fields: append([]Field(nil), m.Fields...)}
}

// Lookup returns the first field called name.
func (m *Message) Lookup(name string) (Field, bool) {
	for _, f := range m.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Get returns the value of the first field called name.
func (m *Message) Get(name string) (string, bool) {
	f, ok := m.Lookup(name)
	return f.Value, ok
}

// Value returns the value of the first field called name, "" if absent.
func (m *Message) Value(name string) string {
	v, _ := m.Get(name)
	return v
}

// T is the message type (t=).
func (m *Message) T() string { return m.Value(FType) }

// Src is the sending node (src=).
func (m *Message) Src() string { return m.Value(FSrc) }

// Dest is the addressed node (dest=), "" for a message to all.
func (m *Message) Dest() string { return m.Value(FDest) }

// Status is st= of a status message (init, up, active, dead).
func (m *Message) Status() string { return m.Value(FStatus) }

// SrcUUID is the sender's 16-byte uuid (srcuuid=), nil if absent.
func (m *Message) SrcUUID() []byte {
	if v, ok := m.Get(FSrcUUID); ok {
		return []byte(v)
	}
	return nil
}

// Seq is the per-sender sequence number (seq=, hex). NS_* messages carry
// none (ErrMissing).
func (m *Message) Seq() (uint64, error) { return m.Hex(FSeq) }

// Gen is the sender's heartbeat generation (hg=, hex).
func (m *Message) Gen() (uint64, error) { return m.Hex(FGen) }

// TS is the sender's wall clock in Unix seconds (ts=, hex).
func (m *Message) TS() (uint64, error) { return m.Hex(FTS) }

// DeadTime is dt= of a status message: the sender's dead time (hex ms).
func (m *Message) DeadTime() (time.Duration, error) {
	v, err := m.Hex(FDeadTime)
	if err != nil {
		return 0, err
	}
	if v > uint64(1<<63-1)/uint64(time.Millisecond) {
		return 0, &FieldError{Name: FDeadTime, Value: m.Value(FDeadTime), Err: errRange}
	}
	return time.Duration(v) * time.Millisecond, nil
}

// TTL is ttl= (decimal).
func (m *Message) TTL() (int64, error) { return m.Dec(FTTL) }

// ErrMissing is returned (wrapped in a FieldError) by the typed accessors
// when the field is absent.
var ErrMissing = errors.New("field missing")

var errRange = errors.New("out of range")

// FieldError is a missing or malformed field.
type FieldError struct {
	Name  string
	Value string
	Err   error
}

func (e *FieldError) Error() string {
	if errors.Is(e.Err, ErrMissing) {
		return fmt.Sprintf("field %s missing", e.Name)
	}
	return fmt.Sprintf("field %s=%q: %v", e.Name, e.Value, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

// Hex reads the first field called name as an unsigned hexadecimal number
// (upper or lower case, no prefix, at most 16 digits).
func (m *Message) Hex(name string) (uint64, error) {
	return m.number(name, 16)
}

// Dec reads the first field called name as a signed decimal number.
func (m *Message) Dec(name string) (int64, error) {
	v, ok := m.Get(name)
	if !ok {
		return 0, &FieldError{Name: name, Err: ErrMissing}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || v[0] == '+' {
		return 0, &FieldError{Name: name, Value: v, Err: errors.New("not a decimal number")}
	}
	return n, nil
}

func (m *Message) number(name string, base int) (uint64, error) {
	v, ok := m.Get(name)
	if !ok {
		return 0, &FieldError{Name: name, Err: ErrMissing}
	}
	if v == "" || v[0] == '+' || v[0] == '-' || len(v) > 16 {
		return 0, &FieldError{Name: name, Value: v, Err: errors.New("not a hex number")}
	}
	n, err := strconv.ParseUint(v, base, 64)
	if err != nil {
		return 0, &FieldError{Name: name, Value: v, Err: errors.New("not a hex number")}
	}
	return n, nil
}

// Control holds the fields heartbeat appends to every message it sends
// (add_control_msg_fields), in this order: src, srcuuid, seq, hg, ts, ld,
// ttl.
type Control struct {
	Src     string // node name, lowercase
	SrcUUID []byte // 16 bytes; nil omits srcuuid (optional on receive)
	Seq     uint64 // 0 omits seq (NS_* messages carry none)
	Gen     uint64 // hg
	TS      uint64 // Unix seconds, must be non-zero
	Load    string // ld (/proc/loadavg); "" omits it
	TTL     int    // ttl = hopfudge + node count; < 0 omits it
}

// AddControl appends the control fields c and returns m.
func (m *Message) AddControl(c Control) *Message {
	m.Add(FSrc, c.Src)
	if c.SrcUUID != nil {
		m.AddBinary(FSrcUUID, c.SrcUUID)
	}
	if c.Seq != 0 {
		m.AddHex(FSeq, c.Seq)
	}
	m.AddHex(FGen, c.Gen)
	m.AddHex(FTS, c.TS)
	if c.Load != "" {
		m.Add(FLoad, c.Load)
	}
	if c.TTL >= 0 {
		m.AddDec(FTTL, int64(c.TTL))
	}
	return m
}

// String renders m for logs: name=value separated by spaces, binary
// values in base64 with their type prefix.
func (m *Message) String() string {
	b := make([]byte, 0, 128)
	for i, f := range m.Fields {
		if i > 0 {
			b = append(b, ' ')
		}
		if f.Type != String {
			b = append(b, '(')
			b = strconv.AppendUint(b, uint64(f.Type), 10)
			b = append(b, ')')
		}
		b = append(b, f.Name...)
		b = append(b, '=')
		if f.Type == String {
			b = append(b, f.Value...)
		} else {
			b = base64.StdEncoding.AppendEncode(b, []byte(f.Value))
		}
	}
	return string(b)
}
