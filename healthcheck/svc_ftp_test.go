package healthcheck

import (
	"bufio"
	"fmt"
	"net"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// ftpServer is a tiny FTP server on 127.0.0.1 with the files in files
// (absolute paths), for user with pass. It speaks what a check needs:
// USER PASS FEAT TYPE CWD EPSV PASV RETR QUIT, and records the commands.
// pasvHost is what PASV replies name (the check must not use it); noEPSV
// refuses EPSV; hang accepts and says nothing.
type ftpServer struct {
	addr       string
	user, pass string
	files      map[string]string
	noEPSV     bool
	hang       bool
	pasvHost   string

	mu   sync.Mutex
	cmds []string
	wg   sync.WaitGroup
	l    net.Listener
}

func startFTP(t *testing.T, fs *ftpServer) *ftpServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs.l, fs.addr = l, l.Addr().String()
	fs.wg.Add(1)
	go func() {
		defer fs.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fs.wg.Add(1)
			go func() { defer fs.wg.Done(); defer c.Close(); fs.session(c) }()
		}
	}()
	t.Cleanup(func() { l.Close(); fs.wg.Wait() })
	return fs
}

func (fs *ftpServer) commands() string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return strings.Join(fs.cmds, ",")
}

func (fs *ftpServer) session(c net.Conn) {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if fs.hang {
		bufio.NewReader(c).ReadString('\n')
		return
	}
	r := bufio.NewReader(c)
	say := func(s string) { fmt.Fprintf(c, "%s\r\n", s) }
	say("220 test ftpd")
	var data net.Listener
	defer func() {
		if data != nil {
			data.Close()
		}
	}()
	user, authed := "", false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd, arg, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
		fs.mu.Lock()
		fs.cmds = append(fs.cmds, cmd)
		fs.mu.Unlock()
		switch cmd {
		case "USER":
			user = arg
			say("331 password please")
		case "PASS":
			if user == fs.user && arg == fs.pass {
				authed = true
				say("230 logged in")
			} else {
				say("530 login incorrect")
			}
		case "FEAT":
			say("211-Features:\r\n EPSV\r\n PASV\r\n211 End")
		case "TYPE":
			say("200 type set")
		case "CWD":
			say("250 ok")
		case "EPSV", "PASV":
			if cmd == "EPSV" && fs.noEPSV {
				say("500 no EPSV")
				continue
			}
			if data != nil {
				data.Close()
			}
			if data, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
				say("425 no data")
				continue
			}
			p := data.Addr().(*net.TCPAddr).Port
			if cmd == "EPSV" {
				say(fmt.Sprintf("229 Entering Extended Passive Mode (|||%d|)", p))
			} else {
				h := strings.ReplaceAll(fs.pasvHost, ".", ",")
				if h == "" {
					h = "127,0,0,1"
				}
				say(fmt.Sprintf("227 Entering Passive Mode (%s,%d,%d)", h, p/256, p%256))
			}
		case "RETR":
			body, ok := fs.files[arg]
			if !authed || !ok || data == nil {
				say("550 no such file")
				continue
			}
			say("150 opening data connection")
			dc, err := data.Accept()
			if err != nil {
				say("425 no data connection")
				continue
			}
			_, err = dc.Write([]byte(body))
			dc.Close()
			if err != nil {
				say("426 transfer aborted")
				continue
			}
			say("226 transfer complete")
		case "QUIT":
			say("221 bye")
			return
		default:
			say("502 not implemented")
		}
	}
}

func ftpSpec(t *testing.T, addr, request, receive string) Spec {
	a, p := addrPort(t, addr)
	s := Spec{Type: "negotiate", Service: "ftp", Addr: a, Port: p, Request: request,
		Login: "anonymous", Passwd: "ldirectord@test",
		NegotiateTimeout: 2 * time.Second, Timeout: time.Second, Interval: time.Second, FailureCount: 1}
	if receive != "" {
		s.Receive = regexp.MustCompile(receive)
	}
	return s
}

func TestFTPNegotiate(t *testing.T) {
	big := strings.Repeat("x", 3<<20)
	fs := startFTP(t, &ftpServer{user: "anonymous", pass: "ldirectord@test", files: map[string]string{
		"/index.html": "welcome to the real server\n", "/empty": "", "/big": "head OK " + big,
	}})
	for _, tc := range []struct {
		request, receive string
		up               bool
		why              string
	}{
		{"/index.html", `real server`, true, ""},
		{"/index.html", `^welcome`, true, ""},
		{"/index.html", `other`, false, `does not match receive "other"`},
		{"/empty", ``, true, ""}, // downloaded: up with an empty receive
		{"/missing", ``, false, "550"},
		{"/big", `^head OK x`, true, ""}, // matched in the first MiB, rest not read
		{"/big", `y`, false, "1048576 bytes"},
	} {
		err := check(t, ftpSpec(t, fs.addr, tc.request, tc.receive))
		if (err == nil) != tc.up || (err != nil && !strings.Contains(err.Error(), tc.why)) {
			t.Errorf("%s ~ %q: got %v, want up=%v (%s)", tc.request, tc.receive, err, tc.up, tc.why)
		}
	}
	if got := fs.commands(); !strings.HasPrefix(got, "USER,PASS,FEAT,TYPE,CWD,EPSV,RETR,QUIT") {
		t.Errorf("commands %s", got)
	}

	s := ftpSpec(t, fs.addr, "/index.html", "")
	s.Passwd = "wrong"
	if err := check(t, s); err == nil || !strings.Contains(err.Error(), "login as anonymous") {
		t.Errorf("wrong password: got %v", err)
	}
}

func TestFTPPassiveUsesRealAddress(t *testing.T) {
	// PASV names another host: the data connection still goes to the real.
	fs := startFTP(t, &ftpServer{user: "u", pass: "p", noEPSV: true, pasvHost: "192.0.2.1",
		files: map[string]string{"/f": "data"}})
	s := ftpSpec(t, fs.addr, "/f", "data")
	s.Login, s.Passwd = "u", "p"
	if err := check(t, s); err != nil {
		t.Fatal(err)
	}
	if got := fs.commands(); !strings.Contains(got, "EPSV,PASV,RETR") {
		t.Errorf("commands %s, want PASV after a refused EPSV", got)
	}
}

func TestFTPHungAndRefused(t *testing.T) {
	fs := startFTP(t, &ftpServer{hang: true})
	s := ftpSpec(t, fs.addr, "/f", "")
	s.NegotiateTimeout, s.Timeout = 500*time.Millisecond, 500*time.Millisecond
	start := time.Now()
	err := check(t, s)
	if err == nil || !strings.Contains(err.Error(), "deadline") || time.Since(start) > time.Second {
		t.Errorf("hung server: got %v after %v", err, time.Since(start))
	}

	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()
	if err := check(t, ftpSpec(t, closed, "/f", "")); err == nil || !strings.Contains(err.Error(), "connect") {
		t.Errorf("refused: got %v", err)
	}
}

func TestFTPNoLeak(t *testing.T) {
	fs := startFTP(t, &ftpServer{user: "anonymous", pass: "ldirectord@test", files: map[string]string{"/f": "ok"}})
	base := runtime.NumGoroutine()
	for range 30 {
		if err := check(t, ftpSpec(t, fs.addr, "/f", "ok")); err != nil {
			t.Fatal(err)
		}
	}
	svcWaitGoroutines(t, base)
}
