#!/usr/bin/python3
"""switch_probe: tries one TCP connection after another from a pod's
network namespace, to time a switch between pass and drop.

    switch_probe.py ADDR PORT OUT [--gap-ms 5] [--timeout-ms 100] [--stop FILE]

Writes one line per attempt to OUT: "START_NS OK" (CLOCK_REALTIME
nanoseconds when the attempt started, 1 when the handshake completed,
0 when it timed out or failed).  Runs until FILE exists (or SIGTERM),
then exits 0.  The caller reads the switch from OUT with
`switch_probe.py --when OUT T0_NS drop|pass`: the start of the first
attempt after the last one of the other kind, minus T0, in ms ("none"
when the last attempt is not of that kind yet).  A spurious timeout
before the switch does not count: only attempts after the last success
(for drop) do.
"""
import os
import signal
import socket
import sys
import time


def when(path, t0, kind):
    want = 0 if kind == "drop" else 1
    rows = [tuple(map(int, l.split())) for l in open(path) if l.strip()]
    rows = [r for r in rows if r[0] >= t0]
    if not rows or rows[-1][1] != want:
        return "none"
    i = len(rows) - 1
    while i > 0 and rows[i - 1][1] == want:
        i -= 1
    return "%.1f" % ((rows[i][0] - t0) / 1e6)


def main():
    a = sys.argv[1:]
    if a and a[0] == "--when":
        print(when(a[1], int(a[2]), a[3]))
        return 0
    addr, port, out = a[0], int(a[1]), a[2]
    gap, timeout, stop = 0.005, 0.1, None
    i = 3
    while i < len(a):
        if a[i] == "--gap-ms":
            gap = float(a[i + 1]) / 1000
        elif a[i] == "--timeout-ms":
            timeout = float(a[i + 1]) / 1000
        elif a[i] == "--stop":
            stop = a[i + 1]
        i += 2
    running = [True]
    signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))
    f = open(out, "w", buffering=1)
    while running[0] and not (stop and os.path.exists(stop)):
        t = time.time_ns()
        s = socket.socket()
        s.settimeout(timeout)
        try:
            s.connect((addr, port))
            ok = 1
        except OSError:
            ok = 0
        # (a reset, not a FIN: no TIME_WAIT on either side)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
        f.write("%d %d\n" % (t, ok))
        time.sleep(gap)
    return 0


if __name__ == "__main__":
    sys.exit(main())
