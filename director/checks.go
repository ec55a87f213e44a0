package director

import (
	"fmt"

	"github.com/lvsdirector/director/healthcheck"
	"github.com/lvsdirector/director/ipvs"
)

// servicePorts is ldirectord's service → default port table, used when
// neither checkport nor the real= line gives a port.
var servicePorts = map[string]uint16{
	"ftp": 21, "smtp": 25, "dns": 53, "http": 80, "pop": 110, "nntp": 119, "imap": 143,
	"ldap": 389, "https": 443, "submission": 587, "ldaps": 636, "imaps": 993, "pops": 995,
	"oracle": 1521, "radius": 1812, "http_proxy": 3128, "mysql": 3306, "sip": 5060, "pgsql": 5432,
}

// CheckSpec is the check of real r in virtual v.
func CheckSpec(v *Virtual, r *Real) healthcheck.Spec {
	c := v.Check
	s := healthcheck.Spec{
		Type: c.Type, Service: c.Service, CombinedN: c.CombinedN,
		Addr: r.Dest.Addr, Port: c.Port, Protocol: v.Service.Protocol, Virtual: v.Service.ServiceKey,
		Request: c.Request, Receive: c.ReceiveRE, HTTPMethod: c.HTTPMethod, VirtualHost: c.VirtualHost,
		Login: c.Login, Passwd: c.Passwd, Database: c.Database, Secret: c.Secret, Command: c.Command,
		Timeout: c.Timeout, NegotiateTimeout: c.NegotiateTimeout, Interval: c.Interval,
		Count: c.Count, FailureCount: c.FailureCount,
	}
	if s.Port == 0 {
		s.Port = r.CheckPort
	}
	if s.Port == 0 {
		s.Port = servicePorts[c.Service]
	}
	if s.Protocol == 0 {
		// fwmark virtuals are checked over TCP, but dns over UDP: ldirectord
		// queries over TCP only when the virtual itself is TCP.
		s.Protocol = ipvs.TCP
		if c.Service == "dns" {
			s.Protocol = ipvs.UDP
		}
	}
	if r.Request != "" {
		s.Request = r.Request
	}
	if r.ReceiveRE != nil {
		s.Receive = r.ReceiveRE
	}
	return s
}

// checkIDs gives every real its check id; reals with equal ids (the same
// server checked the same way from several virtuals) share one check.
func checkIDs(cfg *Config) map[*Real]string {
	ids := map[*Real]string{}
	for _, v := range cfg.Virtuals {
		for _, r := range v.Reals {
			s := CheckSpec(v, r)
			ids[r] = s.ID()
		}
	}
	return ids
}

// specs lists the checks to schedule with their current state. on and off
// need no checking: their reals are always up, or never.
func (d *Director) specs() map[string]healthcheck.Check {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]healthcheck.Check{}
	for _, v := range d.cfg.Virtuals {
		if v.Check.Type == "on" || v.Check.Type == "off" {
			continue
		}
		for _, r := range v.Reals {
			id := d.checkOf[r]
			if _, ok := out[id]; !ok {
				s := CheckSpec(v, r)
				s.MaintenanceDir = d.cfg.Global.MaintenanceDir
				out[id] = healthcheck.Check{Spec: s, Up: d.health[id]}
			}
		}
	}
	return out
}

// checksSupported refuses, at load, a check this build cannot perform
// (rather than leaving its reals silently unchecked).
func checksSupported(cfg *Config) error {
	for _, v := range cfg.Virtuals {
		if err := healthcheck.Supported(v.Check.Type, v.Check.Service); err != nil {
			return &Error{File: cfg.File, Line: v.Line, Msg: fmt.Sprintf("virtual %s: %v", v.ID(), err)}
		}
	}
	return nil
}
