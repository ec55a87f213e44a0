#!/usr/bin/env python3
"""keepalive.py HOST SECONDS [INTERVAL]: one keep-alive HTTP/1.1 connection
to HOST:80, a GET / every INTERVAL seconds (default 0.5) for SECONDS.
Prints "ok N requests on one connection" and exits 0 when every request was
answered on the same connection; exits 1 at the first reset, timeout,
close or reconnection (http.client would reconnect silently)."""
import http.client
import sys
import time

host, secs = sys.argv[1], float(sys.argv[2])
interval = float(sys.argv[3]) if len(sys.argv) > 3 else 0.5
conn = http.client.HTTPConnection(host, 80, timeout=10)
n, local = 0, None
end = time.monotonic() + secs
try:
    while True:
        conn.request("GET", "/", headers={"Connection": "keep-alive"})
        r = conn.getresponse()
        body = r.read()
        if r.status != 200 or not body.startswith(b"hello"):
            print(f"FAIL request {n + 1}: status {r.status} body {body[:40]!r}")
            sys.exit(1)
        if conn.sock is None:
            print(f"FAIL request {n + 1}: the server closed the connection")
            sys.exit(1)
        name = conn.sock.getsockname()
        if local is None:
            local = name
        elif name != local:
            print(f"FAIL request {n + 1}: reconnected ({local} -> {name})")
            sys.exit(1)
        n += 1
        if time.monotonic() >= end:
            break
        time.sleep(interval)
except Exception as e:  # reset, timeout, refused
    print(f"FAIL request {n + 1}: {type(e).__name__}: {e}")
    sys.exit(1)
print(f"ok {n} requests on one connection {local}")
