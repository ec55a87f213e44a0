package director

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// ptFuzzSeeds are well-formed configurations covering most directives.
var ptFuzzSeeds = []string{
	`checktimeout=3 # c
negotiatetimeout=10
checkinterval=5
checkcount=2
failurecount=3
autoreload=yes
callback="/bin/cb"
logfile="local0"
execute=other.cf
fork=no
supervised
quiescent=no
readdquiescent=yes
cleanstop=yes
emailalert="a@x.test, b@x.test"
emailalertfreq=60
emailalertstatus=starting,running
emailalertfrom=lvs@x.test
smtp=mail.x.test
maintenancedir=/tmp/maint
fallback=127.0.0.1:80 gate
fallback6=[::1]:80 masq
fallbackcommand=/bin/fb

virtual=192.0.2.1:80
	real=10.0.0.1->10.0.0.4:8080 masq 2 "/a.html", "ok" l:1 u:9
	real=web1.test gate
	request="index.html"
	receive="^OK"
	checktype=3
	checkport=8080
	scheduler=wlc
	persistent=300
	netmask=255.255.255.0
	schedflags=flag-1
	service=http
	httpmethod=HEAD
	virtualhost="www.x.test"
	fallback=127.0.0.1:8080 masq # local
	quiescent=yes
	monitorfile=/tmp/fuzz-monitor.log
	servicename=web
	comment=front

virtual=192.0.2.1:53
    real=10.0.0.1:53 masq
    ops=yes
    service=dns
    request="x.test"
    receive="10.0"
virtual6=[2001:db8::1]:443
	real6=[2001:db8::a] gate
	fallback6=[2001:db8::f]:443 ipip
	service=https
	netmask=64
	persistent=60
virtual=7
	real=10.0.0.9 gate
	protocol=fwm
	checktype=external
	checkcommand="/bin/check it"
	login="u"
	passwd="p"
	database="d"
	secret="s"
	load="cpu"
`,
	"virtual=192.0.2.1:21\n\tservice=ftp\n\treal=10.0.0.1 gate\n\tchecktype=negotiate\n",
	"virtual=vip.test:5060\n\tservice=sip\n\tprotocol=udp\n\treal=10.0.0.1 gate\n",
	"virtual=192.0.2.1:80\n\treal=10.0.0.1 gate\n\n\treal=10.0.0.2 gate\n",
	"virtual=192.0.2.1:80\n        \n",
}

func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("testdata/test.cf"); err == nil {
		f.Add(string(b))
	}
	for _, s := range ptFuzzSeeds {
		f.Add(s)
	}
	for _, tc := range ptErrorCases {
		f.Add(tc.src)
	}
	// No files are created by fuzz inputs.
	saved := cfOpenForAppend
	cfOpenForAppend = func(string) error { return nil }
	f.Cleanup(func() { cfOpenForAppend = saved })

	f.Fuzz(func(t *testing.T, src string) {
		c, err := Parse("fuzz.cf", strings.NewReader(src), ptOpts)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is %T, not *Error", err, err)
			}
			if e.Line < 0 || e.File == "" {
				t.Fatalf("bad error position: %+v", e)
			}
			if c != nil {
				t.Fatalf("config returned with an error")
			}
			return
		}
		if c == nil {
			t.Fatal("nil config without error")
		}
		for _, v := range c.Virtuals {
			if err := v.Service.ServiceKey.Validate(); err != nil {
				t.Fatalf("invalid service key: %v", err)
			}
			if v.Service.Scheduler == "" {
				t.Fatal("no scheduler")
			}
			for _, r := range v.Reals {
				if !r.Dest.Addr.IsValid() || (v.Service.FWMark == 0 && r.Dest.Addr.Is4() != v.Service.Addr.Is4()) {
					t.Fatalf("bad real %v in %v", r.Dest.DestKey, v.ID())
				}
			}
		}
	})
}
