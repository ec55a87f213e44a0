package main

// Checks of ipvs.Sync (sync daemons, timeouts, connection count) against
// the kernel, with ipvsadm as the reference client.

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/lvsdirector/director/ipvs"
)

// ipvsadmDaemons parses `ipvsadm -L --daemon`:
// "master sync daemon (mcast=sync0, syncid=7, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)".
func ipvsadmDaemons() (map[ipvs.SyncState]ipvs.SyncDaemon, error) {
	out, err := ipvsadm("-L", "--daemon")
	if err != nil {
		return nil, err
	}
	re := regexp.MustCompile(`^(master|backup) sync daemon \(mcast=([^,]+), syncid=(\d+)(?:, maxlen=(\d+))?(?:, group=([^,]+))?(?:, port=(\d+))?(?:, ttl=(\d+))?\)$`)
	got := map[ipvs.SyncState]ipvs.SyncDaemon{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		m := re.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("unparsed ipvsadm --daemon line %q", line)
		}
		d := ipvs.SyncDaemon{State: ipvs.SyncBackup, Interface: m[2]}
		if m[1] == "master" {
			d.State = ipvs.SyncMaster
		}
		n := func(s string) uint64 { v, _ := strconv.ParseUint(s, 10, 16); return v }
		d.SyncID, d.MaxLen, d.Port, d.TTL = uint8(n(m[3])), uint16(n(m[4])), uint16(n(m[6])), uint8(n(m[7]))
		if m[5] != "" {
			d.Group, _ = netip.ParseAddr(m[5])
		}
		got[d.State] = d
	}
	return got, nil
}

// daemonsAgree compares Daemons with ipvsadm and with want.
func daemonsAgree(ctx context.Context, name string, k *ipvs.Kernel, want ...ipvs.SyncDaemon) {
	ours, err := k.Daemons(ctx)
	if err != nil {
		fail(name, "Daemons: %v", err)
		return
	}
	theirs, err := ipvsadmDaemons()
	if err != nil {
		fail(name, "%v", err)
		return
	}
	if len(ours) != len(want) || len(theirs) != len(want) {
		fail(name, "ours %+v, ipvsadm %+v, want %+v", ours, theirs, want)
		return
	}
	for _, d := range ours {
		if theirs[d.State] != d {
			fail(name, "ours %+v, ipvsadm %+v", d, theirs[d.State])
			return
		}
	}
	for _, w := range want {
		found := false
		for _, d := range ours {
			found = found || d == w
		}
		if !found {
			fail(name, "want %+v in %+v", w, ours)
			return
		}
	}
	pass(name)
}

func syncChecks(ctx context.Context, k *ipvs.Kernel) {
	if out, err := exec.Command("sh", "-c", "ip link add sync0 type dummy && ip addr add 192.0.2.1/24 dev sync0 && ip link set sync0 up && ip link set sync0 multicast on").CombinedOutput(); err != nil {
		fail("sync-setup", "%v: %s", err, out)
		return
	}
	daemonsAgree(ctx, "sync-none", k)

	m := ipvs.SyncDaemon{State: ipvs.SyncMaster, Interface: "sync0", SyncID: 7}
	if check("sync-start-master", k.StartDaemon(ctx, m)) {
		// The kernel reports its defaults.
		m.MaxLen, m.Group, m.Port, m.TTL = 1500-28, addr("224.0.0.81"), 8848, 1
		daemonsAgree(ctx, "sync-master-agrees", k, m)
	}
	b := ipvs.SyncDaemon{State: ipvs.SyncBackup, Interface: "sync0", SyncID: 9, MaxLen: 1400, Group: addr("239.1.2.3"), Port: 9000, TTL: 3}
	if check("sync-start-backup", k.StartDaemon(ctx, b)) {
		b.MaxLen = 1400
		daemonsAgree(ctx, "sync-both-agree", k, m, b)
	}
	err := k.StartDaemon(ctx, ipvs.SyncDaemon{State: ipvs.SyncMaster, Interface: "sync0", SyncID: 1})
	if errors.Is(err, ipvs.ErrDaemonRunning) && strings.Contains(err.Error(), "already runs") {
		pass("sync-eexist")
		fmt.Printf("      %v\n", err)
	} else {
		fail("sync-eexist", "second master: %v", err)
	}
	check("sync-stop-master", k.StopDaemon(ctx, ipvs.SyncMaster))
	err = k.StopDaemon(ctx, ipvs.SyncMaster)
	if errors.Is(err, ipvs.ErrDaemonNotRunning) {
		pass("sync-esrch")
		fmt.Printf("      %v\n", err)
	} else {
		fail("sync-esrch", "stopping a stopped master: %v", err)
	}
	daemonsAgree(ctx, "sync-backup-left", k, b)
	check("sync-stop-backup", k.StopDaemon(ctx, ipvs.SyncBackup))
	daemonsAgree(ctx, "sync-none-again", k)

	err = k.StartDaemon(ctx, ipvs.SyncDaemon{State: ipvs.SyncBackup, Interface: "nosuch0"})
	var ke *ipvs.KernelError
	if errors.As(err, &ke) && ke.Errno == 19 && strings.Contains(err.Error(), "no such interface") {
		pass("sync-enodev")
		fmt.Printf("      %v\n", err)
	} else {
		fail("sync-enodev", "%v", err)
	}

	// ipvsadm's own message, for the unit test's byte comparison.
	if out, err := exec.Command("strace", "-f", "-e", "trace=sendmsg", "-xx", "-s", "256", "ipvsadm", "--start-daemon", "master", "--mcast-interface", "sync0", "--syncid", "7").CombinedOutput(); err != nil {
		fail("sync-ipvsadm-start", "%v: %s", err, out)
	} else {
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "sendmsg") {
				fmt.Printf("      TRACE %s\n", l)
			}
		}
		daemonsAgree(ctx, "sync-ipvsadm-started", k, m)
		check("sync-stop-ipvsadm-master", k.StopDaemon(ctx, ipvs.SyncMaster))
	}

	// A mixed-family service makes the kernel refuse (EINVAL).
	if _, err := ipvsadm("-A", "-t", "10.9.9.9:80"); err == nil {
		if _, err := ipvsadm("-a", "-t", "10.9.9.9:80", "-r", "[2001:db8::9]:80", "-i"); err != nil {
			fmt.Printf("      SKIP sync-mixed-family: %v\n", err)
		} else {
			err := k.StartDaemon(ctx, ipvs.SyncDaemon{State: ipvs.SyncBackup, Interface: "sync0"})
			if errors.As(err, &ke) && ke.Errno == 22 && strings.Contains(err.Error(), "10.9.9.9") {
				pass("sync-mixed-family")
				fmt.Printf("      %v\n", err)
			} else {
				fail("sync-mixed-family", "%v", err)
				_ = k.StopDaemon(ctx, ipvs.SyncBackup)
			}
		}
		_, _ = ipvsadm("-D", "-t", "10.9.9.9:80")
	}

	timeouts(ctx, k)
	_ = exec.Command("ip", "link", "del", "sync0").Run()
}

