package director

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// ldirectord checks checkport, else the port on the real= line, else the
// service's default port, never the port ipvsadm maps the destination to.
func TestCheckPortFollowsTheRealLine(t *testing.T) {
	cfg, err := Parse("t.cf", strings.NewReader(`virtual=10.0.0.100:80
	real=10.0.1.11:8080 gate
	real=10.0.1.12 masq
	service=http
virtual=10.0.0.100:8080
	real=10.0.1.13 masq
	service=http
virtual=10.0.0.100:81
	real=10.0.1.14:81 masq
	checkport=9000
	checktype=connect
`), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		dest  string
		check uint16
	}{{"10.0.1.11:80", 8080}, {"10.0.1.12:0", 80}, {"10.0.1.13:0", 80}, {"10.0.1.14:81", 9000}}
	i := 0
	for _, v := range cfg.Virtuals {
		for _, r := range v.Reals {
			s := CheckSpec(v, r)
			if r.Dest.DestKey.String() != want[i].dest || s.Port != want[i].check {
				t.Errorf("real %d: dest %v checked on %d; want %s checked on %d", i, r.Dest.DestKey, s.Port, want[i].dest, want[i].check)
			}
			i++
		}
	}
}

func TestUnsupportedCheckRefusedAtLoad(t *testing.T) {
	p := t.TempDir() + "/o.cf"
	os.WriteFile(p, []byte("checkinterval=1\n\nvirtual=10.0.0.100:1521\n\treal=10.0.1.11:1521 masq\n\tservice=oracle\n"), 0o644)
	_, err := ParseFile(p, ParseOptions{})
	var ce *Error
	if !errors.As(err, &ce) || ce.Line != 3 || !strings.Contains(ce.Msg, "oracle") {
		t.Fatalf("got %v", err)
	}
}

// ldirectord's real-id rule: the same real checked the same way from two
// virtuals is one check; a different request makes it another.
func TestSameRealSameCheckIsSharedAcrossVirtuals(t *testing.T) {
	cfg, err := Parse("t.cf", strings.NewReader(`checkinterval=1
virtual=10.0.0.100:80
	real=10.0.1.11:80 masq
	real=10.0.1.12:80 masq
	request="/a.html"
virtual=10.0.0.101:80
	real=10.0.1.11:80 gate 5
	real=10.0.1.12:80 masq "/b.html", "x"
	request="/a.html"
`), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := New(cfg, nil, Options{})
	d.checkOf = checkIDs(cfg)
	specs := d.specs()
	if len(specs) != 3 {
		t.Fatalf("want 3 checks (10.0.1.11 shared, 10.0.1.12 twice), got %d", len(specs))
	}
	a, b := cfg.Virtuals[0], cfg.Virtuals[1]
	if d.checkOf[a.Reals[0]] != d.checkOf[b.Reals[0]] || d.checkOf[a.Reals[1]] == d.checkOf[b.Reals[1]] {
		t.Fatalf("ids: %q %q / %q %q", d.checkOf[a.Reals[0]], d.checkOf[b.Reals[0]], d.checkOf[a.Reals[1]], d.checkOf[b.Reals[1]])
	}
}
