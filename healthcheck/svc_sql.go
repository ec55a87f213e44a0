package healthcheck

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

func init() {
	registerService("mysql", func(s Spec) (Checker, error) { return newSQLCheck(s, mysqlQuery), nil })
	registerService("pgsql", func(s Spec) (Checker, error) { return newSQLCheck(s, pgsqlQuery), nil })
}

// sqlCheck is ldirectord's negotiate check for services mysql and pgsql
// (DBI): connect to database as login with passwd, run request (leading
// "/" stripped) and be up when it returns at least one row. Login and
// request must be set, else the check is down without connecting.
//
// Each check opens one connection, runs the query once and closes the
// connection: no pool outlives a check (a kept connection would hide a
// server that stopped accepting, and checkers have no Close to end a pool
// on reload). The drivers' own connection types are used directly rather
// than database/sql, whose pool and bad-connection retries a health check
// does not want.
//
// Beyond ldirectord: the connection, the login and the query are bounded by
// the check's deadline (DBI's checks have no timeout at all and can hang
// the whole ldirectord); the query runs once (ldirectord executes it twice);
// reading stops at the first row (the rest is drained or dropped with the
// connection, within the deadline). TLS is used when the server offers it,
// without verification (MySQL tls=preferred, PostgreSQL sslmode=prefer);
// only row-returning statements count as success.
type sqlCheck struct {
	s     Spec
	addr  string
	query string
	run   func(ctx context.Context, c *sqlCheck) (bool, error)
}

func newSQLCheck(s Spec, run func(context.Context, *sqlCheck) (bool, error)) *sqlCheck {
	return &sqlCheck{s: s, addr: netip.AddrPortFrom(s.Addr, s.Port).String(),
		query: strings.TrimPrefix(s.Request, "/"), run: run}
}

func (c *sqlCheck) Check(ctx context.Context) error {
	if c.s.Login == "" || c.query == "" {
		return fmt.Errorf("%s: login and request must both be set for %s checks", c.s.Service, c.s.Service)
	}
	ok, err := c.run(ctx, c)
	if err != nil {
		// pgconn lists each connection attempt on its own line.
		msg := strings.NewReplacer(":\n\t", ": ", "\n\t", "; ", "\n", "; ").Replace(ctxErr(ctx, err).Error())
		return fmt.Errorf("%s %s: %s", c.s.Service, c.addr, msg)
	}
	if !ok {
		return fmt.Errorf("%s %s: query %q returned no rows", c.s.Service, c.addr, c.query)
	}
	return nil
}

func mysqlQuery(ctx context.Context, c *sqlCheck) (bool, error) {
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr = "tcp", c.addr
	cfg.User, cfg.Passwd, cfg.DBName = c.s.Login, c.s.Passwd, c.s.Database
	cfg.TLSConfig = "preferred"
	cfg.Logger = &mysql.NopLogger{}
	// The driver closes the connection when ctx ends; per-read and
	// per-write timeouts back that up.
	if dl, ok := ctx.Deadline(); ok {
		left := max(time.Until(dl), time.Millisecond)
		cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = left, left, left
	}
	cfg.MaxAllowedPacket = 4 << 20 // also spares a query for the server's value
	// The driver checks MaxAllowedPacket only on what it sends: a server
	// can announce packets of 16 MiB and chain them without end. Reading
	// is capped here; one announced packet (allocated before it is read)
	// is the most a check costs.
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := checkDialer().DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &cappedConn{Conn: nc, left: int64(cfg.MaxAllowedPacket) + 64<<10}, nil
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return false, err
	}
	conn, err := connector.Connect(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	q, ok := conn.(driver.QueryerContext)
	if !ok {
		return false, errors.New("driver cannot run queries")
	}
	rows, err := q.QueryContext(ctx, c.query, nil)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	dest := make([]driver.Value, len(rows.Columns()))
	switch err := rows.Next(dest); {
	case err == nil:
		return true, nil
	case errors.Is(err, io.EOF):
		return false, nil
	default:
		return false, err
	}
}

func pgsqlQuery(ctx context.Context, c *sqlCheck) (bool, error) {
	cfg, err := pgconn.ParseConfig("host=" + c.s.Addr.String() + " port=" + strconv.Itoa(int(c.s.Port)) + " sslmode=prefer")
	if err != nil {
		return false, err
	}
	cfg.User, cfg.Password, cfg.Database = c.s.Login, c.s.Passwd, c.s.Database
	cfg.RuntimeParams = map[string]string{"application_name": "directord-check"}
	cfg.MaxProtocolMessageBodyLen = maxBody
	// On the deadline, stop waiting on the socket rather than open another
	// connection to send a cancel request: the connection is dropped anyway.
	cfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: pc.Conn()}
	}
	// pgconn closes a connection whose query timed out in the background,
	// after sending a cancel request on a new connection and draining for
	// up to 15s. A check must not leave that behind: every connection is
	// dialed here and closed on return, and no dial starts after it.
	var (
		mu       sync.Mutex
		conns    []net.Conn
		finished bool
	)
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := checkDialer()
		nc, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		if finished {
			nc.Close()
			return nil, errors.New("check finished")
		}
		conns = append(conns, nc)
		return nc, nil
	}
	closeAll := func() {
		mu.Lock()
		defer mu.Unlock()
		finished = true
		for _, nc := range conns {
			nc.Close()
		}
	}
	defer closeAll()
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, err
	}
	defer func() {
		conn.Close(ctx)
		closeAll()
		select { // the background close ends at once on a closed socket
		case <-conn.CleanupDone():
		case <-time.After(time.Second):
		}
	}()
	mrr := conn.Exec(ctx, c.query)
	found := false
	for mrr.NextResult() {
		rr := mrr.ResultReader()
		if rr.NextRow() {
			found = true
		}
		if _, err := rr.Close(); err != nil {
			mrr.Close()
			return false, err
		}
		if found {
			break
		}
	}
	if err := mrr.Close(); err != nil {
		return false, err
	}
	return found, nil
}
