// Package haconf reads heartbeat 3.0.6's configuration in v1
// ("haresources") mode: /etc/ha.d/ha.cf, /etc/ha.d/authkeys and
// /etc/ha.d/haresources. It is pure parsing and validation: the only file
// system access is in the Load* functions, which read (and, for authkeys,
// stat) the files and hand their bytes to the Parse* functions.
//
// A file heartbeat rejects is rejected here with an *Error naming the file
// and line. Where heartbeat silently accepts nonsense (an unparsable port
// read by atoi, trailing garbage after a number) this package is stricter;
// each such case is noted at the parser. Pacemaker mode (crm on) is out of
// scope and is an error.
package haconf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/lvsdirector/director/failover/wire"
)

// Error is a configuration error (or warning) at a line of a file.
type Error struct {
	File string
	Line int // 0 when it is about the file as a whole
	Msg  string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Warning is something heartbeat would log without refusing to start.
type Warning = Error

// readLines splits r into lines without their '\n'.
func readLines(r io.Reader) ([]string, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, nil
	}
	data = bytes.TrimSuffix(data, []byte{'\n'})
	return strings.Split(string(data), "\n"), nil
}

// Config is the whole v1 configuration of one node.
type Config struct {
	HA        *HACF
	Keys      *wire.Keyring
	Resources *Resources
	Warnings  []Warning
}

// Default paths.
const (
	DefaultDir     = "/etc/ha.d"
	HACFName       = "ha.cf"
	AuthkeysName   = "authkeys"
	ResourcesName  = "haresources"
	defaultUDPPort = 694
)

// Load reads dir/ha.cf, dir/authkeys and dir/haresources for the node
// called localNode (uname -n) and checks them against each other: every
// haresources node must be a node of ha.cf. A missing haresources is a
// warning (heartbeat then manages no resources).
func Load(dir, localNode string) (*Config, error) {
	hf, err := os.Open(filepath.Join(dir, HACFName))
	if err != nil {
		return nil, err
	}
	defer hf.Close()
	ha, err := ParseHACF(hf.Name(), hf, HACFOptions{LocalNode: localNode})
	if err != nil {
		return nil, err
	}
	keys, kwarns, err := loadAuthkeys(filepath.Join(dir, AuthkeysName))
	if err != nil {
		return nil, err
	}
	c := &Config{HA: ha, Keys: keys}
	c.Warnings = append(c.Warnings, ha.Warnings...)
	c.Warnings = append(c.Warnings, kwarns...)

	rpath := filepath.Join(dir, ResourcesName)
	rf, err := os.Open(rpath)
	switch {
	case errors.Is(err, os.ErrNotExist):
		c.Resources = &Resources{File: rpath}
		c.Warnings = append(c.Warnings, Warning{File: rpath, Msg: "file missing: no resources are managed"})
		return c, nil
	case err != nil:
		return nil, err
	}
	defer rf.Close()
	if c.Resources, err = ParseHaresources(rpath, rf); err != nil {
		return nil, err
	}
	if err := c.Resources.CheckNodes(ha.Nodes); err != nil {
		return nil, err
	}
	return c, nil
}
