#!/usr/bin/env python3
"""What a flapping real's checks should have done, against what was done.

    flapjudge.py CHECKLOG FAILURECOUNT LDLOG REAL

CHECKLOG is flapreal.py's log of the health answers the director got, in
order. Replayed with ldirectord's rule (one success brings a real up and
resets its failures; FAILURECOUNT failures in a row take it down; a real
starts down) it gives the transitions the director should have made.
LDLOG is ldirectord's log: its "Quiescent/Restored/Added/Deleted real
server: REAL" lines are the kernel writes it made for that real. Prints
one line of key=value figures:

    checks  ok  failed   health answers logged
    fail_runs_max        the longest run of failed answers
    want_down want_up    transitions the rule gives
    got_down  got_up     weight-0 writes / writes giving it weight
    added0               writes adding it at weight 0 (a quiescent real
                         enters the table so): not transitions
    churn                every kernel write for the real (deletes at stop
                         included)
"""
import re
import sys

checklog, fc, ldlog, real = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
codes = [int(l.split()[1]) for l in open(checklog) if len(l.split()) == 2]
up, fails, run, runmax = False, 0, 0, 0
want_down = want_up = 0
for c in codes:
    if c == 200:
        run = 0
        fails = 0
        if not up:
            up, want_up = True, want_up + 1
        continue
    run += 1
    runmax = max(runmax, run)
    if up:
        fails += 1
        if fails >= max(fc, 1):
            up, want_down = False, want_down + 1
got_down = got_up = churn = added0 = 0
pat = re.compile(r"(Quiescent|Restored|Added|Deleted) real server: %s \(.*\(Weight set to (\d+)\)|(Deleted) real server: %s " % (re.escape(real), re.escape(real)))
for line in open(ldlog, errors="replace"):
    m = pat.search(line)
    if not m:
        continue
    churn += 1
    if m.group(1) == "Added" and m.group(2) == "0":
        added0 += 1
        continue  # a quiescent real enters the table at weight 0: not a transition
    if m.group(3):
        continue  # removed with its virtual at stop (cleanstop): quiescent=yes never deletes on a failure
    if m.group(2) == "0":
        got_down += 1
    else:
        got_up += 1
print("checks=%d ok=%d failed=%d fail_runs_max=%d want_down=%d want_up=%d got_down=%d got_up=%d added0=%d churn=%d" % (
    len(codes), codes.count(200), len(codes) - codes.count(200), runmax, want_down, want_up, got_down, got_up, added0, churn))
