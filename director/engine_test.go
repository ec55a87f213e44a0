package director

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsdirector/director/ipvs"
)

// farm is a set of loopback HTTP real servers whose check page can fail.
type farm struct {
	mu    sync.Mutex
	sick  map[uint16]bool
	ports []uint16
	lns   []net.Listener
}

func newFarm(t *testing.T, n int) *farm {
	f := &farm{sick: map[uint16]bool{}}
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := uint16(ln.Addr().(*net.TCPAddr).Port)
		f.ports = append(f.ports, port)
		f.lns = append(f.lns, ln)
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f.mu.Lock()
			sick := f.sick[port]
			f.mu.Unlock()
			if sick {
				http.NotFound(w, r)
				return
			}
			fmt.Fprint(w, "ok")
		})}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
	}
	return f
}

func (f *farm) set(i int, sick bool) { f.mu.Lock(); f.sick[f.ports[i]] = sick; f.mu.Unlock() }

func vip(addr string, port uint16) ipvs.Service {
	return ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.INET, Protocol: ipvs.TCP, Addr: netip.MustParseAddr(addr), Port: port}, Scheduler: "wrr"}
}

func (f *farm) virtual(addr string, quiescent bool) *Virtual {
	v := &Virtual{Service: vip(addr, 80), Quiescent: quiescent, CleanStop: true,
		Check: Check{Type: "negotiate", Service: "http", Request: "/test.html", Receive: "ok", ReceiveRE: regexp.MustCompile("ok"),
			HTTPMethod: "GET", Timeout: time.Second, NegotiateTimeout: time.Second, Interval: 50 * time.Millisecond, FailureCount: 1},
		Fallback: &ipvs.Destination{DestKey: ipvs.DestKey{Addr: netip.MustParseAddr("127.0.0.1"), Port: 80}, Fwd: ipvs.Route, Weight: 1}}
	for i, p := range f.ports {
		v.Reals = append(v.Reals, &Real{CheckPort: p, Dest: ipvs.Destination{DestKey: ipvs.DestKey{Addr: netip.MustParseAddr("127.0.0.1"), Port: p}, Fwd: ipvs.Masq, Weight: int32(i + 2)}})
	}
	return v
}

