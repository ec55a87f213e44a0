package director

import (
	"fmt"
	"os"
	"path/filepath"
)

var ptDumpN int

func ptDumpSrc(kind string, line int, src string) {
	dir := os.Getenv("PT_DUMP")
	if dir == "" {
		return
	}
	ptDumpN++
	os.WriteFile(filepath.Join(dir, fmt.Sprintf("%04d_%s_%d.cf", ptDumpN, kind, line)), []byte(src), 0o644)
}
