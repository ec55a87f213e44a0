package healthcheck

import (
	"context"
	"io"
	"net"
	"net/netip"
	"regexp"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// serveStream answers every TCP connection with head and then filler,
// forever, without waiting for the client; it counts what it wrote.
func serveStream(t *testing.T, head, filler string) (netip.AddrPort, *atomic.Int64) {
	t.Helper()
	var written atomic.Int64
	ap := dlgServe(t, "127.0.0.1:0", nil, func(c net.Conn) {
		go io.Copy(io.Discard, c)
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		n, err := io.WriteString(c, head)
		written.Add(int64(n))
		if err != nil || filler == "" {
			<-c.(dlgConn).done
			return
		}
		buf := []byte(strings.Repeat(filler, max(1, 32<<10/len(filler))))
		for {
			n, err := c.Write(buf)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	return ap, &written
}

// Every negotiate service is bounded against a real server that streams
// forever or announces a huge message: the check fails before its
// deadline, having allocated little.
func TestNegotiateHostileRealBounded(t *testing.T) {
	const maxAlloc = 24 << 20
	huge24 := "\xff\xff\xff"              // a MySQL packet length: 16 MiB - 1
	pgHuge := "R\x3f\xff\xff\xf0"         // a PostgreSQL message of 1 GiB
	berHuge := "\x04\x84\x7f\xff\xff\xff" // an LDAP octet string of 2 GiB
	cases := []struct {
		service, head, filler string
	}{
		{"smtp", "", "a"},
		{"smtp", "", "220-more\r\n"},
		{"submission", "220-", "b"},
		{"pop", "", "+OK"},
		{"imap", "", "* OK"},
		{"imap", "* OK ready\r\n", "* CAPABILITY\r\n"},
		{"nntp", "", "x"},
		{"sip", "", "SIP/2.0 200 OK\r\nX: y\r\n"},
		{"sip", "", "S"},
		{"simpletcp", "", "no match "},
		{"ftp", "", "2"},
		{"ftp", "", "220-more\r\n"},
		{"ldap", "", "0"},
		{"ldap", "\x30\x84\x00\x00\x00\x20\x02\x01\x01" + berHuge, "x"},
		{"dns", "", "\xff"},
		{"mysql", huge24 + "\x00", "m"},
		{"pgsql", "", "N"},
		{"pgsql", pgHuge, "p"},
	}
	for _, c := range cases {
		name := c.service + " " + strings.NewReplacer("\r\n", "CRLF").Replace(c.head[:min(len(c.head), 8)]+"|"+c.filler[:min(len(c.filler), 12)])
		t.Run(name, func(t *testing.T) {
			ap, written := serveStream(t, c.head, c.filler)
			s := dlgSpec(c.service, ap)
			s.NegotiateTimeout, s.Timeout = 4*time.Second, 4*time.Second
			s.Login, s.Passwd, s.Request, s.Database = "user", "pw", "/q", "db"
			s.Receive = nil
			if c.service == "simpletcp" {
				s.Receive = regexp.MustCompile("never")
			}
			if c.service == "dns" {
				s.Request, s.Receive = "example.com", regexp.MustCompile(".")
			}
			chk, err := New(s)
			if err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			ctx, cancel := context.WithTimeout(context.Background(), s.deadline())
			defer cancel()
			t0 := time.Now()
			err = chk.Check(ctx)
			took := time.Since(t0)
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("err=%v took=%v alloc=%d KiB written=%d KiB", err, took, alloc>>10, written.Load()>>10)
			if err == nil {
				t.Fatal("hostile real reported up")
			}
			if ctx.Err() != nil {
				t.Errorf("check ran into its deadline: nothing bounded what it read")
			}
			if alloc > maxAlloc {
				t.Errorf("check allocated %d MiB, want at most %d MiB", alloc>>20, maxAlloc>>20)
			}
		})
	}
}

// A PostgreSQL server that logs the check in and then announces a 1 GiB
// row: the driver would allocate the announced length before reading it.
func TestPgsqlHugeMessageBounded(t *testing.T) {
	db := startFakeDB(t, func(_ *fakeDB, c net.Conn) {
		be := pgproto3.NewBackend(c, c)
		msg, _ := be.ReceiveStartupMessage()
		if _, ssl := msg.(*pgproto3.SSLRequest); ssl {
			c.Write([]byte("N"))
			be.ReceiveStartupMessage()
		}
		be.Send(&pgproto3.AuthenticationOk{})
		be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
		be.Flush()
		if _, err := be.Receive(); err != nil {
			return
		}
		c.Write([]byte("D\x3f\xff\xff\xf0"))
		buf := make([]byte, 32<<10)
		for {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	})
	s := sqlSpec(t, "pgsql", db.addr, "u", "pw", "db", "SELECT 1")
	s.NegotiateTimeout, s.Timeout = 4*time.Second, 4*time.Second
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err := check(t, s)
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("err=%v alloc=%d KiB", err, alloc>>10)
	if err == nil {
		t.Errorf("hostile real reported up")
	}
	if alloc > 16<<20 {
		t.Errorf("check allocated %d MiB", alloc>>20)
	}
}