// table renders the memory table like a sorted ipvsadm -Ln.
func table(t *testing.T, m *ipvs.Memory) string {
	t.Helper()
	st, err := ipvs.Read(context.Background(), m, func(ipvs.ServiceKey) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for k, s := range st {
		lines = append(lines, k.String()+" "+s.Service.Scheduler)
		for _, d := range s.Dests {
			lines = append(lines, fmt.Sprintf("%s -> %s %s %d", k, d.DestKey, d.Fwd, d.Weight))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func waitTable(t *testing.T, m *ipvs.Memory, cond func(string) bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if cond(table(t, m)) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; table:\n%s", what, table(t, m))
}

func has(s string) func(string) bool { return func(tb string) bool { return strings.Contains(tb, s) } }
func lacks(s string) func(string) bool {
	return func(tb string) bool { return !strings.Contains(tb, s) }
}

type cmdLog struct {
	mu    sync.Mutex
	lines []string
}

func (c *cmdLog) run(_ context.Context, line string) error {
	c.mu.Lock()
	c.lines = append(c.lines, line)
	c.mu.Unlock()
	return nil
}

func (c *cmdLog) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lines...)
}

func run(t *testing.T, cfg *Config, m ipvs.Table, cmds *cmdLog) (*Director, func()) {
	opts := Options{Resync: time.Hour}
	if cmds != nil {
		opts.RunCommand = cmds.run
	}
	d := New(cfg, m, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	return d, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

func TestFallbackThenRealsThenFailureNonQuiescent(t *testing.T) {
	f := newFarm(t, 2)
	f.set(0, true)
	f.set(1, true)
	v := f.virtual("10.0.0.100", false)
	v.FallbackCommand = "/usr/local/bin/fb"
	m := ipvs.NewMemory()
	cmds := &cmdLog{}
	_, stop := run(t, &Config{Virtuals: []*Virtual{v}}, m, cmds)
	r0 := fmt.Sprintf("127.0.0.1:%d", f.ports[0])
	r1 := fmt.Sprintf("127.0.0.1:%d", f.ports[1])
	waitTable(t, m, has("-> 127.0.0.1:80 gate 1"), "fallback while all reals are down")
	f.set(0, false)
	waitTable(t, m, has("-> "+r0+" masq 2"), "healed real in")
	waitTable(t, m, lacks("127.0.0.1:80 gate"), "fallback out")
	f.set(1, false)
	waitTable(t, m, has("-> "+r1+" masq 3"), "second real in")
	f.set(0, true)
	waitTable(t, m, lacks(r0), "failed real removed (quiescent=no)")
	f.set(1, true)
	waitTable(t, m, has("-> 127.0.0.1:80 gate 1"), "fallback back when all are down")
	stop()
	if tb := table(t, m); tb != "" {
		t.Fatalf("cleanstop left:\n%s", tb)
	}
	want := []string{
		"/usr/local/bin/fb start 10.0.0.100:80 tcp",
		"/usr/local/bin/fb stop 10.0.0.100:80 tcp",
		"/usr/local/bin/fb start 10.0.0.100:80 tcp",
	}
	if got := cmds.get(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("fallbackcommand runs:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestQuiescentWeightZeroAndBack(t *testing.T) {
	f := newFarm(t, 2)
	v := f.virtual("10.0.0.100", true)
	v.CleanStop = false
	m := ipvs.NewMemory()
	_, stop := run(t, &Config{Virtuals: []*Virtual{v}}, m, nil)
	r0 := fmt.Sprintf("127.0.0.1:%d", f.ports[0])
	waitTable(t, m, has("-> "+r0+" masq 2"), "real up")
	f.set(0, true)
	waitTable(t, m, has("-> "+r0+" masq 0"), "quiescent weight 0")
	f.set(0, false)
	waitTable(t, m, has("-> "+r0+" masq 2"), "weight restored")
	stop()
	if !strings.Contains(table(t, m), r0) {
		t.Fatal("cleanstop=no must leave the table")
	}
}

func TestStartKeepsServingRealsAndNeverTouchesForeignServices(t *testing.T) {
	f := newFarm(t, 2)
	f.set(0, true) // its first check will fail, but it starts "up" from the kernel
	v := f.virtual("10.0.0.100", false)
	v.Check.FailureCount = 1000 // so it stays up for the test's duration
	m := ipvs.NewMemory()
	ctx := context.Background()
	foreign := vip("10.9.9.9", 443)
	stray := ipvs.Destination{DestKey: ipvs.DestKey{Addr: netip.MustParseAddr("10.0.1.99"), Port: 80}, Weight: 1}
	m.Apply(ctx, []ipvs.Op{
		{Kind: ipvs.AddService, Service: foreign},
		{Kind: ipvs.AddDest, Service: foreign, Dest: stray},
		{Kind: ipvs.AddService, Service: v.Service},
		{Kind: ipvs.AddDest, Service: v.Service, Dest: v.Reals[0].Dest},
		{Kind: ipvs.AddDest, Service: v.Service, Dest: stray},
	})
	calls := m.Calls
	_, stop := run(t, &Config{Virtuals: []*Virtual{v}}, m, nil)
	r0 := fmt.Sprintf("127.0.0.1:%d", f.ports[0])
	waitTable(t, m, lacks("tcp:10.0.0.100:80 -> 10.0.1.99:80"), "stray real purged from a managed virtual")
	tb := table(t, m)
	if !strings.Contains(tb, "-> "+r0+" masq 2") || strings.Contains(tb, "127.0.0.1:80 gate") {
		t.Fatalf("serving real must stay in, no fallback:\n%s", tb)
	}
	if !strings.Contains(tb, "tcp:10.9.9.9:443 -> 10.0.1.99:80") {
		t.Fatalf("foreign service touched:\n%s", tb)
	}
	stop()
	if tb := table(t, m); !strings.Contains(tb, "10.9.9.9:443") || strings.Contains(tb, "10.0.0.100") {
		t.Fatalf("cleanstop must remove only ours:\n%s", tb)
	}
	if m.Calls <= calls {
		t.Fatal("no apply happened")
	}
}

func TestReloadAddsRemovesAndKeepsHealth(t *testing.T) {
	f := newFarm(t, 2)
	a := f.virtual("10.0.0.100", false)
	b := f.virtual("10.0.0.101", false)
	m := ipvs.NewMemory()
	d, stop := run(t, &Config{Virtuals: []*Virtual{a, b}}, m, nil)
	defer stop()
	r0 := fmt.Sprintf("127.0.0.1:%d", f.ports[0])
	waitTable(t, m, has("tcp:10.0.0.101:80 -> "+r0), "b up")
	waitTable(t, m, has("tcp:10.0.0.100:80 -> "+r0), "a up")
	c := f.virtual("10.0.0.102", false)
	a2 := f.virtual("10.0.0.100", false)
	a2.Service.Scheduler = "rr"
	applies := m.Ops
	if err := d.Reload(context.Background(), &Config{Virtuals: []*Virtual{a2, c}}); err != nil {
		t.Fatal(err)
	}
	tb := table(t, m)
	if strings.Contains(tb, "10.0.0.101") {
		t.Fatalf("removed virtual still there:\n%s", tb)
	}
	if !strings.Contains(tb, "tcp:10.0.0.100:80 rr") {
		t.Fatalf("scheduler not updated:\n%s", tb)
	}
	// a's reals were up and share checks with c: c comes up at once, with
	// no fallback flap for a.
	if !strings.Contains(tb, "tcp:10.0.0.102:80 -> "+r0) || strings.Contains(tb, "10.0.0.100:80 -> 127.0.0.1:80 gate") {
		t.Fatalf("health not kept across reload:\n%s", tb)
	}
	if m.Ops-applies > 8 {
		t.Fatalf("reload did %d ops; expected only the changes", m.Ops-applies)
	}
}

type mailbox struct {
	mu   sync.Mutex
	msgs []Alert
}

func (m *mailbox) send(_ context.Context, a Alert) error {
	m.mu.Lock()
	m.msgs = append(m.msgs, a)
	m.mu.Unlock()
	return nil
}

func (m *mailbox) subjects() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, a := range m.msgs {
		out = append(out, a.Subject)
	}
	return out
}

func TestEmailAlertsOnChangesAndReminders(t *testing.T) {
	f := newFarm(t, 1)
	v := f.virtual("10.0.0.100", false)
	v.Fallback = nil
	v.EmailAlert = []string{"ops@example.com"}
	v.EmailAlertStatus = []string{"running"} // not "starting": the initial adds send nothing
	v.EmailAlertFreq = time.Second
	v.ServiceName = "web"
	box := &mailbox{}
	m := ipvs.NewMemory()
	d := New(&Config{Virtuals: []*Virtual{v}}, m, Options{Resync: time.Hour, SendMail: box.send})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	r0 := fmt.Sprintf("127.0.0.1:%d", f.ports[0])
	waitTable(t, m, has("-> "+r0), "real up")
	f.set(0, true)
	waitTable(t, m, lacks(r0), "real removed")
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		n := 0
		for _, s := range box.subjects() {
			if strings.HasPrefix(s, "[web] Inaccessible real server: "+r0) {
				n++
			}
		}
		if n >= 1 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done
	got := box.subjects()
	joined := strings.Join(got, "\n")
	if !strings.Contains(joined, "[web] Deleted real server: "+r0+" (10.0.0.100:80)") {
		t.Errorf("no deletion alert in:\n%s", joined)
	}
	if !strings.Contains(joined, "[web] Inaccessible real server: "+r0) {
		t.Errorf("no reminder in:\n%s", joined)
	}
	if strings.Contains(joined, "Added real server") {
		t.Errorf("an alert was sent in state starting:\n%s", joined)
	}
	box.mu.Lock()
	body := box.msgs[0].Body
	box.mu.Unlock()
	if !strings.Contains(body, "Daemon-Status: running") || !strings.Contains(body, "Service name: web") {
		t.Errorf("body %q", body)
	}
}

func TestSnapshotShowsHealthAndKernelWeight(t *testing.T) {
	f := newFarm(t, 2)
	v := f.virtual("10.0.0.100", true)
	m := ipvs.NewMemory()
	d, stop := run(t, &Config{Virtuals: []*Virtual{v}}, m, nil)
	defer stop()
	r1 := fmt.Sprintf("127.0.0.1:%d", f.ports[1])
	waitTable(t, m, has("-> "+r1+" masq 3"), "up")
	f.set(1, true)
	waitTable(t, m, has("-> "+r1+" masq 0"), "quiesced")
	snap := d.Snapshot()
	if len(snap) != 1 || len(snap[0].Reals) != 2 {
		t.Fatalf("%+v", snap)
	}
	got := snap[0].Reals[1]
	if got.Addr != r1 || got.Up || got.Weight != 0 || !strings.Contains(got.LastErr, "404") {
		t.Fatalf("%+v", got)
	}
	if r0 := snap[0].Reals[0]; !r0.Up || r0.Weight != 2 {
		t.Fatalf("%+v", r0)
	}
}

func TestEnvelopeAddress(t *testing.T) {
	for in, want := range map[string]string{`"director@example.com"`: "director@example.com",
		"Ops Team <ops@example.com>": "ops@example.com", " a@b.c ": "a@b.c"} {
		if got := envelope(in); got != want {
			t.Errorf("envelope(%q) = %q, want %q", in, got, want)
		}
	}
}

// flakyTable is a Memory whose next reads (Services) fail while failReads
// is positive, and whose DeleteService ops fail while failDeletes is.
type flakyTable struct {
	*ipvs.Memory
	mu                     sync.Mutex
	failReads, failDeletes int
}

func (f *flakyTable) Services(ctx context.Context) ([]ipvs.Service, error) {
	f.mu.Lock()
	fail := f.failReads > 0
	if fail {
		f.failReads--
	}
	f.mu.Unlock()
	if fail {
		return nil, fmt.Errorf("injected read error")
	}
	return f.Memory.Services(ctx)
}

func (f *flakyTable) Apply(ctx context.Context, ops []ipvs.Op) error {
	f.mu.Lock()
	fail := f.failDeletes > 0
	if fail {
		f.failDeletes--
	}
	f.mu.Unlock()
	var keep []ipvs.Op
	var failed []ipvs.OpError
	for _, op := range ops {
		if fail && op.Kind == ipvs.DeleteService {
			failed = append(failed, ipvs.OpError{Op: op, Err: fmt.Errorf("injected delete error")})
			continue
		}
		keep = append(keep, op)
	}
	err := f.Memory.Apply(ctx, keep)
	if len(failed) > 0 {
		return &ipvs.ApplyError{Failed: failed}
	}
	return err
}

// A reload whose table read fails changes nothing: the old configuration
// stays in force, whole, and no later reconcile deletes its virtuals.
func TestFailedReloadChangesNothing(t *testing.T) {
	f := newFarm(t, 2)
	a := f.virtual("10.0.0.100", false)
	b := f.virtual("10.0.0.101", false)
	mem := ipvs.NewMemory()
	ft := &flakyTable{Memory: mem}
	d := New(&Config{Virtuals: []*Virtual{a, b}}, ft, Options{Resync: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	r0 := fmt.Sprintf("127.0.0.1:%d", f.ports[0])
	r1 := fmt.Sprintf("127.0.0.1:%d", f.ports[1])
	waitTable(t, mem, has("tcp:10.0.0.101:80 -> "+r1), "b up")
	waitTable(t, mem, has("tcp:10.0.0.100:80 -> "+r1), "a up")

	c := f.virtual("10.0.0.102", false)
	ft.mu.Lock()
	ft.failReads = 1
	ft.mu.Unlock()
	if err := d.Reload(context.Background(), &Config{Virtuals: []*Virtual{a, c}}); err == nil {
		t.Fatal("reload with a failing table read reported success")
	}
	if got := d.Config().Virtuals; len(got) != 2 || got[1] != b {
		t.Fatalf("config in force changed by a failed reload: %v", got)
	}
	// A health change makes the next reconcile: it must not delete b.
	f.set(0, true)
	waitTable(t, mem, lacks("tcp:10.0.0.100:80 -> "+r0), "a's sick real out")
	waitTable(t, mem, lacks("tcp:10.0.0.101:80 -> "+r0), "b's sick real out")
	if tb := table(t, mem); !strings.Contains(tb, "tcp:10.0.0.101:80 -> "+r1) || strings.Contains(tb, "10.0.0.102") {
		t.Fatalf("a failed reload changed the table:\n%s", tb)
	}
}

// A virtual a reload dropped stays due for deletion until the kernel has
// really deleted it: a failed delete is retried at the next resync.
func TestReloadRetriesFailedRemoval(t *testing.T) {
	f := newFarm(t, 1)
	a := f.virtual("10.0.0.100", false)
	b := f.virtual("10.0.0.101", false)
	mem := ipvs.NewMemory()
	ft := &flakyTable{Memory: mem}
	d := New(&Config{Virtuals: []*Virtual{a, b}}, ft, Options{Resync: 100 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	r0 := fmt.Sprintf("127.0.0.1:%d", f.ports[0])
	waitTable(t, mem, has("tcp:10.0.0.101:80 -> "+r0), "b up")
	ft.mu.Lock()
	ft.failDeletes = 1
	ft.mu.Unlock()
	if err := d.Reload(context.Background(), &Config{Virtuals: []*Virtual{a}}); err == nil {
		t.Fatal("reload whose delete failed reported success")
	}
	waitTable(t, mem, lacks("10.0.0.101"), "dropped virtual deleted on retry")
}
