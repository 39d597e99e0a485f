#!/usr/bin/env python3
"""A stand-in for the agent's control socket, for integration.cli_status.

    status_server.py SOCKET ANSWER_FILE

Serves HTTP/1.1 on the Unix socket SOCKET.  Every request reads
ANSWER_FILE afresh, so the test changes the answer without a restart:
its first line is "STATUS CONTENT_TYPE", the rest the body.  Records each
request line in SOCKET.log.  Runs until killed.
"""
import http.server
import os
import socketserver
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        with open(sys.argv[2], "rb") as f:
            head, _, body = f.read().partition(b"\n")
        status, ctype = head.decode().split(" ", 1)
        with open(sys.argv[1] + ".log", "a") as log:
            log.write(self.requestline + "\n")
        self.send_response(int(status))
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

    def address_string(self):
        return "unix"


class Server(socketserver.UnixStreamServer):
    def get_request(self):
        conn, _ = super().get_request()
        return conn, ("unix", 0)


if os.path.exists(sys.argv[1]):
    os.unlink(sys.argv[1])
Server(sys.argv[1], Handler).serve_forever()
