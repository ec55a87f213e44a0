#!/usr/bin/python3
"""A hostile HTTP real server, for the hostile-real test.

  hostile_http.py PORT...   serve on every PORT (all addresses)

Each port answers every request forever, by port number modulo 3:
  0  an endless status line ("HTTP/1.1 200 aaaa...")
  1  a status line, then endless headers ("X-A: b")
  2  a chunked 200 reply whose body never ends
It writes until the client closes the connection.
"""
import socket
import sys
import threading

HEADS = [
    (b"HTTP/1.1 200 ", b"a" * 65536),
    (b"HTTP/1.1 200 OK\r\n", b"X-A: b\r\n" * 8192),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
     (b"1000\r\n" + b"e" * 4096 + b"\r\n") * 16),
]


def serve_conn(conn, head, filler):
    try:
        conn.settimeout(30)
        req = b""
        while b"\r\n\r\n" not in req and len(req) < 65536:
            got = conn.recv(4096)
            if not got:
                return
            req += got
        conn.sendall(head)
        while True:
            conn.sendall(filler)
    except OSError:
        pass
    finally:
        conn.close()


def listen(port):
    head, filler = HEADS[port % 3]
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(64)
    while True:
        conn, _ = s.accept()
        print("conn", port, flush=True)
        threading.Thread(target=serve_conn, args=(conn, head, filler), daemon=True).start()


def main():
    ports = [int(p) for p in sys.argv[1:]]
    for p in ports:
        threading.Thread(target=listen, args=(p,), daemon=True).start()
    print("hostile on", ports, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
