package main

import (
	"testing"

	"github.com/lvsdirector/director/director"
)

func TestStatusLine(t *testing.T) {
	vs := []director.VirtualStatus{
		{ID: "a", Reals: []director.RealStatus{{Up: true, Weight: 1}, {Up: false}, {Fallback: true, Weight: 0}}},
		{ID: "b", Reals: []director.RealStatus{{Up: false}, {Fallback: true, Weight: 1}}},
	}
	if got, want := statusLine(vs), "2 virtual(s), 1/3 reals up, 1 on the fallback server"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := statusLine(nil); got != "0 virtual(s), 0/0 reals up" {
		t.Errorf("empty: %q", got)
	}
}
