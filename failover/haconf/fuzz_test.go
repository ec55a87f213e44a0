package haconf

import (
	"errors"
	"strings"
	"testing"
)

// checkErr asserts that a parse error is an *Error at a line of the input
// (or 0 for the whole file).
func checkErr(t *testing.T, err error, src string) {
	t.Helper()
	if err == nil {
		return
	}
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is not an *Error", err)
	}
	if ce.Line < 0 || ce.Line > strings.Count(src, "\n")+1 {
		t.Fatalf("error line %d outside the input: %v", ce.Line, err)
	}
}

func FuzzHACF(f *testing.F) {
	f.Add(referenceHACF)
	f.Add("bcast eth0 eth1\nudpport 700\nucast eth0 10.0.0.1 10.0.0.2\nmcast eth0 239.0.0.1 694 1 0\n" +
		"node a b\nping 10.0.0.254\nping_group g 10.0.0.1 10.0.0.2\nrespawn root /bin/x -y\n" +
		"auto_failback legacy\nnice_failback on\nkeepalive 500ms\ndeadtime 2.5\ninitdead 12\nwarntime 1500ms\n")
	f.Fuzz(func(t *testing.T, src string) {
		c, err := ParseHACF("ha.cf", strings.NewReader(src), HACFOptions{LocalNode: "a"})
		checkErr(t, err, src)
		if err != nil {
			return
		}
		if len(c.Media) == 0 || len(c.Nodes) == 0 || c.Deadtime <= 2*c.Keepalive || c.Initdead < c.Deadtime || c.Warntime <= 0 {
			t.Fatalf("accepted an invalid configuration: %+v", c)
		}
	})
}

func FuzzAuthkeys(f *testing.F) {
	f.Add(referenceAuthkeys)
	f.Add("# c\n auth 15\n15 md5 k extra\n0 crc\n")
	f.Fuzz(func(t *testing.T, src string) {
		kr, _, err := ParseAuthkeys("authkeys", strings.NewReader(src))
		checkErr(t, err, src)
		if err != nil {
			return
		}
		k, ok := kr.Lookup(kr.Send)
		if !ok || (k.Method.NeedsKey() != (k.Secret != "")) {
			t.Fatalf("accepted keyring without a usable sending key: %+v", kr)
		}
	})
}

func FuzzHaresources(f *testing.F) {
	f.Add("vm 192.0.2.50/24/eth0\npeer 192.0.2.51/24/eth0\n")
	f.Add("a 10.0.0.1 \\\n IPaddr2::10.0.0.2/24/eth0:x/10.0.0.255 ldirectord::ldirectord.cf # c\nb s::a::b\n")
	f.Fuzz(func(t *testing.T, src string) {
		rs, err := ParseHaresources("haresources", strings.NewReader(src))
		checkErr(t, err, src)
		if err != nil {
			return
		}
		keys := map[string]bool{}
		for _, g := range rs.Groups {
			if g.Node == "" || len(g.Resources) == 0 || g.Key != g.Resources[0].Token || keys[g.Key] {
				t.Fatalf("bad group %+v", g)
			}
			keys[g.Key] = true
			for _, r := range g.Resources {
				if (r.Agent == "IPaddr" || r.Agent == "IPaddr2" || r.Agent == "IPv6addr") != (r.IP != nil) {
					t.Fatalf("resource %+v", r)
				}
			}
		}
	})
}
