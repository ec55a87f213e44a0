package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// parseGeneration reads the hb_generation file's content as heartbeat's
// IncrGeneration does (sscanf "%lu": leading blanks, then decimal digits,
// anything after them ignored) and returns the generation to use next
// (the stored one plus one). Where heartbeat would wrap silently, to 0
// (which its peers then drop as a replay, and which this daemon refuses),
// or start again from 1, it is an error naming the file: a number that does
// not fit in 64 bits or cannot grow any more, or no number at all.
// Empty content is no generation yet (0): start from the time.
func parseGeneration(file string, b []byte) (uint64, error) {
	s := strings.TrimLeft(string(b), " \t\r\n\v\f")
	if s == "" {
		return 0, nil
	}
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	const fix = "remove it to start again from the current time (then restart the peer too: it takes a lower generation for a replay)"
	if n == 0 {
		return 0, fmt.Errorf("%s: %q is not a generation number (decimal digits); %s", file, quoteStart(s), fix)
	}
	g, perr := strconv.ParseUint(s[:n], 10, 64)
	if perr != nil || g == math.MaxUint64 {
		return 0, fmt.Errorf("%s: generation %s is too large to grow (the largest is %d); %s", file, quoteStart(s[:n]), uint64(math.MaxUint64-1), fix)
	}
	return g + 1, nil
}

// quoteStart shortens what an error shows of the file.
func quoteStart(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
