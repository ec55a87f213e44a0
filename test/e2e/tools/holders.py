#!/usr/bin/env python3
"""Who held an address when, from `ip -ts monitor address` logs.

    holders.py ADDR T0_MS T_END_MS NODE=HELD0:LOG [NODE=HELD0:LOG ...] [--from MS]

Each LOG is the output of `ip -ts monitor address` in one director's
namespace, started before T0_MS; HELD0 (0 or 1) says whether the node held
ADDR when its monitor started. Between T0_MS and T_END_MS (wall clock, ms)
the script prints one line of key=value figures:

    double_ms      total time two or more nodes held ADDR
    double_max_ms  the longest such stretch
    none_ms        total time nobody held it, counted from --from (default T0)
    none_max_ms    the longest such stretch after --from
    first_ms       when somebody first held it, ms after T0_MS (-1: never)
    lost_ms        time nobody held it after that first moment
    final          the nodes holding it at T_END_MS (comma separated, or -)
    changes        how many add/delete events fell in the window
    double_n       how many stretches had two or more holders (longer
                   than --skew MS, default 0)
    double_skew_n  how many were no longer than --skew: `ip -ts monitor`
                   stamps an event when it reads it, in user space, so two
                   monitors on a loaded (emulated) box can disagree by a
                   few ms about the order of a release and an acquire
    none_over_n    how many stretches without a holder (after --from) were
                   longer than --gap MS (default 5000)

The kernel's own timestamps are used, so a slow shell does not blur them.
"""
import re
import sys
from datetime import datetime

LINE = re.compile(r"^\[([0-9T:.-]+)\] (Deleted )?.*\binet6? ([0-9a-fA-F:.]+)/")


def ms(stamp):
    return datetime.fromisoformat(stamp).timestamp() * 1000.0


def events(node, path, addr):
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            m = LINE.match(line)
            if m and m.group(3) == addr:
                out.append((ms(m.group(1)), node, m.group(2) is None))
    return out


def main(argv):
    start_none = None
    gap = 5000.0
    if "--gap" in argv:
        i = argv.index("--gap")
        gap = float(argv[i + 1])
        del argv[i : i + 2]
    skew = 0.0
    if "--skew" in argv:
        i = argv.index("--skew")
        skew = float(argv[i + 1])
        del argv[i : i + 2]
    if "--from" in argv:
        i = argv.index("--from")
        start_none = float(argv[i + 1])
        del argv[i : i + 2]
    addr, t0, t1 = argv[1], float(argv[2]), float(argv[3])
    held, evs = {}, []
    for spec in argv[4:]:
        node, rest = spec.split("=", 1)
        h0, path = rest.split(":", 1)
        held[node] = h0 == "1"
        evs += events(node, path, addr)
    evs.sort()
    if start_none is None:
        start_none = t0
    # Events before the window only set the starting state.
    while evs and evs[0][0] < t0:
        _, node, up = evs.pop(0)
        held[node] = up
    double = double_max = none = none_max = 0.0
    run_double = run_none = 0.0
    first, lost = (0.0 if any(held.values()) else None), 0.0
    changes = 0
    double_n = none_over_n = double_skew_n = 0
    prev_n = None
    t = t0

    def close_double():
        nonlocal run_double, double_n, double_skew_n
        if run_double > skew:
            double_n += 1
        elif run_double > 0:
            double_skew_n += 1
        run_double = 0.0
    for at, node, up in evs + [(t1, None, None)]:
        at = min(max(at, t0), t1)
        span = at - t
        n = sum(held.values())
        if span > 0:
            prev_n = n
        if n >= 2:
            double += span
            run_double += span
            double_max = max(double_max, run_double)
        elif span > 0 or node is None:
            close_double()
        lo = max(t, start_none)
        if n == 0 and at > lo:
            none += at - lo
            run_none += at - lo
            none_max = max(none_max, run_none)
        elif n != 0:
            if run_none > gap:
                none_over_n += 1
            run_none = 0.0
        if n == 0 and first is not None:
            lost += span
        t = at
        if node is None or at >= t1:
            break
        held[node] = up
        changes += 1
        if first is None and any(held.values()):
            first = at - t0
    close_double()
    if run_none > gap:
        none_over_n += 1
    final = ",".join(sorted(k for k, v in held.items() if v)) or "-"
    print(
        "double_ms=%d double_max_ms=%d none_ms=%d none_max_ms=%d first_ms=%d lost_ms=%d final=%s changes=%d double_n=%d double_skew_n=%d none_over_n=%d"
        % (double, double_max, none, none_max, -1 if first is None else first, lost, final, changes, double_n, double_skew_n, none_over_n)
    )


if __name__ == "__main__":
    main(sys.argv)
