package healthcheck

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// The real servers are checked in the VM; these fakes speak just enough of
// each protocol to run one query, so the check's own logic is tested here:
// what it sends, how rows count, and every way it must end by the deadline.

// fakeDB is a loopback server running session on each connection.
type fakeDB struct {
	addr string
	mu   sync.Mutex
	seen map[string]string // what the last client sent: user, database, query
	wg   sync.WaitGroup
}

func startFakeDB(t *testing.T, session func(db *fakeDB, c net.Conn)) *fakeDB {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	db := &fakeDB{addr: l.Addr().String(), seen: map[string]string{}}
	db.wg.Add(1)
	go func() {
		defer db.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			db.wg.Add(1)
			go func() {
				defer db.wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				session(db, c)
			}()
		}
	}()
	t.Cleanup(func() { l.Close(); db.wg.Wait() })
	return db
}

func (db *fakeDB) note(k, v string) {
	db.mu.Lock()
	db.seen[k] = v
	db.mu.Unlock()
}

func (db *fakeDB) get(k string) string {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.seen[k]
}

// hangSession accepts and says nothing.
func hangSession(_ *fakeDB, c net.Conn) { io.Copy(io.Discard, c) }

// pgSession is PostgreSQL without TLS: cleartext password "pw", then
// "SELECT 1" has one row, "SELECT none" none, "SELECT sleep" never
// answers, anything else is a syntax error.
func pgSession(db *fakeDB, c net.Conn) {
	be := pgproto3.NewBackend(c, c)
	msg, err := be.ReceiveStartupMessage()
	if _, ssl := msg.(*pgproto3.SSLRequest); ssl {
		c.Write([]byte("N"))
		msg, err = be.ReceiveStartupMessage()
	}
	sm, ok := msg.(*pgproto3.StartupMessage)
	if err != nil || !ok {
		return
	}
	db.note("user", sm.Parameters["user"])
	db.note("database", sm.Parameters["database"])
	db.note("application_name", sm.Parameters["application_name"])
	be.Send(&pgproto3.AuthenticationCleartextPassword{})
	be.Flush()
	be.SetAuthType(pgproto3.AuthTypeCleartextPassword)
	msg, err = be.Receive()
	if pm, ok := msg.(*pgproto3.PasswordMessage); err != nil || !ok || pm.Password != "pw" {
		be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: "28P01", Message: "password authentication failed"})
		be.Flush()
		return
	}
	be.Send(&pgproto3.AuthenticationOk{})
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	be.Flush()
	for {
		msg, err := be.Receive()
		if err != nil {
			return
		}
		q, ok := msg.(*pgproto3.Query)
		if !ok {
			return // Terminate
		}
		db.note("query", q.String)
		cols := &pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{{Name: []byte("n"), DataTypeOID: 25, DataTypeSize: -1}}}
		switch q.String {
		case "SELECT 1":
			be.Send(cols)
			be.Send(&pgproto3.DataRow{Values: [][]byte{[]byte("1")}})
			be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")})
		case "SELECT none":
			be.Send(cols)
			be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT 0")})
		case "SELECT sleep":
			io.Copy(io.Discard, c)
			return
		default:
			be.Send(&pgproto3.ErrorResponse{Severity: "ERROR", Code: "42601", Message: "syntax error"})
		}
		be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
		be.Flush()
	}
}

// mysqlSession is MySQL without TLS: any password is accepted for user
// "u" (the scramble is not checked), then the same queries as pgSession.
func mysqlSession(db *fakeDB, c net.Conn) {
	r := bufio.NewReader(c)
	send := func(seq byte, payload []byte) {
		h := []byte{byte(len(payload)), byte(len(payload) >> 8), byte(len(payload) >> 16), seq}
		c.Write(append(h, payload...))
	}
	recv := func() (byte, []byte, bool) {
		var h [4]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return 0, nil, false
		}
		p := make([]byte, int(h[0])|int(h[1])<<8|int(h[2])<<16)
		_, err := io.ReadFull(r, p)
		return h[3], p, err == nil
	}
	const caps = 0x1 | 0x8 | 0x200 | 0x2000 | 0x8000 | 0x80000 // long password, with db, 4.1, transactions, secure conn, plugin auth
	hs := []byte{10}
	hs = append(hs, "8.0.0-fake\x00"...)
	hs = append(hs, 1, 0, 0, 0)        // connection id
	hs = append(hs, "abcdefgh\x00"...) // scramble part 1, filler
	hs = binary.LittleEndian.AppendUint16(hs, caps&0xffff)
	hs = append(hs, 45, 2, 0) // charset, status
	hs = binary.LittleEndian.AppendUint16(hs, caps>>16)
	hs = append(hs, 21)                    // scramble length
	hs = append(hs, make([]byte, 10)...)   // reserved
	hs = append(hs, "ijklmnopqrst\x00"...) // scramble part 2
	hs = append(hs, "mysql_native_password\x00"...)
	send(0, hs)
	_, p, ok := recv()
	if !ok || len(p) < 33 {
		return
	}
	user, rest, _ := strings.Cut(string(p[32:]), "\x00")
	db.note("user", user)
	if n := int(rest[0]); len(rest) > 1+n { // auth response, then the database
		dbname, _, _ := strings.Cut(rest[1+n:], "\x00")
		db.note("database", dbname)
	}
	okPkt := []byte{0, 0, 0, 2, 0, 0, 0}
	if user != "u" {
		send(2, append([]byte{0xff, 0x15, 0x04}, "#28000Access denied"...))
		return
	}
	send(2, okPkt)
	eof := []byte{0xfe, 0, 0, 2, 0}
	for {
		_, p, ok := recv()
		if !ok || len(p) == 0 || p[0] != 3 { // COM_QUERY; COM_QUIT ends
			return
		}
		q := string(p[1:])
		db.note("query", q)
		col := []byte{3, 'd', 'e', 'f', 0, 0, 0, 1, 'n', 0, 0x0c, 45, 0, 10, 0, 0, 0, 0xfd, 0, 0, 0, 0, 0}
		switch q {
		case "SELECT 1":
			send(1, []byte{1})
			send(2, col)
			send(3, eof)
			send(4, []byte{1, '1'})
			send(5, eof)
		case "SELECT none":
			send(1, []byte{1})
			send(2, col)
			send(3, eof)
			send(4, eof)
		case "SELECT sleep":
			io.Copy(io.Discard, r)
			return
		default:
			send(1, append([]byte{0xff, 0x28, 0x04}, "#42000syntax error"...))
		}
	}
}

