#!/usr/bin/env python3
"""Explain stretches with two holders: each one that the directors' own
log lines order (the release logged done before the acquisition began) is
named in one line; for the first 5 others, the address events around it
and the directors' log lines (but real server lines) from 2 s before to
1 s after. Ends with "doubles=N ordered=K unproven=M".

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
    logs.sort()
    start, adder, shown = None, None, 0
    n_all = n_ordered = 0
    for t, node, up in evs:
        held[node] = up
        n = sum(held.values())
        if n >= 2 and start is None:
            start, adder = t, node
        elif n < 2 and start is not None:
            n_all += 1
            why = ordered(logs, addr, adder, node, start, t)
            if why:
                n_ordered += 1
                print("two holders from %s for %d ms by the monitors; the logs order it: %s" % (
                    iso(start), t - start, why))
            elif shown < 5:
                shown += 1
                print("two holders from %s for %d ms; address events:" % (iso(start), t - start))
                for e in evs:
                    if start - 5000 <= e[0] <= t + 2000:
                        print("  %d %s %s" % (e[0] - start, e[1], "add" if e[2] else "del"))
                print("  logs:")
                for l in logs:
                    if start - 2000 <= l[0] <= t + 1000:
                        print("  %d %s %s" % (l[0] - start, l[1], l[2]))
            start = None
    print("doubles=%d ordered=%d unproven=%d" % (n_all, n_ordered, n_all - n_ordered))


def iso(t):
    return datetime.fromtimestamp(t / 1000, timezone.utc).isoformat()


def ordered(logs, addr, adder, deleter, start, end):
    """The directors' own log lines (one clock, ms) prove a stretch that the
    monitors show is not real when the deleter logged its address resource
    stopped (after the kernel acknowledged the delete) before the adder
    logged the start of its standby acquisition (before it asked for the
    add): the monitors stamp events when they read them, so one of them
    read late. Returns the reason, or "" when the logs do not prove it."""
    res = "::%s/" % addr
    win = [l for l in logs if start - 2000 <= l[0] <= end + 1000]
    stopped = [l[0] for l in win if l[1] == deleter and "resource stopped" in l[2] and res in l[2]]
    started = [l[0] for l in win if l[1] == adder and "resource started" in l[2] and res in l[2]]
    if not stopped or not started:
        return ""
    acq = [l[0] for l in win if l[1] == adder and l[0] <= started[0]
           and ("standby: acquire" in l[2] or "standby: taking" in l[2])]
    if not acq or not stopped[-1] < acq[-1] or stopped[-1] > started[0]:
        return ""
    return "%s stopped it %d ms before %s began acquiring (%s started it %d ms later)" % (
        deleter, acq[-1] - stopped[-1], adder, adder, started[0] - acq[-1])


if __name__ == "__main__":
    main(sys.argv)
