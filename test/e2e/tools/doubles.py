#!/usr/bin/env python3
"""Explain stretches with two holders: the address events around each and
the directors' log lines (but real server lines) from 2 s before to 1 s
after, for the first 5 stretches.

    doubles.py ADDR NODE[=HELD0]:MON_LOG:HA_LOG...

HELD0 (0 or 1, as holders.py's) says whether the node held ADDR when its
monitor started: the monitor logs only changes.
"""
import re
import sys
from datetime import datetime, timezone

ADDR = re.compile(r"^\[([0-9T:.-]+)\] (Deleted )?.*\binet6? ([0-9a-fA-F:.]+)/")
HA = re.compile(r"^time=(\S+) ")


def ms(stamp):
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000.0


def main(argv):
    addr, nodes = argv[1], [a.split(":") for a in argv[2:]]
    evs, logs, held = [], [], {}
    for spec, mon, ha in nodes:
        node, _, h0 = spec.partition("=")
        held[node] = h0 == "1"
        for line in open(mon, errors="replace"):
            m = ADDR.match(line)
            if m and m.group(3) == addr:
                evs.append((ms(m.group(1)), node, m.group(2) is None))
        for line in open(ha, errors="replace"):
            m = HA.match(line)
            if m and "real server" not in line and "Real server" not in line:
                logs.append((ms(m.group(1)), node, line.rstrip()[:220]))
    evs.sort()
    start, shown = None, 0
    for t, node, up in evs:
        held[node] = up
        n = sum(held.values())
        if n >= 2 and start is None:
            start = t
        elif n < 2 and start is not None and shown >= 5:
            start = None
        elif n < 2 and start is not None:
            shown += 1
            print("two holders from %s for %d ms; address events:" % (
                datetime.fromtimestamp(start / 1000, timezone.utc).isoformat(), t - start))
            for e in evs:
                if start - 5000 <= e[0] <= t + 2000:
                    print("  %d %s %s" % (e[0] - start, e[1], "add" if e[2] else "del"))
            print("  logs:")
            for l in sorted(logs):
                if start - 2000 <= l[0] <= t + 1000:
                    print("  %d %s %s" % (l[0] - start, l[1], l[2]))
            start = None


if __name__ == "__main__":
    main(sys.argv)
