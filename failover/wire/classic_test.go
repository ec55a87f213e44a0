package wire

import (
	"bytes"
	"testing"
)

// A netstring message rewritten for a tty is a classic message that
// verifies with the same key, with the same fields.
func TestToClassic(t *testing.T) {
	kr := &Keyring{Send: 1}
	kr.Keys[1] = Key{Method: SHA1, Secret: "secret"}
	m := New("status").Add("src", "a").Add("st", "active").AddHex("seq", 7)
	ns, err := Encode(m, Netstring, kr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ToClassic(ns)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Encode(m, Classic, kr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c, want) {
		t.Fatalf("ToClassic:\n%q\nwant\n%q", c, want)
	}
	if _, err := Open(c, kr); err != nil {
		t.Fatalf("classic rewrite does not verify: %v", err)
	}
	if same, err := ToClassic(want); err != nil || !bytes.Equal(same, want) {
		t.Fatalf("classic input changed: %q %v", same, err)
	}
	if _, err := ToClassic([]byte("junk")); err == nil {
		t.Fatal("junk accepted")
	}
}
