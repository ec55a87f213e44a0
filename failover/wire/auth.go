package wire

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
)

// Method is an authkeys signing method.
type Method uint8

// Methods. The zero Method means "no key at this index".
const (
	CRC  Method = iota + 1 // CRC-32 (poly 0x04C11DB7, MSB first), no key
	MD5                    // HMAC-MD5
	SHA1                   // HMAC-SHA1
)

func (m Method) String() string {
	switch m {
	case CRC:
		return "crc"
	case MD5:
		return "md5"
	case SHA1:
		return "sha1"
	}
	return "Method(" + strconv.Itoa(int(m)) + ")"
}

// ParseMethod maps an authkeys method name (crc, md5, sha1; case
// sensitive, as heartbeat's plugin lookup) to a Method.
func ParseMethod(s string) (Method, bool) {
	switch s {
	case "crc":
		return CRC, true
	case "md5":
		return MD5, true
	case "sha1":
		return SHA1, true
	}
	return 0, false
}

// NeedsKey tells whether the method takes a secret.
func (m Method) NeedsKey() bool { return m == MD5 || m == SHA1 }

// Key is one authkeys entry.
type Key struct {
	Method Method
	Secret string // "" for crc
}

// Digest signs data: lowercase hex, HMAC digests at full length, the crc
// without zero padding (heartbeat prints it with "%lx").
func (k Key) Digest(data []byte) string {
	switch k.Method {
	case CRC:
		return strconv.FormatUint(uint64(crc32MSB(data)), 16)
	case MD5:
		return hmacHex(md5.New, k.Secret, data)
	case SHA1:
		return hmacHex(sha1.New, k.Secret, data)
	}
	return ""
}

func hmacHex(h func() hash.Hash, key string, data []byte) string {
	mac := hmac.New(h, []byte(key))
	mac.Write(data)
	return hex.EncodeToString(mac.Sum(nil))
}

// crcTable is CRC-32 with polynomial 0x04C11DB7 processed most significant
// bit first (hash/crc32 only does the reflected form).
var crcTable = func() (t [256]uint32) {
	for i := range t {
		c := uint32(i) << 24
		for range 8 {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04C11DB7
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// crc32MSB is heartbeat's crc: initial value 0, final XOR 0xFFFFFFFF and,
// unlike cksum(1), no length appended (CRC-32/POSIX as catalogued).
func crc32MSB(data []byte) uint32 {
	var c uint32
	for _, b := range data {
		c = c<<8 ^ crcTable[byte(c>>24)^b]
	}
	return ^c
}

// MaxKeys is the number of authkeys indices (0..15, heartbeat's MAXAUTH).
const MaxKeys = 16

// Keyring is a parsed authkeys file: the keys by index and the index used
// to sign outgoing messages ("auth N").
//
// Received messages are checked only with the sending index's key unless
// AnyIndex is set: heartbeat 3.0.6 signs with its "auth N" index alone, so
// a peer with the same authkeys never uses another, and accepting every
// listed index would let a packet signed with the weakest of them (a crc
// line kept from an old example, which anyone can compute) in.
type Keyring struct {
	Send int
	Keys [MaxKeys]Key
	// AnyIndex accepts every index present, as heartbeat does (settings:
	// [heartbeat] accept_any_auth_index), e.g. while a pair moves from
	// one "auth N" to another one node at a time.
	AnyIndex bool
}

// Errors of signature checks.
var (
	ErrNoAuth     = errors.New("message carries no authentication")
	ErrUnknownKey = errors.New("authentication key index not in authkeys")
	ErrBadDigest  = errors.New("authentication digest does not match")
	ErrNotSendKey = errors.New("authentication key index is not the one in use (auth N)")
)

// Lookup returns the key at index i.
func (kr *Keyring) Lookup(i int) (Key, bool) {
	if kr == nil || i < 0 || i >= MaxKeys || kr.Keys[i].Method == 0 {
		return Key{}, false
	}
	return kr.Keys[i], true
}

// Sign returns the auth value "<index> <digest>" of data with the sending
// key.
func (kr *Keyring) Sign(data []byte) (string, error) {
	k, ok := kr.Lookup(kr.sendIndex())
	if !ok {
		return "", fmt.Errorf("sending key %d: %w", kr.sendIndex(), ErrUnknownKey)
	}
	return strconv.Itoa(kr.Send) + " " + k.Digest(data), nil
}

func (kr *Keyring) sendIndex() int {
	if kr == nil {
		return -1
	}
	return kr.Send
}

// Check verifies digest for data with the key at index, which must be the
// sending index unless AnyIndex is set. (heartbeat 3.0.6 accepts any index
// and checks netstring messages with the received index's method but the
// key of its own sending index; with AnyIndex this checks with the
// received index's key, which gives the same answer whenever both nodes
// have the same authkeys.)
func (kr *Keyring) Check(index int, digest string, data []byte) error {
	k, ok := kr.Lookup(index)
	if !ok {
		return fmt.Errorf("key %d: %w", index, ErrUnknownKey)
	}
	if !kr.AnyIndex && index != kr.Send {
		return fmt.Errorf("key %d, in use %d: %w", index, kr.Send, ErrNotSendKey)
	}
	if !hmac.Equal([]byte(k.Digest(data)), []byte(digest)) {
		return ErrBadDigest
	}
	return nil
}

// parseAuth splits an auth value "<index> <hexdigest>".
func parseAuth(v string) (Auth, bool) {
	i := 0
	for i < len(v) && i < 3 && v[i] >= '0' && v[i] <= '9' {
		i++
	}
	if i == 0 || i >= len(v) || v[i] != ' ' {
		return Auth{}, false
	}
	n, _ := strconv.Atoi(v[:i])
	d := v[i+1:]
	if d == "" || len(d) > 128 {
		return Auth{}, false
	}
	for j := 0; j < len(d); j++ {
		c := d[j]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return Auth{}, false
		}
	}
	return Auth{Index: n, Digest: d}, true
}

// Auth is a received signature.
type Auth struct {
	Index  int // authkeys index; -1 when the message had none
	Digest string
}

func (a Auth) String() string {
	if a.Index < 0 {
		return ""
	}
	return strconv.Itoa(a.Index) + " " + a.Digest
}
