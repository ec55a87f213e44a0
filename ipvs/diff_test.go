package ipvs

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"testing"
)

func svc(addr string, port uint16) Service {
	return Service{ServiceKey: ServiceKey{Family: INET, Protocol: TCP, Addr: netip.MustParseAddr(addr), Port: port}, Scheduler: "wrr"}
}

func dest(addr string, port uint16, w int32) Destination {
	return Destination{DestKey: DestKey{Addr: netip.MustParseAddr(addr), Port: port}, Fwd: Masq, Weight: w}
}

func kinds(ops []Op) []string {
	var out []string
	for _, o := range ops {
		out = append(out, o.String())
	}
	return out
}

func TestDiffAddsMissingAndOrdersDeletesLast(t *testing.T) {
	s := svc("10.0.0.100", 80)
	want := []Want{{Service: s, Dests: []WantDest{{Destination: dest("10.0.1.11", 80, 1)}}}}
	have := map[ServiceKey]State{s.ServiceKey: {Service: s, Dests: []Destination{dest("10.0.1.99", 80, 1)}}}
	got := kinds(Diff(want, have, nil))
	exp := []string{"add-dest tcp:10.0.0.100:80 10.0.1.11:80 masq w=1", "delete-dest tcp:10.0.0.100:80 10.0.1.99:80"}
	if !reflect.DeepEqual(got, exp) {
		t.Fatalf("got %q\nwant %q", got, exp)
	}
}

func TestDiffNewServiceUpdateAndRemove(t *testing.T) {
	a, b, gone, foreign := svc("10.0.0.1", 80), svc("10.0.0.2", 80), svc("10.0.0.3", 80), svc("10.0.0.4", 80)
	b2 := b
	b2.Scheduler = "rr"
	have := map[ServiceKey]State{
		b.ServiceKey:       {Service: b, Dests: []Destination{dest("10.0.1.1", 80, 2)}},
		gone.ServiceKey:    {Service: gone},
		foreign.ServiceKey: {Service: foreign},
	}
	want := []Want{
		{Service: a, Dests: []WantDest{{Destination: dest("10.0.1.1", 80, 1)}}},
		{Service: b2, Dests: []WantDest{{Destination: dest("10.0.1.1", 80, 5)}}},
	}
	got := kinds(Diff(want, have, []ServiceKey{gone.ServiceKey, svc("10.9.9.9", 1).ServiceKey}))
	exp := []string{
		"add-service tcp:10.0.0.1:80",
		"add-dest tcp:10.0.0.1:80 10.0.1.1:80 masq w=1",
		"update-service tcp:10.0.0.2:80",
		"update-dest tcp:10.0.0.2:80 10.0.1.1:80 masq w=5",
		"delete-service tcp:10.0.0.3:80",
	}
	if !reflect.DeepEqual(got, exp) {
		t.Fatalf("got %q\nwant %q", got, exp)
	}
}

func TestDiffIfPresentAndHashedFlagIgnored(t *testing.T) {
	s := svc("10.0.0.100", 80)
	s.Flags = FlagPersistent
	s.Timeout = 300
	k := s
	k.Flags |= FlagHashed
	q := dest("10.0.1.12", 80, 0)
	have := map[ServiceKey]State{s.ServiceKey: {Service: k, Dests: []Destination{dest("10.0.1.11", 80, 3)}}}
	want := []Want{{Service: s, Dests: []WantDest{
		{Destination: dest("10.0.1.11", 80, 0), IfPresent: true},
		{Destination: q, IfPresent: true},
	}}}
	got := kinds(Diff(want, have, nil))
	exp := []string{"update-dest tcp:10.0.0.100:80 10.0.1.11:80 masq w=0"}
	if !reflect.DeepEqual(got, exp) {
		t.Fatalf("got %q\nwant %q", got, exp)
	}
}

func TestCommitMatchesMemoryTable(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	s := svc("10.0.0.100", 80)
	have := map[ServiceKey]State{}
	apply := func(want []Want, remove []ServiceKey) {
		t.Helper()
		ops := Diff(want, have, remove)
		err := m.Apply(ctx, ops)
		Commit(have, ops, err)
		real, rerr := Read(ctx, m, func(ServiceKey) bool { return true })
		if rerr != nil {
			t.Fatal(rerr)
		}
		if !reflect.DeepEqual(real, have) && !(len(real) == 0 && len(have) == 0) {
			t.Fatalf("cache diverged:\n have %+v\n real %+v", have, real)
		}
	}
	apply([]Want{{Service: s, Dests: []WantDest{{Destination: dest("10.0.1.11", 80, 1)}, {Destination: dest("10.0.1.12", 80, 2)}}}}, nil)
	apply([]Want{{Service: s, Dests: []WantDest{{Destination: dest("10.0.1.12", 80, 0)}}}}, nil)
	// A failing op (service deleted behind our back) must not enter the cache.
	if err := m.Apply(ctx, []Op{{Kind: DeleteService, Service: s}}); err != nil {
		t.Fatal(err)
	}
	ops := []Op{{Kind: AddDest, Service: s, Dest: dest("10.0.1.13", 80, 1)}}
	err := m.Apply(ctx, ops)
	var ae *ApplyError
	if !errors.As(err, &ae) || len(ae.Failed) != 1 || !errors.Is(err, ErrNotFound) {
		t.Fatalf("want one not-found failure, got %v", err)
	}
	Commit(have, ops, err)
	if n := len(have[s.ServiceKey].Dests); n != 1 {
		t.Fatalf("failed op entered the cache: %d dests", n)
	}
	// After a failed apply the owner re-reads the table.
	have, err = Read(ctx, m, func(ServiceKey) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	m.Apply(ctx, []Op{{Kind: AddService, Service: s}})
	have, _ = Read(ctx, m, func(ServiceKey) bool { return true })
	apply(nil, []ServiceKey{s.ServiceKey})
}

func TestValidateRefusesWhatLibipvsPanicsOn(t *testing.T) {
	bad := []Op{
		{Kind: AddService, Service: Service{ServiceKey: ServiceKey{Protocol: TCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80}, Scheduler: "rr"}},
		{Kind: AddService, Service: Service{ServiceKey: ServiceKey{Family: INET6, Protocol: TCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80}, Scheduler: "rr"}},
		{Kind: AddService, Service: svc("10.0.0.1", 80)},
		{Kind: AddDest, Service: svc("10.0.0.1", 80), Dest: dest("::1", 80, 1)},
		{Kind: AddDest, Service: svc("10.0.0.1", 80), Dest: Destination{Weight: 1}},
	}
	bad[2].Service.Scheduler = ""
	for i, op := range bad {
		if err := op.Validate(); err == nil {
			t.Errorf("op %d (%v) validated", i, op)
		}
	}
	if err := (Op{Kind: AddService, Service: svc("10.0.0.1", 80)}).Validate(); err != nil {
		t.Errorf("good op refused: %v", err)
	}
}
