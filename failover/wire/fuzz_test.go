package wire

import (
	"reflect"
	"testing"
)

// FuzzDecode: Decode never panics, and whatever it accepts re-encodes (in
// its own framing, and in netstring always) to a datagram that decodes to
// the same fields and verifies.
func FuzzDecode(f *testing.F) {
	for _, p := range capture(f) {
		f.Add(p)
	}
	for _, v := range peerVectors {
		f.Add([]byte(v.classic))
		f.Add([]byte(v.netstr))
	}
	f.Add([]byte(">>>\n(1)u=AAoT/z0s\ninfo=a\x13b\n(3)l=x\n<<<\n"))
	kr := testKeys(3)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			return
		}
		_ = p.Verify(kr)
		_ = p.VerifyInner(kr)
		for _, format := range []Format{Netstring, Classic} {
			out, err := Encode(&p.Message, format, kr)
			if err != nil {
				if format == Netstring || p.Format == Classic {
					t.Fatalf("accepted %v message does not encode as %v: %v\n%q", p.Format, format, err, b)
				}
				continue // e.g. a netstring value the classic format cannot hold
			}
			q, err := Decode(out)
			if err != nil {
				t.Fatalf("re-encoded %v does not decode: %v\n%q", format, err, out)
			}
			if err := q.Verify(kr); err != nil {
				t.Fatalf("re-encoded %v does not verify: %v", format, err)
			}
			if len(p.Fields) != len(q.Fields) || (len(p.Fields) > 0 && !reflect.DeepEqual(p.Fields, q.Fields)) {
				t.Fatalf("%v round trip changed fields:\n in  %#v\n out %#v", format, p.Fields, q.Fields)
			}
		}
	})
}
