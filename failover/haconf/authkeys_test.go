package haconf

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvsdirector/director/failover/wire"
)

// referenceAuthkeys is the authkeys of the reference's interop test.
const referenceAuthkeys = "auth 2\n1 crc\n2 sha1 s3cret\n3 md5 s3cret\n"

func TestAuthkeysReference(t *testing.T) {
	kr, warns, err := ParseAuthkeys("authkeys", strings.NewReader(referenceAuthkeys))
	if err != nil || len(warns) != 0 {
		t.Fatal(err, warns)
	}
	want := wire.Keyring{Send: 2}
	want.Keys[1] = wire.Key{Method: wire.CRC}
	want.Keys[2] = wire.Key{Method: wire.SHA1, Secret: "s3cret"}
	want.Keys[3] = wire.Key{Method: wire.MD5, Secret: "s3cret"}
	if *kr != want {
		t.Errorf("got %+v\nwant %+v", *kr, want)
	}
	// The keyring signs like heartbeat: a captured datagram (signed with
	// index 3) verifies once 3 is the index in use, or any index is
	// accepted; with auth 2 it is refused (only the index in use counts).
	pkt := "###\n11:(0)t=status,8:(0)st=up,10:(0)dt=2710,11:(0)src=peer,8:(0)seq=1,14:(0)hg=6b0526f0," +
		"14:(0)ts=6b0526f1,8:(0)ttl=3,%%%\n34:3 1394c27b9d04240f695e1011731ee165,"
	if _, err := wire.Open([]byte(pkt), kr); !errors.Is(err, wire.ErrNotSendKey) {
		t.Errorf("signed with 3 at auth 2: %v, want ErrNotSendKey", err)
	}
	kr.AnyIndex = true
	if _, err := wire.Open([]byte(pkt), kr); err != nil {
		t.Error(err)
	}
	kr.AnyIndex = false
	kr.Send = 3
	if _, err := wire.Open([]byte(pkt), kr); err != nil {
		t.Error(err)
	}
}

// No crc warning when crc is only listed (it is refused on receive then).
func TestAuthkeysUnusedCRCQuiet(t *testing.T) {
	_, warns, err := ParseAuthkeys("authkeys", strings.NewReader("auth 2\n1 crc\n2 sha1 k\n"))
	if err != nil || len(warns) != 0 {
		t.Errorf("%v %v", err, warns)
	}
}

func TestAuthkeysForms(t *testing.T) {
	for _, tt := range []struct {
		src  string
		send int
		keys map[int]wire.Key
		warn string
	}{
		{"auth 1\n1 crc\n", 1, map[int]wire.Key{1: {Method: wire.CRC}}, "authkeys:2: INSECURE: auth 1 is crc"},
		{"  # comment\n\n\tauth\t15   # trailing\n 15  md5 k#ey\n0 sha1 x\n", 15,
			map[int]wire.Key{15: {Method: wire.MD5, Secret: "k#ey"}, 0: {Method: wire.SHA1, Secret: "x"}}, ""},
		{"auth2\n2 sha1 key\n", 2, map[int]wire.Key{2: {Method: wire.SHA1, Secret: "key"}}, ""}, // sscanf("auth %d")
		{"auth 1\nauth 2\n1 crc\n2 crc\n", 2, map[int]wire.Key{1: {Method: wire.CRC}, 2: {Method: wire.CRC}}, "authkeys:4: INSECURE: auth 2 is crc"},
		{"auth 3\n3 sha1 my secret\n", 3, map[int]wire.Key{3: {Method: wire.SHA1, Secret: "my"}},
			`authkeys:2: text after the key is ignored: the key is "my"`},
		{"auth 02\n2 sha1 k\r\n", 2, map[int]wire.Key{2: {Method: wire.SHA1, Secret: "k"}}, ""},
	} {
		kr, warns, err := ParseAuthkeys("authkeys", strings.NewReader(tt.src))
		if err != nil {
			t.Errorf("%q: %v", tt.src, err)
			continue
		}
		var want wire.Keyring
		want.Send = tt.send
		for i, k := range tt.keys {
			want.Keys[i] = k
		}
		if *kr != want {
			t.Errorf("%q: got %+v want %+v", tt.src, *kr, want)
		}
		var w string
		if len(warns) > 0 {
			w = warns[0].Error()
		}
		if !strings.HasPrefix(w, tt.warn) || (tt.warn == "" && w != "") {
			t.Errorf("%q: warning %q, want %q", tt.src, w, tt.warn)
		}
	}
}

