package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/lvsdirector/director/failover/haconf"
	"github.com/lvsdirector/director/failover/ipaddr"
	"github.com/lvsdirector/director/failover/media"
	"github.com/lvsdirector/director/failover/resource"
	"github.com/lvsdirector/director/failover/wire"
	"github.com/lvsdirector/director/internal/cfgfile"
	"github.com/lvsdirector/director/internal/settings"
	"github.com/lvsdirector/director/ipvs"
)

// nextGeneration reads, bumps and writes the generation number (heartbeat's
// hb_generation): a peer rejects packets of a lower generation as replays,
// so it must grow across every restart. The first one is the time, as
// heartbeat's, so a lost state directory still moves forward.
func nextGeneration(dir string) (uint64, error) {
	p := filepath.Join(dir, "hb_generation")
	var g uint64
	// A regular file of bounded size only: a FIFO or a device there would
	// hang or flood the start like any other file we read.
	switch b, err := cfgfile.ReadFile(p); {
	case err == nil:
		if g, err = parseGeneration(p, b); err != nil {
			return 0, err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return 0, err
	}
	if now := uint64(time.Now().Unix()); g < now {
		g = now
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	return g, writeFileSync(p, []byte(strconv.FormatUint(g, 10)+"\n"), 0o644)
}

// acceptAnyAuthIndex applies [heartbeat] accept_any_auth_index to the
// keyring and warns for every crc index it lets in.
func acceptAnyAuthIndex(cfg *haconf.Config, st *settings.Settings, haDir string, log *slog.Logger) {
	if !st.Heartbeat.AcceptAnyAuthIndex {
		return
	}
	cfg.Keys.AnyIndex = true
	log.Warn(fmt.Sprintf("%s: accept_any_auth_index = true: packets signed with any index of %s are accepted",
		st.File, filepath.Join(haDir, haconf.AuthkeysName)))
	for i := range wire.MaxKeys {
		if k, ok := cfg.Keys.Lookup(i); ok && k.Method == wire.CRC && i != cfg.Keys.Send {
			log.Warn(fmt.Sprintf("INSECURE: %s: index %d is crc and accept_any_auth_index is on: anyone who can send to the heartbeat link can forge packets",
				filepath.Join(haDir, haconf.AuthkeysName), i))
		}
	}
}

// mediaSpecs turns ha.cf media into sockets to open.
func mediaSpecs(ha *haconf.HACF) ([]media.Spec, error) {
	var out []media.Spec
	for _, m := range ha.Media {
		s := media.Spec{Dev: m.Dev, Port: m.Port, TTL: m.TTL, Loop: m.Loop, Label: m.Dev}
		switch m.Kind {
		case haconf.Ucast:
			s.Kind = "ucast"
			a, err := netip.ParseAddr(m.Peer)
			if err != nil {
				ips, lerr := net.DefaultResolver.LookupNetIP(context.Background(), "ip4", m.Peer)
				if lerr != nil || len(ips) == 0 {
					return nil, fmt.Errorf("%s:%d: ucast peer %s: cannot resolve", ha.File, m.Line, m.Peer)
				}
				a = ips[0]
			}
			s.Peer = a.Unmap()
		case haconf.Bcast:
			s.Kind = "bcast"
		case haconf.Mcast:
			s.Kind, s.Peer = "mcast", m.Group
		case haconf.Serial:
			s.Kind, s.Baud, s.Where = "serial", m.Baud, fmt.Sprintf("%s:%d", ha.File, m.Line)
		default:
			return nil, fmt.Errorf("%s:%d: medium %v is not supported (ucast, bcast, mcast and serial are)", ha.File, m.Line, m.Kind)
		}
		out = append(out, s)
	}
	return out, nil
}

// groups builds the resource agents of every haresources group.
// scriptTimeout bounds each resource script run (0: the Script default).
func groups(cfg *haconf.Config, haDir string, ip *ipaddr.Manager, scriptTimeout time.Duration, log *slog.Logger) ([]*resource.Group, error) {
	var out []*resource.Group
	for _, g := range cfg.Resources.Groups {
		rg := &resource.Group{Key: g.Key, Log: log}
		for _, r := range g.Resources {
			switch {
			case r.IP != nil:
				rg.Agents = append(rg.Agents, &resource.IP{M: ip, Addr: ipaddr.Address{
					Addr: r.IP.Addr, Bits: r.IP.Bits, Iface: r.IP.Iface, Broadcast: r.IP.Broadcast, Label: r.IP.Label}})
			case r.SyncRole != "":
				// Its daemons are given by connSync.attach.
				role := ipvs.SyncMaster
				if r.SyncRole == "backup" {
					role = ipvs.SyncBackup
				}
				rg.Agents = append(rg.Agents, &resource.SyncRole{Role: role, Group: g.Key})
			case r.Agent == "ldirectord":
				name := "ldirectord.cf"
				if len(r.Args) > 0 {
					name = r.Args[0]
				}
				// As ldirectord looks: HADIR/CFG, HADIR/conf/CFG, CFG.
				p, err := cfgfile.Find(filepath.Join(haDir, name), filepath.Join(haDir, "conf", name), name)
				switch {
				case errors.Is(err, fs.ErrNotExist):
					return nil, fmt.Errorf("%s:%d: ldirectord config %s not found in %s, %s/conf or the current directory", cfg.Resources.File, g.Line, name, haDir, haDir)
				case err != nil:
					return nil, fmt.Errorf("%s:%d: ldirectord config: %w", cfg.Resources.File, g.Line, err)
				}
				rg.Agents = append(rg.Agents, &resource.Director{Path: p, Log: log})
			default:
				rg.Agents = append(rg.Agents, &resource.Script{Name: r.Agent, Args: r.Args,
					Dirs: []string{filepath.Join(haDir, "resource.d"), "/etc/init.d"}, Timeout: scriptTimeout})
			}
		}
		out = append(out, rg)
	}
	return out, nil
}
