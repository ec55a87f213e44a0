package haconf

// haresources, one resource group per logical line:
//
//	<preferred-node> <resource> [<resource> ...]
//
// A line ending in '\' continues on the next; '#' starts a comment; fields
// are separated by blanks. The group is named by its first resource as
// written (its "key": what ResourceManager listkeys prints and what
// ip-request carries in ipaddr=).
//
// Resource forms (ResourceManager's canonname / resource2script):
//
//	10.0.0.10[/...]            IPaddr::10.0.0.10[/...]   (glob [0-9]*.[0-9]*.[0-9]*.[0-9]*)
//	IPaddr::ip[/bits[/iface[/broadcast]]]   (or ip/bits/broadcast)
//	IPaddr2::ip[/bits[/iface[:label][/broadcast]]]
//	IPv6addr::ip6[/bits[/iface]]
//	script::arg1::arg2         resource.d/script (or init.d) arg1 arg2 start|stop|status
//	script                     script start|stop|status
//	LVSSyncDaemonSwap::master  the IPVS connection sync master runs while the
//	                           group is held (::backup: the other way round)
//
// LVSSyncDaemonSwap is read natively (heartbeat 2.x's resource.d script of
// that name is not needed nor run): its one argument is master or backup.
// The script ran "ipvsadm --start-daemon ROLE" with no other option, so
// ipvsadm's defaults applied: multicast interface eth0, sync id 0.
// directord takes the interface and id from the settings' [sync] table and
// falls back to the same defaults.
//
// Address arguments are read as heartbeat's resource.d wrappers read them:
// IPaddr and IPaddr2 strip every run of '/', so an empty field is skipped
// and the next one takes its place (ip/24//10.0.0.255 is a broadcast,
// ip//eth1 makes "eth1" the netmask, which IPaddr then refuses); IPv6addr
// keeps the fields in place (ip6//eth1 is an interface). ResourceManager
// splits arguments at "::", so an IPv6 address is written in full
// (fd00:0:0:0:0:0:0:1). IPaddr2 also takes IPv6 here (heartbeat's wrapper
// refuses it: it asks for lvs_support, which IPaddr2 has only for IPv4).
//
// Stricter than the shell: empty "::" arguments and malformed addresses
// are errors here; ResourceManager would hand them to the script.

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Resources is a parsed haresources.
type Resources struct {
	File   string
	Groups []Group
}

// Group is one line: the resources a node prefers to hold, started left to
// right and stopped right to left.
type Group struct {
	Node      string // preferred node, lowercased
	Key       string // first resource as written
	Resources []Resource
	Line      int
}

// Resource is one resource of a group.
type Resource struct {
	Token string   // as written
	Agent string   // script name: IPaddr, IPaddr2, ldirectord, ...
	Args  []string // arguments (split at "::")
	IP    *IPAddr  // set for IPaddr and IPaddr2 (bare addresses included)
	// SyncRole is "master" or "backup" for LVSSyncDaemonSwap::ROLE.
	SyncRole string
}

// SyncAgent is heartbeat's resource script for the IPVS sync daemons.
const SyncAgent = "LVSSyncDaemonSwap"

// SyncRoles reports whether any group has an LVSSyncDaemonSwap resource.
func (rs *Resources) SyncRoles() bool {
	for _, g := range rs.Groups {
		for _, r := range g.Resources {
			if r.SyncRole != "" {
				return true
			}
		}
	}
	return false
}

// IsIP tells whether r is an address resource.
func (r Resource) IsIP() bool { return r.IP != nil }

// IPAddr is the argument of an IPaddr / IPaddr2 resource.
type IPAddr struct {
	Addr      netip.Addr
	Bits      int        // prefix length; 0 = the agent picks (the subnet holding Addr)
	Iface     string     // "" = the agent picks
	Label     string     // IPaddr2 "iface:label" (full label, e.g. "eth0:web"), "" for none
	Broadcast netip.Addr // invalid = derived from the prefix (none for IPv6)
}

// Lookup returns the group with key.
func (rs *Resources) Lookup(key string) (*Group, bool) {
	for i := range rs.Groups {
		if rs.Groups[i].Key == key {
			return &rs.Groups[i], true
		}
	}
	return nil, false
}

// ByNode returns the groups whose preferred node is node (ResourceManager
// listkeys), in file order.
func (rs *Resources) ByNode(node string) []Group {
	var out []Group
	node = strings.ToLower(node)
	for _, g := range rs.Groups {
		if g.Node == node {
			out = append(out, g)
		}
	}
	return out
}

// CheckNodes fails for a group whose node is not among nodes (ha.cf's
// node list, lowercased), as heartbeat does at start.
func (rs *Resources) CheckNodes(nodes []string) error {
	for _, g := range rs.Groups {
		ok := false
		for _, n := range nodes {
			ok = ok || n == g.Node
		}
		if !ok {
			return &Error{File: rs.File, Line: g.Line,
				Msg: fmt.Sprintf("Invalid node [%s] in haresources: not a node of ha.cf (%s)", g.Node, strings.Join(nodes, " "))}
		}
	}
	return nil
}

