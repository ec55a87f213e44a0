#!/usr/bin/env python3
"""A real server whose health page flaps, on its own clock.

    flapreal.py ADDR PORT PERIOD_MS LOG

GET /test.html answers 200 "ok" during even periods of PERIOD_MS since the
start and 404 during odd ones, so the real is up and down in turn, each
for PERIOD_MS; any other path answers 200 (the client's traffic is always
served). Every health request is logged to LOG as "MS STATUS" (wall clock
ms), flushed at once, so a judge can replay the checks the director made.
"""
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

addr, port, period, logpath = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]) / 1000.0, sys.argv[4]
t0 = time.monotonic()
log = open(logpath, "a", buffering=1)
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.lstrip("/").startswith("test.html"):
            up = int((time.monotonic() - t0) / period) % 2 == 0
            code, body = (200, b"ok\n") if up else (404, b"down\n")
            with lock:
                log.write("%d %d\n" % (time.time() * 1000, code))
        else:
            code, body = 200, ("hello from %s:%d\n" % (addr, port)).encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer((addr, port), Handler).serve_forever()
