#!/usr/bin/env python3
"""hb_verdicts_merge.py LOG: copy the VERDICT and IPADDR rows that
hb_verdicts.sh printed (in LOG, e.g. build/e2e.log) into
failover/haconf/testdata/hacf_verdicts.tsv (heartbeat's verdict and message
columns) and failover/haconf/testdata/ipaddr_verdicts.tsv (the IPaddr
readings; the "ours" column of an existing row is kept)."""
import os
import re
import sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")
td = os.path.join(root, "failover", "haconf", "testdata")
noise = re.compile(r"Cannot chdir to \[/var/lib/heartbeat/cores\]|No Previous generation")
verdicts, ipaddr = {}, []
for line in open(sys.argv[1], errors="replace"):
    f = line.rstrip("\n").split("\t")
    if f[0] == "VERDICT" and len(f) == 4:
        v, msg = f[2], f[3]
        if v == "starts" and noise.search(msg):
            msg = "-"
        verdicts[f[1]] = (v, msg)
    elif f[0] == "IPADDR" and len(f) == 5:
        addrs = ",".join(a for a in f[3].split(",") if not a.startswith("lo "))
        ipaddr.append((f[1], f[2], addrs or "-", f[4]))

p = os.path.join(td, "hacf_verdicts.tsv")
out, missing = [], []
for line in open(p):
    f = line.rstrip("\n").split("\t")
    if line.startswith("#") or len(f) != 7:
        out.append(line)
        continue
    if f[0] in verdicts:
        f[5], f[6] = verdicts[f[0]]
    else:
        missing.append(f[0])
    out.append("\t".join(f) + "\n")
open(p, "w").write("".join(out))
if missing:
    print("no verdict for:", " ".join(missing))

p = os.path.join(td, "ipaddr_verdicts.tsv")
ours = {}
if os.path.exists(p):
    for line in open(p):
        f = line.rstrip("\n").split("\t")
        if not line.startswith("#") and len(f) == 5:
            ours[f[0]] = f[4]
if ipaddr:
    with open(p, "w") as w:
        w.write("# heartbeat's IPaddr wrapper (resource-agents 4.12) on `IPaddr ARG start` in the test VM\n")
        w.write("# (dummy eth0 10.9.0.1/24), by test/e2e/tools/hb_verdicts.sh. Columns: argument, exit\n")
        w.write("# status, the address it configured (iface addr/bits broadcast), its message, and ours\n")
        w.write("# (- same reading; stricter: refused here, see the reason).\n")
        for a, rc, addrs, msg in ipaddr:
            w.write("\t".join([a, rc, addrs, msg, ours.get(a, "-")]) + "\n")
print(len(verdicts), "verdicts,", len(ipaddr), "IPaddr rows")
