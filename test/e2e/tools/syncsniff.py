#!/usr/bin/env python3
"""syncsniff.py IFNAME [GROUP [PORT]]: prints every IPVS connection sync
message (protocol version 1) that reaches the multicast group on the
interface IFNAME, one line per message:

    MS syncid=N conns=C CPORT:STATE CPORT:STATE ...

MS is the receive time in ms (CLOCK_REALTIME, as the tests' now_ms).
The kernel's backup socket shares the port (SO_REUSEADDR), so this only
listens beside it. To tell whether a master sent a connection at all."""
import socket
import struct
import sys
import time

ifname = sys.argv[1]
group = sys.argv[2] if len(sys.argv) > 2 else "224.0.0.81"
port = int(sys.argv[3]) if len(sys.argv) > 3 else 8848
# The kernel's TCP states (ip_vs_tcp_state_name order).
STATES = ["NONE", "EST", "SYN_SENT", "SYN_RECV", "FIN_WAIT", "TIME_WAIT", "CLOSE",
          "CLOSE_WAIT", "LAST_ACK", "LISTEN", "SYNACK"]

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((group, port))
# struct ip_mreqn: group, local address (any), interface index.
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
             struct.pack("=4s4si", socket.inet_aton(group), socket.inet_aton("0.0.0.0"),
                         socket.if_nametoindex(ifname)))
while True:
    msg = s.recv(65536)
    ms = int(time.time() * 1000)
    if len(msg) < 8 or msg[0] != 0 or msg[5] != 1:
        print(f"{ms} not a version 1 message ({len(msg)} bytes)", flush=True)
        continue
    syncid, nconns = msg[1], msg[4]
    out, off = [], 8
    for _ in range(nconns):
        if off + 4 > len(msg):
            break
        ver_size = struct.unpack_from("!H", msg, off + 2)[0]
        size = ver_size & 0x0FFF
        if size < 28 or off + size > len(msg):
            out.append("?")
            break
        state, cport = struct.unpack_from("!HH", msg, off + 8)
        name = STATES[state] if state < len(STATES) else str(state)
        out.append(f"{cport}:{name}")
        off += (size + 3) & ~3  # entries are 32-bit aligned
    print(f"{ms} syncid={syncid} conns={nconns} {' '.join(out)}", flush=True)