// ParseHaresources reads haresources.
func ParseHaresources(file string, r io.Reader) (*Resources, error) {
	lines, err := readLines(r)
	if err != nil {
		return nil, err
	}
	rs := &Resources{File: file}
	seen := map[string]int{}
	var logical strings.Builder
	start := 0
	for i, raw := range lines {
		s := raw
		if j := strings.IndexByte(s, '#'); j >= 0 {
			s = s[:j]
		}
		s = strings.TrimRight(s, whitespace)
		if logical.Len() == 0 {
			start = i + 1
		}
		cont := strings.HasSuffix(s, `\`)
		s = strings.TrimSuffix(s, `\`)
		logical.WriteString(s)
		logical.WriteByte(' ')
		if cont && i < len(lines)-1 {
			continue
		}
		toks := strings.Fields(logical.String())
		logical.Reset()
		if len(toks) == 0 {
			continue
		}
		g, err := parseGroup(toks, start)
		if err != nil {
			return nil, &Error{File: file, Line: start, Msg: err.Error()}
		}
		if prev, dup := seen[g.Key]; dup {
			return nil, &Error{File: file, Line: start, Msg: fmt.Sprintf("resource group %s already defined on line %d", g.Key, prev)}
		}
		seen[g.Key] = start
		rs.Groups = append(rs.Groups, g)
	}
	return rs, nil
}

func parseGroup(toks []string, line int) (Group, error) {
	g := Group{Node: strings.ToLower(toks[0]), Line: line}
	if len(toks) < 2 {
		return g, fmt.Errorf("node %s has no resources: want <node> <resource> [...]", toks[0])
	}
	g.Key = toks[1]
	sync := ""
	for _, t := range toks[1:] {
		r, err := ParseResource(t)
		if err != nil {
			return g, err
		}
		if r.SyncRole != "" {
			if sync != "" {
				return g, fmt.Errorf("resource %s: the group already has %s (one sync role per group)", t, sync)
			}
			sync = t
		}
		g.Resources = append(g.Resources, r)
	}
	return g, nil
}

// ipGlob is ResourceManager's is_ip_address: the shell pattern
// [0-9]*.[0-9]*.[0-9]*.[0-9]*.
var ipGlob = regexp.MustCompile(`^[0-9].*\.[0-9].*\.[0-9].*\.[0-9]`)

// ParseResource reads one haresources resource token.
func ParseResource(tok string) (Resource, error) {
	r := Resource{Token: tok}
	canon := tok
	if ipGlob.MatchString(tok) {
		canon = "IPaddr::" + tok
	}
	parts := strings.Split(canon, "::")
	r.Agent, r.Args = parts[0], parts[1:]
	if r.Agent == "" || r.Agent == "." || r.Agent == ".." || strings.ContainsRune(r.Agent, '/') {
		return r, fmt.Errorf("resource %s: invalid resource script name %q", tok, r.Agent)
	}
	for _, a := range r.Args {
		if a == "" {
			return r, fmt.Errorf("resource %s: empty argument", tok)
		}
	}
	if r.Agent == SyncAgent {
		if len(r.Args) != 1 || (r.Args[0] != "master" && r.Args[0] != "backup") {
			return r, fmt.Errorf("resource %s: %s takes one argument, master or backup (%s::master)", tok, SyncAgent, SyncAgent)
		}
		r.SyncRole = r.Args[0]
		return r, nil
	}
	if r.Agent != "IPaddr" && r.Agent != "IPaddr2" && r.Agent != "IPv6addr" {
		return r, nil
	}
	if len(r.Args) != 1 {
		msg := fmt.Sprintf("resource %s: %s takes one argument, %s", tok, r.Agent, addrUsage[r.Agent])
		if a, err := netip.ParseAddr(strings.Split(strings.Join(r.Args, "::"), "/")[0]); err == nil && a.Is6() {
			msg += fmt.Sprintf(`; heartbeat splits arguments at "::": write the IPv6 address in full (%s)`, fullIPv6(a))
		}
		return r, errors.New(msg)
	}
	ip, err := parseIPAddr(r.Args[0], r.Agent)
	if err != nil {
		return r, fmt.Errorf("resource %s: %v", tok, err)
	}
	r.IP = ip
	return r, nil
}

var addrUsage = map[string]string{
	"IPaddr":   "ip[/bits[/interface[/broadcast]]]",
	"IPaddr2":  "ip[/bits[/interface[:label][/broadcast]]]",
	"IPv6addr": "ipv6[/bits[/interface]]",
}

// fullIPv6 writes a without "::" (all eight groups).
func fullIPv6(a netip.Addr) string {
	b := a.As16()
	g := make([]string, 8)
	for i := range g {
		g[i] = strconv.FormatUint(uint64(b[2*i])<<8|uint64(b[2*i+1]), 16)
	}
	return strings.Join(g, ":")
}

// parseIPAddr reads the argument of an address agent (see the forms at
// the top of the file).
func parseIPAddr(s, agent string) (*IPAddr, error) {
	f := strings.Split(s, "/")
	// shifted: a field took the place of an empty netmask.
	shifted := false
	if agent != "IPv6addr" {
		// The IPaddr/IPaddr2 wrappers strip each run of '/' after a field
		// (sed 's%^FIELD/*%%'): empty fields vanish.
		kept := []string{f[0]}
		for _, x := range f[1:] {
			if x != "" {
				kept = append(kept, x)
			}
		}
		shifted = len(f) > 2 && f[1] == "" && len(kept) > 1
		f = kept
	}
	max := 4
	if agent == "IPv6addr" {
		max = 3
	}
	if len(f) > max {
		return nil, fmt.Errorf("too many '/' fields: want %s", addrUsage[agent])
	}
	a, err := netip.ParseAddr(f[0])
	switch {
	case agent == "IPaddr" && (err != nil || !a.Is4()):
		return nil, fmt.Errorf("%q is not an IPv4 address (IPv6: IPv6addr::ADDRESS)", f[0])
	case agent == "IPv6addr" && (err != nil || !a.Is6() || a.Is4In6()):
		return nil, fmt.Errorf("%q is not an IPv6 address", f[0])
	case err != nil || a.Zone() != "" || a.Is4In6():
		return nil, fmt.Errorf("%q is not an IPv4 or IPv6 address", f[0])
	}
	ip := &IPAddr{Addr: a}
	if len(f) > 1 && f[1] != "" {
		if ip.Bits, err = parseBits(f[1], a.BitLen()); err != nil {
			if shifted {
				err = fmt.Errorf("%v (heartbeat's %s skips empty fields, so %q is read as the netmask: write %s/BITS/%s)", err, agent, f[1], f[0], strings.Join(f[1:], "/"))
			}
			return nil, err
		}
	}
	if a.Is6() {
		if len(f) > 2 && f[2] != "" {
			if strings.Contains(f[2], ":") {
				return nil, fmt.Errorf("interface %q: labels are for IPv4 addresses", f[2])
			}
			if err := checkDev(f[2]); err != nil {
				return nil, err
			}
			ip.Iface = f[2]
		}
		if len(f) > 3 {
			return nil, fmt.Errorf("broadcast %q: IPv6 has no broadcast", f[3])
		}
		return ip, nil
	}
	bcast := ""
	if len(f) > 2 && f[2] != "" {
		if f[2][0] >= '0' && f[2][0] <= '9' {
			if len(f) > 3 {
				return nil, fmt.Errorf("interface %q starts with a digit (read as a broadcast address)", f[2])
			}
			bcast = f[2]
		} else {
			ip.Iface = f[2]
			if dev, label, ok := strings.Cut(f[2], ":"); ok {
				if agent != "IPaddr2" {
					return nil, fmt.Errorf("interface %q: labels are an IPaddr2 option (IPaddr picks its own alias)", f[2])
				}
				if label == "" || len(f[2]) > 15 {
					return nil, fmt.Errorf("invalid label %q: want interface:label, at most 15 characters", f[2])
				}
				ip.Iface, ip.Label = dev, f[2]
			}
			if err := checkDev(ip.Iface); err != nil {
				return nil, err
			}
		}
	}
	if len(f) > 3 && f[3] != "" {
		bcast = f[3]
	}
	if bcast != "" {
		b, err := netip.ParseAddr(bcast)
		if err != nil || !b.Is4() {
			return nil, fmt.Errorf("broadcast %q is not an IPv4 address", bcast)
		}
		ip.Broadcast = b
	}
	return ip, nil
}

// parseBits reads a prefix length (1..max) or, for IPv4 (max 32), a
// dotted netmask.
func parseBits(s string, max int) (int, error) {
	if n, err := strconv.Atoi(s); err == nil && s[0] != '+' && s[0] != '-' {
		if n < 1 || n > max {
			return 0, fmt.Errorf("netmask bits %d out of range 1..%d", n, max)
		}
		return n, nil
	}
	if max != 32 {
		return 0, fmt.Errorf("invalid prefix length %q: want 1..%d", s, max)
	}
	m, err := netip.ParseAddr(s)
	if err != nil || !m.Is4() {
		return 0, fmt.Errorf("invalid netmask %q: want bits (24) or a dotted mask (255.255.255.0)", s)
	}
	v := uint32(m.As4()[0])<<24 | uint32(m.As4()[1])<<16 | uint32(m.As4()[2])<<8 | uint32(m.As4()[3])
	bits := 0
	for bits < 32 && v&(1<<(31-bits)) != 0 {
		bits++
	}
	if bits == 0 || v<<bits != 0 {
		return 0, fmt.Errorf("invalid netmask %q: not contiguous", s)
	}
	return bits, nil
}