func TestAuthkeysErrors(t *testing.T) {
	for _, tt := range []struct{ src, want string }{
		{"", "authkeys: no auth line"},
		{"1 crc\n", "authkeys: no auth line"},
		{"auth 2\n1 crc\n", "authkeys:1: Auth Key [2] not found"},
		{"auth x\n1 crc\n", "authkeys:1: Invalid auth line [auth x]"},
		{"auth 2x\n", "authkeys:1: Invalid auth line"},
		{"authenticate 1\n", "authkeys:1: Invalid auth line"},
		{"auth 1\n1\n", "authkeys:2: invalid line [1]"},
		{"auth 1\nx crc\n", "authkeys:2: invalid line [x crc]"},
		{"auth 1\n-1 crc\n", "authkeys:2: invalid line"},
		{"auth 1\n16 crc\n", "authkeys:2: Invalid authentication type [16]"},
		{"auth 1\n1 crc\n1 md5 k\n", "authkeys:3: Duplicate authentication type [1]"},
		{"auth 1\n1 sha256 k\n", "authkeys:2: Invalid authentication method [sha256]"},
		{"auth 1\n1 SHA1 k\n", "authkeys:2: Invalid authentication method [SHA1]"},
		{"auth 1\n1 sha1\n", "authkeys:2: sha1 needs a key"},
		{"auth 1\n1 md5\n", "authkeys:2: md5 needs a key"},
		{"auth 1\n1 crc secret\n", `authkeys:2: crc takes no key (found "secret")`},
	} {
		_, _, err := ParseAuthkeys("authkeys", strings.NewReader(tt.src))
		var ce *Error
		if err == nil || !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%q: got %v, want %s...", tt.src, err, tt.want)
		}
	}
}

func TestAuthkeysMode(t *testing.T) {
	for _, tt := range []struct {
		mode fs.FileMode
		ok   bool
	}{
		{0o600, true}, {0o400, true}, {0o700, true}, {0o620, true}, {0o602, true}, {0o000, true},
		{0o640, false}, {0o604, false}, {0o644, false}, {0o440, false}, {0o777, false},
		{fs.ModeSymlink | 0o600, true},
	} {
		err := CheckAuthkeysMode("/etc/ha.d/authkeys", tt.mode)
		if (err == nil) != tt.ok {
			t.Errorf("mode %v: %v", tt.mode, err)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "/etc/ha.d/authkeys: Bad permissions on keyfile [/etc/ha.d/authkeys]") {
			t.Errorf("message %q", err)
		}
	}
}

func TestLoadAuthkeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authkeys")
	if err := os.WriteFile(path, []byte(referenceAuthkeys), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	kr, err := LoadAuthkeys(path)
	if err != nil || kr.Send != 2 {
		t.Fatalf("%v %+v", err, kr)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadAuthkeys(path); err == nil || !strings.Contains(err.Error(), "Bad permissions") {
		t.Errorf("0640: %v", err)
	}
	if _, err := LoadAuthkeys(path + ".missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}

// heartbeat's C code reads a key as a C string, so a NUL inside it would
// cut the key there and a mixed pair would disagree on it: refused at its
// line, and the error does not echo the raw byte.
func TestAuthkeysNULInKeyRefused(t *testing.T) {
	_, _, err := ParseAuthkeys("authkeys", strings.NewReader("auth 1\n1 sha1 ab\x00cd\n"))
	if err == nil || !strings.Contains(err.Error(), "authkeys:2:") || strings.ContainsRune(err.Error(), 0) {
		t.Fatalf("a NUL in a key: %v", err)
	}
}