func sqlSpec(t *testing.T, service, addr, login, passwd, database, request string) Spec {
	a, p := addrPort(t, addr)
	return Spec{Type: "negotiate", Service: service, Addr: a, Port: p, Login: login, Passwd: passwd,
		Database: database, Request: request,
		NegotiateTimeout: time.Second, Timeout: time.Second, Interval: time.Second, FailureCount: 1}
}

func TestSQLNegotiate(t *testing.T) {
	for service, session := range map[string]func(*fakeDB, net.Conn){"pgsql": pgSession, "mysql": mysqlSession} {
		db := startFakeDB(t, session)
		for _, tc := range []struct {
			login, request string
			up             bool
			why            string
		}{
			{"u", "/SELECT 1", true, ""},
			{"u", "SELECT 1", true, ""},
			{"u", "/SELECT none", false, `query "SELECT none" returned no rows`},
			{"u", "/SELECT bad", false, "syntax error"},
			{"", "/SELECT 1", false, "login and request must both be set"},
			{"u", "/", false, "login and request must both be set"},
		} {
			passwd := "pw"
			err := check(t, sqlSpec(t, service, db.addr, tc.login, passwd, "appdb", tc.request))
			if (err == nil) != tc.up || (err != nil && !strings.Contains(err.Error(), tc.why)) {
				t.Errorf("%s %q as %q: got %v, want up=%v (%s)", service, tc.request, tc.login, err, tc.up, tc.why)
			}
		}
		if db.get("user") != "u" || db.get("database") != "appdb" || db.get("query") != "SELECT bad" {
			t.Errorf("%s: server saw %v", service, db.seen)
		}
		// A refused login is down with the server's reason.
		login, passwd, why := "u", "wrong", "password authentication failed"
		if service == "mysql" {
			login, why = "nobody", "Access denied"
		}
		if err := check(t, sqlSpec(t, service, db.addr, login, passwd, "appdb", "/SELECT 1")); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("%s bad login: got %v, want %q", service, err, why)
		}
	}
}

func TestSQLHungAndRefused(t *testing.T) {
	hung := startFakeDB(t, hangSession)
	pg := startFakeDB(t, pgSession)
	my := startFakeDB(t, mysqlSession)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()
	for _, service := range []string{"pgsql", "mysql"} {
		slow := pg.addr
		if service == "mysql" {
			slow = my.addr
		}
		for _, tc := range []struct {
			name, addr, request, why string
		}{
			{"refused", closed, "/SELECT 1", "refused"},
			{"hung at connect", hung.addr, "/SELECT 1", "deadline"},
			{"hung query", slow, "/SELECT sleep", "deadline"},
		} {
			s := sqlSpec(t, service, tc.addr, "u", "pw", "", tc.request)
			s.NegotiateTimeout, s.Timeout = 500*time.Millisecond, 500*time.Millisecond
			start := time.Now()
			err := check(t, s)
			took := time.Since(start)
			t.Logf("%s %s: %v", service, tc.name, err)
			if err == nil || !strings.Contains(err.Error(), tc.why) || took > time.Second {
				t.Errorf("%s %s: got %v after %v, want down by the deadline (%s)", service, tc.name, err, took, tc.why)
			}
		}
	}
}

func TestSQLNoLeak(t *testing.T) {
	pg := startFakeDB(t, pgSession)
	my := startFakeDB(t, mysqlSession)
	hung := startFakeDB(t, hangSession)
	base := runtime.NumGoroutine()
	for range 20 {
		for _, s := range []Spec{sqlSpec(t, "pgsql", pg.addr, "u", "pw", "", "/SELECT 1"), sqlSpec(t, "mysql", my.addr, "u", "pw", "", "/SELECT 1")} {
			if err := check(t, s); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Timed out at connect and in the query (pgconn's background close).
	for _, s := range []Spec{sqlSpec(t, "pgsql", hung.addr, "u", "pw", "", "/SELECT 1"), sqlSpec(t, "mysql", hung.addr, "u", "pw", "", "/SELECT 1"),
		sqlSpec(t, "pgsql", pg.addr, "u", "pw", "", "/SELECT sleep"), sqlSpec(t, "mysql", my.addr, "u", "pw", "", "/SELECT sleep")} {
		s.NegotiateTimeout, s.Timeout = 100*time.Millisecond, 100*time.Millisecond
		if err := check(t, s); err == nil {
			t.Errorf("%s %s is up", s.Service, s.Request)
		}
	}
	svcWaitGoroutines(t, base)
}
