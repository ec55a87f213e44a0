package haconf

// authkeys, as heartbeat's auth.c reads it:
//
//	auth N            # the index this node signs with
//	N crc
//	N md5 KEY
//	N sha1 KEY
//
// Lines whose first non-blank character is '#', and blank lines, are
// skipped. "auth" is read like sscanf("auth %d") and a method line like
// sscanf("%d%s%s"): the key is one whitespace-free token and anything after
// it is ignored (a warning here, as "2 sha1 my secret" signs with "my").
// Stricter than heartbeat: the index must be a plain decimal number ("2x
// sha1 k" would be read by sscanf as index 2, method "x").

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"

	"github.com/lvsdirector/director/failover/wire"
	"github.com/lvsdirector/director/internal/cfgfile"
)

// CheckAuthkeysMode applies heartbeat's permission rule: the file must not
// be readable by its group or by others (0600, 0400, 0700 and even 0620
// pass; 0640 and 0604 fail).
func CheckAuthkeysMode(file string, mode fs.FileMode) error {
	if mode.Perm()&0o044 != 0 {
		return &Error{File: file, Msg: fmt.Sprintf("Bad permissions on keyfile [%s] (%04o), 600 recommended", file, mode.Perm())}
	}
	return nil
}

// LoadAuthkeys stats the file, applies CheckAuthkeysMode and parses it.
// Warnings (ignored text after a key) are dropped; use ParseAuthkeys to
// see them.
func LoadAuthkeys(file string) (*wire.Keyring, error) {
	kr, _, err := loadAuthkeys(file)
	return kr, err
}

func loadAuthkeys(file string) (*wire.Keyring, []Warning, error) {
	// A regular file of bounded size, as every ha.d file: a FIFO must not
	// hang the start, nor /dev/zero fill the memory.
	f, st, err := OpenConfigFile(file)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	if err := CheckAuthkeysMode(file, st.Mode()); err != nil {
		return nil, nil, err
	}
	b, err := cfgfile.ReadAll(file, f, cfgfile.MaxSize)
	if err != nil {
		return nil, nil, err
	}
	return ParseAuthkeys(file, bytes.NewReader(b))
}

// ParseAuthkeys reads an authkeys file into a keyring.
func ParseAuthkeys(file string, r io.Reader) (*wire.Keyring, []Warning, error) {
	lines, err := readLines(r)
	if err != nil {
		return nil, nil, err
	}
	kr := &wire.Keyring{Send: -1}
	var warns []Warning
	sendLine := 0
	var crcLines [wire.MaxKeys]int // line of each index's crc
	for i, raw := range lines {
		line := i + 1
		errf := func(format string, a ...any) error {
			return &Error{File: file, Line: line, Msg: fmt.Sprintf(format, a...)}
		}
		s := strings.TrimLeft(raw, whitespace)
		if s == "" || s[0] == '#' {
			continue
		}
		if s[0] == 'a' {
			rest, ok := strings.CutPrefix(s, "auth")
			rest = strings.TrimLeft(rest, whitespace)
			n := 0
			for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
				n++
			}
			if !ok || n == 0 || n > 3 || (n < len(rest) && !strings.ContainsRune(whitespace, rune(rest[n]))) {
				return nil, nil, errf("Invalid auth line [%s]: want auth <index>", strings.TrimRight(raw, whitespace))
			}
			kr.Send, _ = strconv.Atoi(rest[:n])
			sendLine = line
			continue
		}
		toks := strings.Fields(s)
		if len(toks) < 2 {
			return nil, nil, errf("invalid line [%s]: want auth <index> or <index> <method> [key]", strings.TrimRight(raw, whitespace))
		}
		idx, err := strconv.Atoi(toks[0])
		if err != nil || toks[0][0] == '+' || toks[0][0] == '-' {
			return nil, nil, errf("invalid line [%s]: want auth <index> or <index> <method> [key]", strings.TrimRight(raw, whitespace))
		}
		if idx < 0 || idx >= wire.MaxKeys {
			return nil, nil, errf("Invalid authentication type [%d]: indices are 0 to %d", idx, wire.MaxKeys-1)
		}
		if kr.Keys[idx].Method != 0 {
			return nil, nil, errf("Duplicate authentication type [%d]", idx)
		}
		m, ok := wire.ParseMethod(toks[1])
		if !ok {
			return nil, nil, errf("Invalid authentication method [%s]: want crc, md5 or sha1", toks[1])
		}
		key := ""
		if len(toks) > 2 {
			key = toks[2]
		}
		switch {
		case strings.IndexByte(key, 0) >= 0:
			// heartbeat keeps keys as C strings: it would cut this one at
			// the NUL, and a mixed pair would then disagree on the key.
			return nil, nil, errf("the key of index %d holds a NUL byte (heartbeat would cut it there): use printable characters", idx)
		case m.NeedsKey() && key == "":
			return nil, nil, errf("%s needs a key: %d %s <key>", m, idx, m)
		case !m.NeedsKey() && key != "":
			return nil, nil, errf("crc takes no key (found %q)", key)
		}
		if len(toks) > 3 {
			warns = append(warns, Warning{File: file, Line: line,
				Msg: fmt.Sprintf("text after the key is ignored: the key is %q (keys are one word)", key)})
		}
		kr.Keys[idx] = wire.Key{Method: m, Secret: key}
		if m == wire.CRC {
			crcLines[idx] = line
		}
	}
	if kr.Send < 0 {
		return nil, nil, &Error{File: file, Msg: "no auth line: want auth <index>"}
	}
	if _, ok := kr.Lookup(kr.Send); !ok {
		return nil, nil, &Error{File: file, Line: sendLine, Msg: fmt.Sprintf("Auth Key [%d] not found", kr.Send)}
	}
	// heartbeat starts on crc without a word; a crc is a checksum anyone
	// can compute, so say so at its line. (Another index's crc is refused
	// on receive unless accept_any_auth_index is set: directord warns then.)
	if line := crcLines[kr.Send]; line > 0 {
		warns = append(warns, Warning{File: file, Line: line, Msg: fmt.Sprintf(
			"INSECURE: auth %d is crc, a checksum and not a signature: anyone who can send to the heartbeat link can forge packets (take the groups, hand them to a dead node); use sha1 with a secret", kr.Send)})
	}
	return kr, warns, nil
}
