#!/usr/bin/env python3
"""loop_probe.py SOCKET OUT: how long the agent's event loop keeps a client
waiting.  Asks GET /healthz on the agent's unix socket over and over (a new
connection each time, every INTERVAL_MS, default 2) until SIGTERM or SIGINT
and writes one line per answer to OUT: "START_NS LATENCY_MS STATUS"
(START_NS CLOCK_REALTIME).  The agent answers from its one loop thread, so
the longest latency is, within a few milliseconds, the longest loop turn
while the probe ran; unlike curl from a shell there is no process start in
the figure.  Used by tests/integration/agent_enforce_big.sh and
bench/bench-agent-events.sh."""
import os
import signal
import socket
import sys
import time

stop = False


def on_signal(signum, frame):
    global stop
    stop = True


def ask(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    try:
        s.connect(path)
        s.sendall(b"GET /healthz HTTP/1.0\r\nHost: agent\r\n\r\n")
        data = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            data += b
    finally:
        s.close()
    line = data.split(b"\r\n", 1)[0].split()
    return line[1].decode() if len(line) > 1 else "000"


def main():
    path, out = sys.argv[1], sys.argv[2]
    interval = float(os.environ.get("INTERVAL_MS", "2")) / 1e3
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with open(out, "w", buffering=1) as f:
        while not stop:
            t0 = time.time_ns()
            m0 = time.monotonic()
            try:
                code = ask(path)
            except OSError:
                code = "000"
            f.write("%d %.3f %s\n" % (t0, (time.monotonic() - m0) * 1e3, code))
            time.sleep(interval)


if __name__ == "__main__":
    main()