func ipvsadmTimeouts() (ipvs.Timeouts, error) {
	out, err := ipvsadm("-L", "--timeout")
	if err != nil {
		return ipvs.Timeouts{}, err
	}
	var a, b, c int64
	if _, err := fmt.Sscanf(strings.TrimSpace(out), "Timeout (tcp tcpfin udp): %d %d %d", &a, &b, &c); err != nil {
		return ipvs.Timeouts{}, fmt.Errorf("ipvsadm --timeout %q: %v", out, err)
	}
	return ipvs.Timeouts{TCP: time.Duration(a) * time.Second, TCPFin: time.Duration(b) * time.Second, UDP: time.Duration(c) * time.Second}, nil
}

func timeouts(ctx context.Context, k *ipvs.Kernel) {
	before, err := k.Timeouts(ctx)
	theirs, err2 := ipvsadmTimeouts()
	if err != nil || err2 != nil || before != theirs || before.TCP == 0 {
		fail("timeouts-read", "ours %+v %v, ipvsadm %+v %v", before, err, theirs, err2)
		return
	}
	pass("timeouts-read")
	if check("timeouts-set", k.SetTimeouts(ctx, ipvs.Timeouts{TCP: 1234 * time.Second, UDP: 77 * time.Second})) {
		want := ipvs.Timeouts{TCP: 1234 * time.Second, TCPFin: before.TCPFin, UDP: 77 * time.Second}
		ours, err := k.Timeouts(ctx)
		theirs, err2 := ipvsadmTimeouts()
		if err != nil || err2 != nil || ours != want || theirs != want {
			fail("timeouts-agree", "ours %+v %v, ipvsadm %+v %v, want %+v", ours, err, theirs, err2, want)
		} else {
			pass("timeouts-agree")
		}
	}
	if err := k.SetTimeouts(ctx, ipvs.Timeouts{TCPFin: 1500 * time.Millisecond}); err == nil {
		fail("timeouts-subsecond", "accepted 1.5s")
	} else {
		pass("timeouts-subsecond")
	}
	err = k.SetTimeouts(ctx, ipvs.Timeouts{TCP: 4000000000 * time.Second})
	var ke *ipvs.KernelError
	if errors.As(err, &ke) && ke.Errno == 22 {
		pass("timeouts-kernel-limit")
		fmt.Printf("      %v\n", err)
	} else {
		fail("timeouts-kernel-limit", "%v", err)
	}
	check("timeouts-restore", k.SetTimeouts(ctx, before))
}

// syncCommand runs one Sync call for the e2e shell tests, in the caller's
// namespace: "start master|backup IF ID [GROUP PORT TTL]", "stop master|backup",
// "daemons", "conns".
func syncCommand(args []string) int {
	ctx := context.Background()
	k, err := ipvs.NewKernel(ipvs.KernelOptions{CallTimeout: 20 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer k.Close()
	state := func(s string) ipvs.SyncState {
		if s == "master" {
			return ipvs.SyncMaster
		}
		return ipvs.SyncBackup
	}
	switch {
	case len(args) >= 4 && args[0] == "start":
		id, _ := strconv.Atoi(args[3])
		d := ipvs.SyncDaemon{State: state(args[1]), Interface: args[2], SyncID: uint8(id)}
		err = k.StartDaemon(ctx, d)
	case len(args) == 2 && args[0] == "stop":
		err = k.StopDaemon(ctx, state(args[1]))
	case len(args) == 1 && args[0] == "daemons":
		var ds []ipvs.SyncDaemon
		ds, err = k.Daemons(ctx)
		for _, d := range ds {
			fmt.Printf("%s %s %d\n", d.State, d.Interface, d.SyncID)
		}
	case len(args) == 1 && args[0] == "conns":
		var n int
		n, err = k.Connections(ctx)
		if err == nil {
			fmt.Println(n)
		}
	default:
		err = fmt.Errorf("bad sync command %q", args)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
