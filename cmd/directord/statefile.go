package main

import (
	"os"
	"path/filepath"
)

// writeFileSync replaces path with data so that after a crash or power
// loss it holds either the old or the new content, and the new one once
// this returns: write a temporary file, fsync it, rename it over path,
// fsync the directory (the rename is only durable then). The generation
// must never go back after a power cut: the peer would drop our packets as
// replays.
func writeFileSync(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
