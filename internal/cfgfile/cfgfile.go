// Package cfgfile opens configuration files safely. A configuration path
// that names a FIFO would block the reader forever, /dev/zero would fill
// its memory, and a directory reads as a confusing error: only a regular
// file of at most MaxSize bytes is read, and every refusal names the file.
package cfgfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"syscall"
)

// MaxSize bounds a configuration file. The largest real ones (ldirectord.cf
// with thousands of reals) are a few hundred KiB.
const MaxSize = 1 << 20

// ErrNotRegular is wrapped by the error for a path that is not a regular
// file (directory, FIFO, device, socket).
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is wrapped by the error for a file larger than the bound.
var ErrTooLarge = errors.New("file too large")

// Open opens path for reading. It must be a regular file (a symlink to one
// is fine) of at most MaxSize bytes. The returned FileInfo is the open
// file's, for callers that check its mode (authkeys). Errors are
// *fs.PathError naming path, so errors.Is(err, fs.ErrNotExist) still tells a
// missing file.
func Open(path string) (*os.File, fs.FileInfo, error) {
	// Stat before opening: opening some devices has effects of its own
	// (a watchdog arms, a tape rewinds).
	st, err := os.Stat(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			pe.Op = "open" // as the messages of a plain open read
		}
		return nil, nil, err
	}
	if err := check(path, st, MaxSize); err != nil {
		return nil, nil, err
	}
	// O_NONBLOCK: if a FIFO was swapped in since the Stat, opening it
	// must not wait for a writer; fstat below then refuses it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	fst, err := f.Stat()
	if err == nil {
		err = check(path, fst, MaxSize)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fst, nil
}

// ReadFile reads the whole of a configuration file under the rules of Open.
func ReadFile(path string) ([]byte, error) {
	f, _, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadAll(path, f, MaxSize)
}

// ReadAll reads r to its end, refusing more than max bytes (a file that
// grows after the size check is still bounded).
func ReadAll(path string, r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, tooLarge(path, max)
	}
	return b, nil
}

func check(path string, st fs.FileInfo, max int64) error {
	m := st.Mode()
	if m.IsDir() {
		return &fs.PathError{Op: "open", Path: path, Err: syscall.EISDIR}
	}
	if !m.IsRegular() {
		return &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w (%s)", ErrNotRegular, kind(m))}
	}
	if st.Size() > max {
		return tooLarge(path, max)
	}
	return nil
}

func tooLarge(path string, max int64) error {
	return &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)}
}

func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "mode " + m.String()
}

// Find returns the first of paths that is a regular file (of any size: the
// bound is the reader's business). When none is,
// the error is the first refusal of a path that exists ("open P: is a
// directory"), or one satisfying errors.Is(err, fs.ErrNotExist) when no
// path exists at all: a directory in the way is not "not found".
func Find(paths ...string) (string, error) {
	var refused error
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		if err := check(p, st, math.MaxInt64); err != nil {
			if refused == nil {
				refused = err
			}
			continue
		}
		return p, nil
	}
	if refused != nil {
		return "", refused
	}
	return "", fs.ErrNotExist
}
