#!/usr/bin/python3
"""Capture and replay heartbeat datagrams, for the replay test.

  hbcapture.py capture IFACE SRC_IP COUNT FILE   save COUNT UDP/694 payloads sent by SRC_IP
  hbcapture.py replay FILE DST_IP SECONDS        send them to DST_IP:694, over and over

Capture reads the interface with a packet socket, so it sees what crosses a
bridge port in flooding mode (ageing_time 0) without being a party to it.
Payloads are stored with a 4-byte big-endian length, like evidence/pkts.bin.
"""
import socket
import struct
import sys
import time


def capture(iface, src, count, path):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    s.bind((iface, 0))
    s.settimeout(30)
    want = socket.inet_aton(src)
    got = []
    while len(got) < count:
        frame = s.recv(65535)
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        if ip[9] != 17 or ip[12:16] != want:
            continue
        dport = struct.unpack("!H", ip[ihl + 2:ihl + 4])[0]
        if dport == 694:
            got.append(ip[ihl + 8:])
    with open(path, "wb") as f:
        for p in got:
            f.write(struct.pack("!I", len(p)) + p)
    print("captured %d datagrams" % len(got))


def replay(path, dst, seconds):
    data = open(path, "rb").read()
    pkts, i = [], 0
    while i < len(data):
        n = struct.unpack("!I", data[i:i + 4])[0]
        pkts.append(data[i + 4:i + 4 + n])
        i += 4 + n
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    end, sent = time.time() + seconds, 0
    while time.time() < end:
        for p in pkts:
            s.sendto(p, (dst, 694))
            sent += 1
        time.sleep(0.05)
    print("replayed %d datagrams" % sent)


if __name__ == "__main__":
    if sys.argv[1] == "capture":
        capture(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        replay(sys.argv[2], sys.argv[3], float(sys.argv[4]))
