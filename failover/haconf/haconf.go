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
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"

	"github.com/lvsdirector/director/failover/wire"
	"github.com/lvsdirector/director/internal/cfgfile"
	"github.com/lvsdirector/director/internal/printable"
	"golang.org/x/sys/unix"
)

// Error is a configuration error (or warning) at a line of a file.
type Error struct {
	File string
	Line int // 0 when it is about the file as a whole
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", printable.String(e.File), e.Line, printable.String(e.Msg))
	}
	return fmt.Sprintf("%s: %s", printable.String(e.File), printable.String(e.Msg))
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
// refusal, as with heartbeat (an empty one manages no resources).
func Load(dir, localNode string) (*Config, error) {
	hpath := filepath.Join(dir, HACFName)
	hb, err := ReadConfigFile(hpath)
	if err != nil {
		return nil, err
	}
	ha, err := ParseHACF(hpath, bytes.NewReader(hb), HACFOptions{LocalNode: localNode, Host: hostChecks})
	if err != nil {
		return nil, err
	}
	kpath := filepath.Join(dir, AuthkeysName)
	keys, kwarns, err := loadAuthkeys(kpath)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			err = &Error{File: kpath, Msg: fmt.Sprintf("Cannot open keyfile: %v", errors.Unwrap(err))}
		}
		return nil, err
	}
	c := &Config{HA: ha, Keys: keys}
	c.Warnings = append(c.Warnings, ha.Warnings...)
	c.Warnings = append(c.Warnings, kwarns...)

	rpath := filepath.Join(dir, ResourcesName)
	rb, err := ReadConfigFile(rpath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// heartbeat 3.0.6 does not start without it (an empty file is
		// no resources).
		return nil, &Error{File: rpath, Msg: "Cannot open resources file: it is missing (an empty file manages no resources)"}
	case err != nil:
		return nil, err
	}
	if c.Resources, err = ParseHaresources(rpath, bytes.NewReader(rb)); err != nil {
		return nil, err
	}
	if err := c.Resources.CheckNodes(ha.Nodes); err != nil {
		return nil, err
	}
	if len(c.Resources.Groups) > 0 && len(ha.Nodes) > 2 {
		return nil, &Error{File: ha.File, Line: ha.NodeLines[2],
			Msg: fmt.Sprintf("node %s: haresources groups move between two nodes (nice_failback and ip-request are two-node protocols), ha.cf lists %d (%s)",
				ha.Nodes[2], len(ha.Nodes), strings.Join(ha.Nodes, " "))}
	}
	return c, nil
}

// hostChecks are the host look-ups heartbeat makes while it parses
// ha.cf (a variable for tests).
var hostChecks = &HostChecks{
	UserExists: func(n string) bool {
		_, err := user.Lookup(n)
		return err == nil
	},
	GroupExists: func(n string) bool {
		_, err := user.LookupGroup(n)
		return err == nil
	},
	Executable: func(p string) bool { return unix.Access(p, unix.X_OK) == nil },
	Readable: func(p string) bool {
		f, err := os.Open(p)
		if err == nil {
			f.Close()
		}
		return err == nil
	},
	Interface: func(n string) bool {
		_, err := net.InterfaceByName(n)
		return err == nil
	},
}

// ReadConfigFile reads one of the ha.d files: a regular file of at most
// cfgfile.MaxSize bytes, so that a FIFO cannot hang the start nor
// /dev/zero exhaust memory. OpenConfigFile is the same for a reader that
// also needs the file's mode (authkeys).
func ReadConfigFile(path string) ([]byte, error) { return cfgfile.ReadFile(path) }

// OpenConfigFile opens one of the ha.d files under the rules of
// ReadConfigFile; read it with cfgfile.ReadAll to keep the bound.
func OpenConfigFile(path string) (*os.File, fs.FileInfo, error) { return cfgfile.Open(path) }
