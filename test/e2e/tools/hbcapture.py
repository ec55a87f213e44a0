#!/usr/bin/python3
"""Capture, replay, inspect and forge heartbeat datagrams, for the e2e tests.

  hbcapture.py capture IFACE SRC_IP COUNT FILE   save COUNT UDP/694 payloads sent by SRC_IP
  hbcapture.py record IFACE SRC_IP FILE          save every one until SIGTERM
  hbcapture.py replay FILE DST_IP SECONDS [GAP]  send them to DST_IP:694, over and over
                                                 (GAP seconds between packets, 0.05 s between rounds)
  hbcapture.py summary FILE                      count the messages by type (resource and
                                                 ask_resources with isstable / rsc_hold / info)
  hbcapture.py send DST_IP INDEX KEY NAME=VALUE...
                                                 send one classic message signed with
                                                 HMAC-SHA1(KEY) as authkeys index INDEX

Capture reads the interface with a packet socket, so it sees what crosses a
bridge port in flooding mode (ageing_time 0) without being a party to it.
Payloads are stored with a 4-byte big-endian length, like evidence/pkts.bin.
"""
import hashlib
import hmac
import re
import socket
import struct
import sys
import time


def _packets(iface, src):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    s.bind((iface, 0))
    want = socket.inet_aton(src)
    while True:
        frame = s.recv(65535)
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        if ip[9] != 17 or ip[12:16] != want:
            continue
        dport = struct.unpack("!H", ip[ihl + 2:ihl + 4])[0]
        if dport == 694:
            yield ip[ihl + 8:]


def capture(iface, src, count, path):
    got = []
    for p in _packets(iface, src):
        got.append(p)
        if len(got) >= count:
            break
    with open(path, "wb") as f:
        for p in got:
            f.write(struct.pack("!I", len(p)) + p)
    print("captured %d datagrams" % len(got))


def record(iface, src, path):
    # Written as they come: SIGTERM (bg_stop) ends it without losing any.
    with open(path, "wb") as f:
        for p in _packets(iface, src):
            f.write(struct.pack("!I", len(p)) + p)
            f.flush()


def load(path):
    data = open(path, "rb").read()
    pkts, i = [], 0
    while i < len(data):
        n = struct.unpack("!I", data[i:i + 4])[0]
        pkts.append(data[i + 4:i + 4 + n])
        i += 4 + n
    return pkts


def replay(path, dst, seconds, gap=0.0):
    pkts = load(path)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    end, sent = time.time() + seconds, 0
    while time.time() < end:
        for p in pkts:
            s.sendto(p, (dst, 694))
            sent += 1
            if gap:
                time.sleep(gap)
        time.sleep(0.05)
    print("replayed %d datagrams" % sent)


def fields(p):
    """The string fields of a netstring or classic message, as a dict."""
    if p.startswith(b"###\n"):
        pairs = re.findall(rb"\d+:\(0\)([^=,]+)=([^,]*),", p)
    else:
        pairs = re.findall(rb"^([^=\n]+)=(.*)$", p, re.M)
    return {k.decode(): v.decode(errors="replace") for k, v in pairs}


def summary(path):
    counts = {}
    for p in load(path):
        f = fields(p)
        t = key = f.get("t", "?")
        for extra in ("rsc_hold", "isstable", "info"):
            if t in ("resource", "ask_resources") and extra in f:
                key += " %s=%s" % (extra, f[extra])
        counts[key] = counts.get(key, 0) + 1
    for k in sorted(counts):
        print("%5d %s" % (counts[k], k))


def send(dst, index, key, kv):
    body = "".join(x + "\n" for x in kv)
    digest = hmac.new(key.encode(), body.encode(), hashlib.sha1).hexdigest()
    msg = ">>>\n" + body + "auth=%s %s\n<<<\n" % (index, digest)
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(msg.encode(), (dst, 694))


if __name__ == "__main__":
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "capture":
        capture(a[0], a[1], int(a[2]), a[3])
    elif cmd == "record":
        record(a[0], a[1], a[2])
    elif cmd == "replay":
        replay(a[0], a[1], float(a[2]), float(a[3]) if len(a) > 3 else 0.0)
    elif cmd == "summary":
        summary(a[0])
    elif cmd == "send":
        send(a[0], a[1], a[2], a[3:])
    else:
        sys.exit("unknown command " + cmd)
