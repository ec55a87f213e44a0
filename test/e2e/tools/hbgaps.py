#!/usr/bin/python3
"""Heartbeat gaps on the wire, for the heartbeat-gap test.

  hbgaps.py IFACE SRC_IP SECONDS LIMIT_MS

Reads IFACE with a packet socket for SECONDS and takes the kernel's receive
time (SO_TIMESTAMPNS) of every UDP/694 datagram from SRC_IP whose payload
is a status message ("t=status"): the heartbeats, which the sender's loop
sends every keepalive. Prints one line

  status=N max_gap_ms=M gaps_over=K first_ms=F

(K is the number of intervals longer than LIMIT_MS; F the time from start
to the first one) and, for each such gap, "gap START_MS LEN_MS" from the
start of the capture. Exit 0 whatever it saw; the caller judges.
"""
import socket
import struct
import sys
import time

SO_TIMESTAMPNS = 35


def main():
    iface, src, seconds, limit = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.bind((iface, 0))
    s.settimeout(0.5)
    want = socket.inet_aton(src)
    t0 = time.time()
    end = t0 + seconds
    stamps = []
    while time.time() < end:
        try:
            frame, anc, _, _ = s.recvmsg(65535, 64)
        except socket.timeout:
            continue
        ip = frame[14:]
        if len(ip) < 28 or ip[9] != 17 or ip[12:16] != want:
            continue
        ihl = (ip[0] & 0x0F) * 4
        if struct.unpack("!H", ip[ihl + 2:ihl + 4])[0] != 694:
            continue
        p = ip[ihl + 8:]
        # classic (">>>\nt=status\n") or netstring ("11:(0)t=status,")
        if b"\nt=status\n" not in p and b")t=status," not in p:
            continue
        ts = time.time()
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = struct.unpack("qq", data[:16])
                ts = sec + nsec / 1e9
        stamps.append(ts)
    gaps = [(a - t0, (b - a) * 1000) for a, b in zip(stamps, stamps[1:])]
    over = [(a, g) for a, g in gaps if g > limit]
    first = (stamps[0] - t0) * 1000 if stamps else -1
    print("status=%d max_gap_ms=%d gaps_over=%d first_ms=%d" % (
        len(stamps), max([g for _, g in gaps] or [0]), len(over), first))
    for a, g in over:
        print("gap %d %d" % (a * 1000, g))


if __name__ == "__main__":
    main()
