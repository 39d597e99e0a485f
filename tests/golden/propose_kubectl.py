#!/usr/bin/python3
"""A discovery-only stand-in for an API server, so that
`kubectl apply --dry-run=client` can parse files on a machine with no
cluster: kubectl must map kinds to resources through discovery, and apply
GETs each object to choose between create and patch.  This answers
discovery for v1 and networking.k8s.io/v1 and 404 Not Found for every
object, so kubectl decodes each document, maps it and reports
"created (dry run)" without anything being stored.  Listens on 127.0.0.1,
an ephemeral port written to the file named by argv[1]."""
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

GROUPS = {"kind": "APIGroupList", "apiVersion": "v1", "groups": [{
    "name": "networking.k8s.io",
    "versions": [{"groupVersion": "networking.k8s.io/v1", "version": "v1"}],
    "preferredVersion": {"groupVersion": "networking.k8s.io/v1", "version": "v1"}}]}
NETRES = {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "networking.k8s.io/v1",
          "resources": [{"name": "networkpolicies", "singularName": "networkpolicy",
                         "namespaced": True, "kind": "NetworkPolicy",
                         "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                         "shortNames": ["netpol"]}]}
CORE = {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
    {"name": "namespaces", "singularName": "namespace", "namespaced": False, "kind": "Namespace",
     "verbs": ["get", "list"]}]}
ROUTES = {"/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
          "/api/v1": CORE, "/apis": GROUPS, "/apis/networking.k8s.io/v1": NETRES}

class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_GET(self):
        path = self.path.split("?")[0]
        body, code = ROUTES.get(path), 200
        if body is None:
            code = 404
            body = {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "reason": "NotFound", "code": 404, "message": "not found"}
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

srv = HTTPServer(("127.0.0.1", 0), H)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
srv.serve_forever()
