package director

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/smtp"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lvsdirector/director/internal/printable"
	"github.com/lvsdirector/director/internal/subproc"
)

// Alert is one email alert (ldirectord's emailalert).
type Alert struct {
	To      []string
	From    string
	SMTP    string // host[:port]; "" = the local sendmail, else localhost:25
	Subject string
	Body    string
}

// alerter sends alerts from its own goroutine, so a slow or dead mail
// server never holds up the table. The queue is bounded: under a storm the
// newest alerts are dropped (and counted in the log) rather than memory.
type alerter struct {
	send  func(context.Context, Alert) error
	log   *slog.Logger
	queue chan Alert
	wg    sync.WaitGroup
}

func newAlerter(send func(context.Context, Alert) error, log *slog.Logger) *alerter {
	if send == nil {
		send = SendMail
	}
	return &alerter{send: send, log: log, queue: make(chan Alert, 256)}
}

func (a *alerter) start(ctx context.Context) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		for {
			select {
			case m := <-a.queue:
				if err := a.send(ctx, m); err != nil {
					a.log.Error("email alert not sent", "subject", m.Subject, "err", err)
				}
			case <-ctx.Done():
				return
			}
		}
	}()
}

// drain sends what is queued (stop alerts) within the time left, then stops.
func (a *alerter) drain(cancel context.CancelFunc, within time.Duration) {
	deadline := time.After(within)
	for len(a.queue) > 0 {
		select {
		case <-deadline:
			cancel()
			a.wg.Wait()
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	a.wg.Wait()
}

func (a *alerter) enqueue(m Alert) {
	select {
	case a.queue <- m:
	default:
		a.log.Error("email alert queue full; alert dropped", "subject", m.Subject)
	}
}

// alert queues a mail for virtual v if it has recipients and the daemon
// state is one it wants alerts in.
func (d *Director) alert(v *Virtual, msg string) {
	if d.alerts == nil || v == nil || len(v.EmailAlert) == 0 || !slices.Contains(v.EmailAlertStatus, d.state) {
		return
	}
	host, _ := os.Hostname()
	subject := msg
	if v.ServiceName != "" {
		subject = "[" + v.ServiceName + "] " + msg
	}
	var b strings.Builder
	fmt.Fprintf(&b, "ldirectord host: %s\nLog-Message: %s\nDaemon-Status: %s\n", host, msg, d.state)
	if v.ServiceName != "" {
		fmt.Fprintf(&b, "Service name: %s\n", v.ServiceName)
	}
	if v.Comment != "" {
		fmt.Fprintf(&b, "Comment: %s\n", v.Comment)
	}
	from := d.cfg.Global.EmailAlertFrom
	if from == "" {
		from = "ldirectord@" + host
	}
	d.alerts.enqueue(Alert{To: v.EmailAlert, From: from, SMTP: v.SMTP, Subject: subject, Body: b.String()})
}

// remindInaccessible re-sends "Inaccessible real server" every
// emailalertfreq while a real stays down.
func (d *Director) remindInaccessible(now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, v := range d.cfg.Virtuals {
		if v.EmailAlertFreq <= 0 || len(v.EmailAlert) == 0 {
			continue
		}
		for _, r := range v.Reals {
			key := v.ID() + "|" + r.Dest.DestKey.String()
			if d.up(v, r) {
				delete(d.downSince, key)
				continue
			}
			last, ok := d.downSince[key]
			if !ok {
				d.downSince[key] = now
				continue
			}
			if now.Sub(last) >= v.EmailAlertFreq {
				d.downSince[key] = now
				d.alert(v, fmt.Sprintf("Inaccessible real server: %s (%s)", r.Dest.DestKey, vipString(v)))
			}
		}
	}
}

// formatMail renders m as an RFC 5322 message. The parser refuses control
// characters in header fields; here any that got through become spaces,
// and the body's line ends are CRLF only (a bare CR or LF in SMTP data
// is what "SMTP smuggling" rides on).
func formatMail(m Alert) string {
	to := make([]string, len(m.To))
	for i, a := range m.To {
		to[i] = headerValue(a)
	}
	body := strings.NewReplacer("\r\n", "\r\n", "\r", "\r\n", "\n", "\r\n").Replace(m.Body)
	return fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s",
		headerValue(m.From), strings.Join(to, ", "), headerValue(m.Subject), time.Now().Format(time.RFC1123Z), body)
}

// headerValue keeps a header on its one line.
func headerValue(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// The local sendmail and the bound on one delivery (variables for tests).
var (
	sendmailPath = "/usr/sbin/sendmail"
	mailTimeout  = 30 * time.Second
)

// SendMail delivers an alert over SMTP (to Alert.SMTP, port 25 by default)
// or, with no smtp= set, through the local sendmail when there is one.
func SendMail(ctx context.Context, m Alert) error {
	m.From = strings.Trim(strings.TrimSpace(m.From), `"`)
	msg := formatMail(m)
	ctx, cancel := context.WithTimeout(ctx, mailTimeout)
	defer cancel()
	if m.SMTP == "" {
		if _, err := os.Stat(sendmailPath); err == nil {
			// Its own group, stopped at the timeout; bounded output; a
			// queue runner it leaves behind does not hold the alert.
			res, err := subproc.Run(ctx, subproc.Cmd{Path: sendmailPath, Args: []string{"-t", "-oi"},
				Stdin: []byte(strings.ReplaceAll(msg, "\r\n", "\n")), Grace: time.Second, Limit: 4 << 10})
			if err != nil {
				return fmt.Errorf("sendmail: %v: %s", err, printable.String(strings.TrimSpace(string(res.Output))))
			}
			return nil
		}
		m.SMTP = "localhost"
	}
	addr := m.SMTP
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, "25")
	}
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	host, _, _ := net.SplitHostPort(addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return err
	}
	defer c.Close()
	if h, err := os.Hostname(); err == nil {
		if err := c.Hello(h); err != nil {
			return err
		}
	}
	if err := c.Mail(envelope(m.From)); err != nil {
		return err
	}
	for _, to := range m.To {
		if err := c.Rcpt(envelope(to)); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// envelope is the bare address of an RFC 5322 address ("Ops <a@b>" or
// a@b), as SMTP's MAIL FROM and RCPT TO need it.
func envelope(s string) string {
	s = strings.Trim(strings.TrimSpace(s), `"`)
	if a, err := mail.ParseAddress(s); err == nil {
		return a.Address
	}
	return s
}
