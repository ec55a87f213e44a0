package ipvs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Sysctls reads and writes the IPVS sysctls (net.ipv4.vs.*) of the network
// namespace the process runs in.
type Sysctls struct {
	Dir string // "" means /proc/sys/net/ipv4/vs; tests point it elsewhere
}

func (s Sysctls) path(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return "", fmt.Errorf("bad ipvs sysctl name %q", name)
	}
	dir := s.Dir
	if dir == "" {
		dir = "/proc/sys/net/ipv4/vs"
	}
	return filepath.Join(dir, name), nil
}

// Get returns the value of net.ipv4.vs.NAME, blanks folded to one space
// ("3\t50\n" reads "3 50").
func (s Sysctls) Get(name string) (string, error) {
	p, err := s.path(name)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("net.ipv4.vs.%s: %w", name, err)
	}
	return strings.Join(strings.Fields(string(b)), " "), nil
}

// Set writes value to net.ipv4.vs.NAME.
func (s Sysctls) Set(name, value string) error {
	p, err := s.path(name)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("net.ipv4.vs.%s: %w", name, err)
	}
	if _, err := f.WriteString(value + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("net.ipv4.vs.%s = %s: %w", name, value, err)
	}
	return f.Close()
}
