package clstatus

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// hb_standby and hb_takeover check their argument as heartbeat's scripts
// do (messages on stdout, the usage line on stderr, exit 1), and send the
// request directord takes; standby failback is foreign, as in the script.
func TestHBScripts(t *testing.T) {
	const self = "/usr/share/heartbeat/hb_x"
	for _, tc := range []struct {
		standby        bool
		args           []string
		sent           string
		stdout, stderr string
		rc             int
	}{
		{standby: true, sent: "standby all", stderr: "Dec 03 17:21:58 Going standby [all].\n"},
		{standby: true, args: []string{"failback"}, sent: "standby foreign", stderr: "Dec 03 17:21:58 Going standby [foreign].\n"},
		{standby: true, args: []string{"local"}, sent: "standby local", stderr: "Dec 03 17:21:58 Going standby [local].\n"},
		{args: []string{"failback"}, sent: "takeover failback"},
		{args: nil, sent: "takeover all"},
		{standby: true, args: []string{"bogus"}, stdout: self + ": wrong resources(bogus).\nusage:\n", stderr: self + " [all|foreign|local|failback]\n", rc: 1},
		{args: []string{"all", "local"}, stdout: self + ": too many arguments\nusage:\n", stderr: self + " [all|foreign|local|failback]\n", rc: 1},
		{args: []string{"--help"}, stdout: "usage:\n", stderr: self + " [all|foreign|local|failback]\n", rc: 1},
	} {
		var so, se strings.Builder
		var sent []string
		send := func(cmd, arg string) error { sent = append(sent, cmd+" "+arg); return nil }
		env := &Env{Stdout: &so, Stderr: &se, Now: func() time.Time { return time.Date(2026, 12, 3, 17, 21, 58, 0, time.UTC) }}
		f := HBTakeover
		if tc.standby {
			f = HBStandby
		}
		rc := f(self, tc.args, send, env)
		if rc != tc.rc || so.String() != tc.stdout || se.String() != tc.stderr || strings.Join(sent, ";") != tc.sent {
			t.Errorf("standby=%v %q: rc %d stdout %q stderr %q sent %q; want %d %q %q %q", tc.standby, tc.args, rc, so.String(), se.String(), sent, tc.rc, tc.stdout, tc.stderr, tc.sent)
		}
	}
	// directord not running: said, and exit 1 (heartbeat's scripts would
	// hang on the FIFO).
	var so, se strings.Builder
	rc := HBStandby(self, nil, func(string, string) error { return errors.New("connect: no such file or directory") }, &Env{Stdout: &so, Stderr: &se})
	if rc != 1 || so.Len() != 0 || !strings.Contains(se.String(), "Going standby [all].") || !strings.Contains(se.String(), "directord did not take the request: connect: no such file") {
		t.Errorf("not running: rc %d stdout %q stderr %q", rc, so.String(), se.String())
	}
}
