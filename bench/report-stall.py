#!/usr/bin/env python3
"""report-stall.py SOCKET OUT [RUNS]: GET /report on the agent's control
socket RUNS times (default 1), the body of the last into OUT, while GET
/healthz is asked on the same socket again and again (a new connection
each, 5 ms apart) for as long as the report takes: how long the agent's
loop keeps others waiting while it makes a report.  Prints one line per
run, "report_ms=N healthz_max_ms=N healthz_n=N status=N bytes=N"; exit 1
when a /report was not 200 (status 0: a body shorter than its
Content-Length) or no /healthz was answered during it.
"""
import socket
import sys
import threading
import time


def get(path, sock_path, timeout=120.0):
    """(status, body, seconds) of GET PATH, HTTP/1.0 (the server closes)."""
    t0 = time.monotonic()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    s.sendall(("GET %s HTTP/1.0\r\nHost: agent\r\n\r\n" % path).encode())
    chunks = []
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        chunks.append(b)
    s.close()
    dt = time.monotonic() - t0
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        # A body shorter than announced was cut: no answer.
        if name.strip().lower() == b"content-length" and int(value) != len(body):
            status = 0
    return status, body, dt


def run(sock_path, out):
    result = {}

    def report():
        result["status"], result["body"], result["dt"] = get("/report", sock_path)

    t = threading.Thread(target=report)
    t.start()
    lat = []
    while t.is_alive():
        st, _, dt = get("/healthz", sock_path)
        # One the report's answer overtook does not count: it measured
        # nothing of the report.
        if st == 200 and t.is_alive():
            lat.append(dt)
        time.sleep(0.005)
    t.join()
    with open(out, "wb") as f:
        f.write(result["body"])
    print("report_ms=%.0f healthz_max_ms=%.1f healthz_n=%d status=%d bytes=%d" % (
        result["dt"] * 1000, max(lat) * 1000 if lat else -1, len(lat), result["status"],
        len(result["body"])), flush=True)
    return result["status"] == 200 and lat


def main():
    sock_path, out = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    ok = True
    for _ in range(runs):
        ok = bool(run(sock_path, out)) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
