#!/usr/bin/env python3
"""The demo's application (examples/demo/run.sh): each pod of
examples/demo/shop.yaml runs one role of this file in its network namespace.

    app.py serve dns|database|cache|api|frontend --hosts FILE --dns IP
    app.py shop PATH --hosts FILE --dns IP      the customer: one request
    app.py connect ADDR PORT [--timeout S]      one TCP connection attempt

A customer's request to the frontend (TCP 80) goes to the api (TCP 8080),
which reads the database (TCP 5432) and the cache (TCP 6379); every name is
looked up first with the DNS pod (UDP 53), as a pod asks CoreDNS.  The path
/cart is the shop's new feature: the frontend also reads the cache itself, a
connection nobody made while Bulkhead was learning.  Every answer is one
line; a request succeeds when its answer starts with "ok".  Only addresses
of the HOSTS file (the demo's pods) are ever contacted."""
import argparse
import socket
import socketserver
import sys

TIMEOUT = 3.0


def hosts_read(path):
    """name -> address, from "NAME ADDRESS" lines."""
    hosts = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2:
                hosts[parts[0]] = parts[1]
    return hosts


def resolve(name, dns):
    """Asks the DNS pod for @name over UDP 53."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(TIMEOUT)
        s.sendto(name.encode(), (dns, 53))
        addr = s.recv(512).decode().strip()
    if not addr or addr == "NXDOMAIN":
        raise OSError(f"DNS: no such name '{name}'")
    return addr


def ask(name, port, line, dns):
    """One request line to service @name: its answer line."""
    addr = resolve(name, dns)
    with socket.create_connection((addr, port), timeout=TIMEOUT) as s:
        s.sendall(line.encode() + b"\n")
        return s.makefile().readline().strip()


def call(what, name, port, line, dns):
    try:
        return ask(name, port, line, dns)
    except OSError as e:
        return f"error: {what} ({name}:{port}) unreachable: {e or 'timeout'}"


def answer(role, line, dns):
    """What the server of @role answers to request @line."""
    if role == "database":
        return "ok 3 products"
    if role == "cache":
        return "ok cart of 2 items"
    if role == "api":
        db = call("database", "database.shop", 5432, "SELECT * FROM products", dns)
        cache = call("cache", "cache.shop", 6379, "GET cart", dns)
        if db.startswith("ok") and cache.startswith("ok"):
            return f"ok api: {db[3:]}, {cache[3:]}"
        return f"error: api: {db if not db.startswith('ok') else cache}"
    if role == "frontend":
        api = call("api", "api.shop", 8080, "GET " + line, dns)
        if not api.startswith("ok"):
            return api
        if line.startswith("/cart"):
            cart = call("cache", "cache.shop", 6379, "GET cart", dns)
            if not cart.startswith("ok"):
                return cart
            return f"ok frontend {line}: {api[3:]}; cart read directly: {cart[3:]}"
        return f"ok frontend {line}: {api[3:]}"
    return "error: unknown role"


def serve(args):
    if args.role == "dns":
        hosts = hosts_read(args.hosts)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("0.0.0.0", 53))
            while True:
                name, peer = s.recvfrom(512)
                s.sendto(hosts.get(name.decode().strip(), "NXDOMAIN").encode(), peer)
    port = {"database": 5432, "cache": 6379, "api": 8080, "frontend": 80}[args.role]

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            line = self.rfile.readline().decode().strip()
            self.wfile.write((answer(args.role, line, args.dns) + "\n").encode())

    socketserver.ThreadingTCPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer.daemon_threads = True
    with socketserver.ThreadingTCPServer(("0.0.0.0", port), Handler) as srv:
        srv.serve_forever()


def shop(args):
    reply = call("frontend", "frontend.shop", 80, args.path, args.dns)
    print(reply)
    return 0 if reply.startswith("ok") else 1


def connect(args):
    try:
        with socket.create_connection((args.addr, args.port), timeout=args.timeout):
            print(f"connected to {args.addr}:{args.port}")
            return 0
    except socket.timeout:
        print(f"no answer from {args.addr}:{args.port} after {args.timeout:g} s: "
              "the connection was dropped")
    except OSError as e:
        print(f"cannot connect to {args.addr}:{args.port}: {e.strerror}")
    return 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("role", choices=["dns", "database", "cache", "api", "frontend"])
    s.add_argument("--hosts", required=True)
    s.add_argument("--dns", required=True)
    c = sub.add_parser("shop")
    c.add_argument("path")
    c.add_argument("--hosts", required=True)
    c.add_argument("--dns", required=True)
    k = sub.add_parser("connect")
    k.add_argument("addr")
    k.add_argument("port", type=int)
    k.add_argument("--timeout", type=float, default=TIMEOUT)
    args = p.parse_args()
    if args.cmd == "serve":
        serve(args)
        return 0
    return shop(args) if args.cmd == "shop" else connect(args)


if __name__ == "__main__":
    sys.exit(main())
