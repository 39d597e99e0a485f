#!/usr/bin/python3
"""A test Kubernetes API server speaking the real wire protocol.

Backed by a directory of objects (JSON or YAML files holding objects or
Lists; the state is saved back to DIR/.state.json on SIGTERM and read on
start, so a restarted server keeps its objects and resourceVersions), over
TLS on --address (default 127.0.0.1) with bearer tokens read from a file on
every request (so rotation can be tested) or a client certificate signed by
the CA.  store.py holds the objects, crd.py the CustomResourceDefinitions.

Protocol: discovery (/version, /api, /apis, /api/v1, /apis/G, /apis/G/V), get,
list with limit/continue, fieldSelector (any field: metadata.name, spec.nodeName)
and labelSelector (=, !=, exists, in, notin) on list and watch, watch with
chunked transfer encoding (one JSON event per line), resourceVersion,
allowWatchBookmarks, timeoutSeconds, 410 Gone for a compacted resourceVersion
(an ERROR event, as the real server sends), Table output for kubectl,
create/update/merge-patch/json-patch/delete,
resourceVersion preconditions (409 Conflict), metadata.generation.

Resources: namespaces, pods, nodes, networkpolicies, coordination.k8s.io/v1
leases (namespaced, no status subresource), and
apiextensions.k8s.io/v1 customresourcedefinitions.  A stored CRD (POST, the
control put, a file in --dir, --crd-file FILE) registers its resource as the
real server does: its group, every served version (each a store of its own,
no conversion), plural/singular/kind/listKind/shortNames/categories, scope
(Cluster or Namespaced), the additionalPrinterColumns Table output evaluates
(simple JSONPath: .spec.mode, .a[0].b, .a[*]; dates as ages), and the status
subresource: with one, create drops status, writes to the main resource keep
the stored status and writes to /status keep everything else; without one,
/status is 404 and main writes change everything.  Deleting the CRD deletes
its objects and unregisters it.  --crd G/V/PLURAL/KIND registers a namespaced
resource the older, lenient way (main writes keep a status they omit).

Fault hooks: POST /_control (no auth, loopback tests only) with a JSON body:
  {"op": "put", "object": {...}}            create or replace, one event
  {"op": "delete", "resource": "pods", "group": "", "namespace": NS, "name": N,
   "silent": bool}                          silent: no event (lost to compaction)
  {"op": "dump"}                            {"rv": N, "objects": {"G/V/R": {"ns/name": rv}}}
  {"op": "fault", "fault": F, ...}          F is one of
      drop        every watch stream writes half of its next event and closes
      gone        every watch stream sends an ERROR 410 event; history compacted
      gone_http   the next "count" watch requests answer HTTP 410
      malformed   every watch stream sends one malformed line
      huge        every watch stream sends one line of "bytes" (default 100 MB)
      stall       every watch stream sends nothing for "seconds"
      restart     close every watch stream and forget the history (a restarted
                  apiserver whose watch cache starts at the current revision)
      conflict    the next "count" writes answer 409 Conflict
      write_status  the next "count" writes answer HTTP "status" (500, 429, 503...)
                  Both take optional filters: only writes of "resource" (a plural,
                  or "PLURAL/status" for status writes only) by "verb" (create,
                  update, patch, delete) count and answer so.
  {"op": "stats"}                           counters (401s, watches, lists, faults):
                                            writes_by {"PLURAL[/status]": {VERB: n}},
                                            writes_by_object {"PLURAL[/status]":
                                            {"[NS/]NAME": n}}, faulted, pending_faults
  {"op": "bench_touch", "namespace": NS, "name": N}
                                            modifies a pod, stamping the annotation
                                            bench/sent-ns with the time of sending
  {"op": "put_many", "objects": [...]}      create or replace each, one event each,
                                            all at once (a burst)
  An object put with the annotation bench/sent-ns "pending" (ADDED or MODIFIED)
  is stamped with the time its event is written to a watch stream; with
  --sent-log FILE, "NS/NAME TIME_NS" is appended to FILE as well.

OpenAPI (--openapi-dir DIR, tests/data/openapi): DIR's OpenAPI v3 documents
and one of each stored CRD's group and version (its openAPIV3Schema) at
/openapi/v3 and /openapi/v3/apis/G/V, the same schemas as the protobuf
/openapi/v2 that kubectl's client-side validation reads, and every resource
DIR's documents have a PATCH operation for served
(integration.manifests_kubectl).
"""

import argparse
import base64
import bisect
import copy
import hashlib
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# The server's own modules: no __pycache__ in the source tree.
sys.dont_write_bytecode = True
import crd  # noqa: E402
from store import Conflict, State, json_patch, merge_patch, selector, status  # noqa: E402

STATE = None
ARGS = None


def host_port():
    host = "[%s]" % ARGS.address if ":" in ARGS.address else ARGS.address
    return "%s:%d" % (host, ARGS.port)


def parse_path(path):
    """Returns (resource, namespace, name, subresource) or raises KeyError."""
    seg = [s for s in path.split("/") if s]
    if seg[:2] == ["api", "v1"]:
        g, v, rest = "", "v1", seg[2:]
    elif len(seg) >= 3 and seg[0] == "apis":
        g, v, rest = seg[1], seg[2], seg[3:]
    else:
        raise KeyError(path)
    ns = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        ns, rest = rest[1], rest[2:]
    if not rest:
        raise KeyError(path)
    r = STATE.res.get((g, v, rest[0]))
    if r is None or (ns is not None and not r.namespaced):
        raise KeyError(path)
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if len(rest) > 3 or sub not in (None, "status") or (sub and r.status_sub is False):
        raise KeyError(path)
    return r, ns, name, sub


def table_for(r, objs_enc, rv, cont=None, remaining=None, include_header=True):
    rows = []
    for enc in objs_enc:
        obj = json.loads(enc)
        md = obj["metadata"]
        cells = [md["name"]]
        if r.columns is not None:
            cells += crd.row_cells(r, obj)
        elif r.plural == "pods":
            cells += [obj.get("status", {}).get("phase", ""),
                      obj.get("status", {}).get("podIP", ""),
                      obj.get("spec", {}).get("nodeName", "")]
        if r.columns is None:
            cells.append(md.get("creationTimestamp", ""))
        rows.append({"cells": cells, "object": {
            "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": md}})
    cols = [{"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0}]
    if r.plural == "pods":
        cols += [{"name": "Status", "type": "string", "format": "", "description": "", "priority": 0},
                 {"name": "IP", "type": "string", "format": "", "description": "", "priority": 1},
                 {"name": "Node", "type": "string", "format": "", "description": "", "priority": 1}]
    cols.append({"name": "Created At", "type": "date", "format": "", "description": "", "priority": 0})
    if r.columns is not None:
        cols = crd.column_defs(r)
    meta = {"resourceVersion": str(rv)}
    if cont:
        meta["continue"] = cont
    if remaining:
        meta["remainingItemCount"] = remaining
    t = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "rows": rows}
    if include_header:
        t["columnDefinitions"] = cols
    else:
        t["columnDefinitions"] = None
    return t


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY, as the real API server (Go's net/http) has by default:
    # http.server writes the headers and the body separately, and with
    # Nagle the body waits for the client's delayed ACK of the headers,
    # about 40 ms per response.
    disable_nagle_algorithm = True
    server_version = "bulkhead-test-apiserver/1"

    def log_message(self, fmt, *a):
        if ARGS.verbose:
            sys.stderr.write("apiserver: %s %s\n" % (self.address_string(), fmt % a))

    # --- plumbing ---
    def send_json(self, code, obj, ctype="application/json"):
        body = obj if isinstance(obj, bytes) else json.dumps(obj, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def fail(self, code, reason, msg):
        self.send_json(code, status(code, reason, msg))

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def authorized(self):
        try:
            if self.connection.getpeercert():
                return True
        except (ValueError, AttributeError):
            pass
        auth = self.headers.get("Authorization", "")
        try:
            with open(ARGS.token_file) as f:
                want = f.read().strip()
        except OSError:
            want = None
        if want and auth == "Bearer " + want:
            return True
        with STATE.lock:
            STATE.stats["unauthorized"] += 1
        self.fail(401, "Unauthorized", "Unauthorized")
        return False

    def wants_table(self):
        return "as=Table" in self.headers.get("Accept", "")

    def do_HEAD(self):
        self.do_GET()

    # --- dispatch ---
    def do_GET(self):
        u = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(u.query).items()}
        if not self.authorized():
            return
        p = u.path.rstrip("/")
        if p == "/openapi/v3" or p.startswith("/openapi/v3/"):
            return self.openapi_v3(p)
        if p == "/openapi/v2" and ARGS.openapi_dir:
            return self.send_json(200, openapi_v2_protobuf(),
                                  "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
        if p == "/version":
            return self.send_json(200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0",
                                        "platform": "linux/amd64", "goVersion": "go1.23"})
        if p == "/api":
            return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                        "serverAddressByClientCIDRs": [
                                            {"clientCIDR": "0.0.0.0/0",
                                             "serverAddress": host_port()}]})
        if p == "/apis":
            return self.send_json(200, self.group_list())
        if p == "/api/v1" or (p.startswith("/apis/") and p.count("/") == 3):
            return self.resource_list(p)
        if p.startswith("/apis/") and p.count("/") == 2:
            g = p.split("/")[2]
            for grp in self.group_list()["groups"]:
                if grp["name"] == g:
                    return self.send_json(200, dict(grp, kind="APIGroup", apiVersion="v1"))
        try:
            r, ns, name, sub = parse_path(p)
        except KeyError:
            return self.fail(404, "NotFound", "the server could not find the requested resource")
        if name is None:
            try:
                self.sel = selector(q)
            except ValueError as e:
                return self.fail(400, "BadRequest", str(e))
            if q.get("watch") in ("1", "true"):
                return self.watch(r, ns, q)
            return self.list(r, ns, q)
        if r.namespaced and ns is None:
            return self.fail(404, "NotFound", "the server could not find the requested resource")
        with STATE.lock:
            STATE.stats["gets"] += 1
            enc = r.enc.get((ns or "", name))
        if enc is None:
            return self.fail(404, "NotFound", '%s "%s" not found' % (r.plural, name))
        if self.wants_table():
            return self.send_json(200, table_for(r, [enc], json.loads(enc)["metadata"]["resourceVersion"]))
        self.send_json(200, enc)

    # --- /openapi/v3 (--openapi-dir) ---
    # The OpenAPI v3 documents of DIR (tests/data/openapi), named as in
    # kubernetes/kubernetes api/openapi-spec/v3: "apis__G__V_openapi.json"
    # is served at /openapi/v3/apis/G/V, and /openapi/v3 lists them with a
    # content hash, as the real server does.  kubectl's client-side schema
    # validation (apply --validate=strict) reads them.
    def openapi_v3(self, p):
        docs = openapi_docs()
        if p == "/openapi/v3":
            paths = {gv: {"serverRelativeURL": "/openapi/v3/%s?hash=%s" % (gv, h)}
                     for gv, (h, _) in docs.items()}
            return self.send_json(200, {"paths": paths})
        doc = docs.get(p[len("/openapi/v3/"):])
        if doc is None:
            return self.fail(404, "NotFound", "the server could not find the requested resource")
        self.send_json(200, doc[1])

    def group_list(self):
        groups = {}
        for r in STATE.res.values():
            if r.group:
                groups.setdefault(r.group, set()).add(r.version)
        out = []
        for g, vs in sorted(groups.items()):
            vers = [{"groupVersion": "%s/%s" % (g, v), "version": v}
                    for v in sorted(vs, key=crd.version_key)]
            out.append({"name": g, "versions": vers, "preferredVersion": vers[0]})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": out}

    def resource_list(self, p):
        if p == "/api/v1":
            g, v = "", "v1"
        else:
            _, _, g, v = p.split("/")
        rl = []
        for r in STATE.res.values():
            if r.group != g or r.version != v:
                continue
            verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
            ent = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                   "kind": r.kind, "verbs": verbs, "shortNames": r.short}
            if r.categories:
                ent["categories"] = r.categories
            rl.append(ent)
            if r.status_sub is not False:
                rl.append({"name": r.plural + "/status", "singularName": "",
                           "namespaced": r.namespaced, "kind": r.kind,
                           "verbs": ["get", "patch", "update"]})
        if not rl:
            return self.fail(404, "NotFound", "the server could not find the requested resource")
        self.send_json(200, {"kind": "APIResourceList", "apiVersion": "v1",
                             "groupVersion": "%s/%s" % (g, v) if g else v, "resources": rl})

    def list(self, r, ns, q):
        limit = int(q.get("limit") or 0)
        start = None
        if q.get("continue"):
            try:
                tok = json.loads(base64.urlsafe_b64decode(q["continue"].encode()))
                start = (tok["start"][0], tok["start"][1])
                list_rv = tok["rv"]
            except (ValueError, KeyError, IndexError, TypeError):
                return self.fail(400, "BadRequest", "continue key is not valid")
        with STATE.lock:
            STATE.stats["lists"] += 1
            keys = r.sorted_keys()
            i = bisect.bisect_right(keys, start) if start else 0
            if start is None:
                list_rv = STATE.rv
            out = []
            last = None
            while i < len(keys) and (not limit or len(out) < limit):
                k = keys[i]
                i += 1
                if ns is not None and k[0] != ns:
                    continue
                if self.sel and not self.sel(r.objs[k]):
                    continue
                out.append(r.enc[k])
                last = k
            remaining = 0
            if limit and i < len(keys):
                remaining = sum(1 for k in keys[i:] if (ns is None or k[0] == ns) and
                                (not self.sel or self.sel(r.objs[k])))
        cont = None
        if remaining and last is not None:
            cont = base64.urlsafe_b64encode(json.dumps({"rv": list_rv, "start": list(last)}).encode()).decode()
        if self.wants_table():
            return self.send_json(200, table_for(r, out, list_rv, cont, remaining))
        meta = '"resourceVersion":"%d"' % list_rv
        if cont:
            meta += ',"continue":"%s","remainingItemCount":%d' % (cont, remaining)
        body = b'{"kind":"%s","apiVersion":"%s","metadata":{%s},"items":[' % (
            r.list_kind.encode(), r.api_version.encode(), meta.encode())
        body += b",".join(out) + b"]}"
        self.send_json(200, body)

    # --- watch ---
    def chunk(self, data):
        self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")

    def watch(self, r, ns, q):
        with STATE.lock:
            STATE.stats["watches"] += 1
            if STATE.gone_http > 0:
                STATE.gone_http -= 1
                gone = True
            else:
                gone = False
        if gone:
            return self.fail(410, "Expired", "too old resource version (injected)")
        table = self.wants_table()
        bookmarks = q.get("allowWatchBookmarks") in ("1", "true")
        timeout = min(float(q.get("timeoutSeconds") or ARGS.watch_timeout), ARGS.watch_timeout)
        rvs = q.get("resourceVersion", "")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.close_connection = True
        deadline = time.monotonic() + timeout
        initial = []
        with STATE.lock:
            gen = STATE.gen
            seen = {k: STATE.faults[k] for k in STATE.faults}
            if rvs in ("", "0"):
                for k in r.sorted_keys():
                    if (ns is None or k[0] == ns) and (not self.sel or self.sel(r.objs[k])):
                        initial.append(r.objs[k])
                cursor = STATE.hist_base + len(STATE.hist)
                cur_rv = STATE.rv
            else:
                try:
                    want = int(rvs)
                except ValueError:
                    want = -1
                if want < STATE.compacted - 1:
                    err = {"type": "ERROR", "object": status(
                        410, "Expired", "too old resource version: %s (%d)" % (rvs, STATE.compacted - 1))}
                    self.chunk(json.dumps(err).encode() + b"\n")
                    self.chunk(b"")
                    return
                cursor = STATE.hist_base + bisect.bisect_right(STATE.hist_rvs, want)
                cur_rv = max(want, 0)
        with STATE.lock:
            STATE.stats["active"] += 1
        try:
            return self.watch_stream(r, ns, initial, table, bookmarks, deadline, gen, seen, cursor)
        finally:
            with STATE.lock:
                STATE.stats["active"] -= 1

    def watch_stream(self, r, ns, initial, table, bookmarks, deadline, gen, seen, cursor):
        try:
            for obj in initial:
                self.send_event("ADDED", r, obj, None, table)
            last_bm = time.monotonic()
            while True:
                with STATE.lock:
                    pending = []
                    while not pending:
                        now = time.monotonic()
                        if STATE.gen != gen or now >= deadline:
                            break
                        if any(STATE.faults[k] != seen[k] for k in seen):
                            break
                        idx = cursor - STATE.hist_base
                        if idx < 0:
                            # Our history was compacted under us.
                            pending = None
                            break
                        while idx < len(STATE.hist):
                            e = STATE.hist[idx]
                            idx += 1
                            cursor += 1
                            if e[1] == r.key and (ns is None or e[2] == ns) and \
                                    (not self.sel or self.sel(e[5])):
                                pending.append(e)
                        if pending:
                            break
                        if bookmarks and now - last_bm >= ARGS.bookmark_interval:
                            break
                        STATE.lock.wait(min(deadline - now, ARGS.bookmark_interval, 0.5))
                    fired = {k: STATE.faults[k] for k in seen if STATE.faults[k] != seen[k]}
                    seen.update(fired)
                    fargs = dict(STATE.fault_args)
                    newgen = STATE.gen
                    rv_now = STATE.rv
                if newgen != gen or time.monotonic() >= deadline:
                    break
                if pending is None:
                    err = {"type": "ERROR", "object": status(410, "Expired", "too old resource version")}
                    self.chunk(json.dumps(err).encode() + b"\n")
                    break
                if fired.get("stall") is not None:
                    time.sleep(float(fargs.get("stall_seconds", 5)))
                if fired.get("malformed") is not None:
                    self.chunk(b'{"type":"ADDED","object":{"kind":"Pod",,,]\n')
                if fired.get("huge") is not None:
                    n = int(fargs.get("huge_bytes", 100 << 20))
                    blk = b'{"type":"ADDED","object":{"metadata":{"name":"' + b"x" * (1 << 20)
                    sent = 0
                    while sent < n:
                        self.chunk(blk)
                        sent += len(blk)
                    self.chunk(b'"}}}\n')
                if fired.get("gone") is not None:
                    err = {"type": "ERROR", "object": status(410, "Expired", "too old resource version")}
                    self.chunk(json.dumps(err).encode() + b"\n")
                    break
                if fired.get("drop") is not None:
                    data = pending[0][4] if pending else self.bookmark(r, rv_now)
                    half = data[: max(1, len(data) // 2)]
                    self.wfile.write(b"%x\r\n" % (len(data) + 1) + half)
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                for e in pending:
                    if table:
                        self.send_event(e[3], r, e[5], None, True)
                    elif e[3] in ("ADDED", "MODIFIED") and e[5].get("metadata", {}).get("annotations", {}).get("bench/sent-ns") == "pending":
                        obj = copy.deepcopy(e[5])
                        sent = time.time_ns()
                        obj["metadata"]["annotations"]["bench/sent-ns"] = str(sent)
                        self.send_event(e[3], r, obj, None, False)
                        if ARGS.sent_log:
                            md = obj["metadata"]
                            with open(ARGS.sent_log, "a") as f:
                                f.write("%s/%s %d\n" % (md.get("namespace", ""), md["name"], sent))
                    else:
                        self.chunk(e[4] + b"\n")
                    cur_rv = e[0]
                if bookmarks and time.monotonic() - last_bm >= ARGS.bookmark_interval:
                    self.chunk(self.bookmark(r, rv_now) + b"\n")
                    last_bm = time.monotonic()
            self.chunk(b"")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            return

    def bookmark(self, r, rv):
        return json.dumps({"type": "BOOKMARK", "object": {
            "kind": r.kind, "apiVersion": r.api_version,
            "metadata": {"resourceVersion": str(rv)}}}).encode()

    def send_event(self, etype, r, obj, data, table):
        if table:
            enc = json.dumps(obj).encode()
            t = table_for(r, [enc], obj["metadata"]["resourceVersion"], include_header=False)
            data = json.dumps({"type": etype, "object": t}).encode()
        else:
            data = json.dumps({"type": etype, "object": obj}, separators=(",", ":")).encode()
        self.chunk(data + b"\n")

    # --- writes ---
    def write_prologue(self, verb):
        """Authorizes, counts and parses a write of @verb (create, update,
        patch, delete); answers it (None) when a write fault matches."""
        if not self.authorized():
            return None
        try:
            t = parse_path(urlsplit(self.path).path.rstrip("/"))
        except KeyError:
            t = None
        res = obj_key = None
        if t is not None:
            r, ns, name, sub = t
            res = r.plural + ("/status" if sub else "")
            if name:
                obj_key = "%s/%s" % (ns, name) if r.namespaced and ns else name
        with STATE.lock:
            STATE.count_write(res, verb, obj_key)
            f = STATE.take_fault(res, verb)
        if f is not None:
            self.body()
            code = f["status"]
            if code == 409:
                self.fail(409, "Conflict", "the object has been modified; please apply your "
                          "changes to the latest version and try again (injected)")
            else:
                self.fail(code, "InternalError" if code >= 500 else "TooManyRequests",
                          "injected HTTP %d" % code)
            return None
        if t is None:
            self.body()
            self.fail(404, "NotFound", "the server could not find the requested resource")
        return t

    def read_obj(self):
        try:
            return json.loads(self.body())
        except ValueError as e:
            self.fail(400, "BadRequest", "invalid JSON: %s" % e)
            return None

    def do_POST(self):
        u = urlsplit(self.path)
        if u.path == "/_control":
            return self.control()
        t = self.write_prologue("create")
        if t is None:
            return
        r, ns, name, sub = t
        obj = self.read_obj()
        if obj is None:
            return
        if name is not None or not isinstance(obj, dict):
            return self.fail(405, "MethodNotAllowed", "POST to a collection only")
        md = obj.setdefault("metadata", {})
        if r.namespaced:
            if ns and md.get("namespace") not in (None, "", ns):
                return self.fail(400, "BadRequest", "the namespace of the provided object does "
                                 "not match the namespace sent on the request")
            md["namespace"] = ns or md.get("namespace") or "default"
        else:
            md.pop("namespace", None)
        if not md.get("name"):
            return self.fail(422, "Invalid", "metadata.name: Required value")
        obj.setdefault("apiVersion", r.api_version)
        obj.setdefault("kind", r.kind)
        if obj["apiVersion"] != r.api_version or obj["kind"] != r.kind:
            return self.fail(400, "BadRequest", "%s %s in the body, %s %s in the path" % (
                obj["apiVersion"], obj["kind"], r.api_version, r.kind))
        md.pop("resourceVersion", None)
        with STATE.lock:
            STATE.count_object(r.plural, "%s/%s" % (md["namespace"], md["name"])
                               if r.namespaced else md["name"])
        if r.status_sub:
            obj.pop("status", None)  # create ignores status, as the real server
        with STATE.lock:
            try:
                out = STATE.put(obj, create_only=True)
            except Conflict:
                return self.fail(409, "AlreadyExists", '%s "%s" already exists' % (r.plural, md["name"]))
            except crd.Invalid as e:
                return self.fail(422, "Invalid", '%s "%s" is invalid: %s' % (r.kind, md["name"], e))
            enc = json.dumps(out).encode()
        self.send_json(201, enc)

    def update(self, verb, make):
        t = self.write_prologue(verb)
        if t is None:
            return
        r, ns, name, sub = t
        if name is None or sub not in (None, "status"):
            self.body()
            return self.fail(405, "MethodNotAllowed", "not allowed")
        key = (ns or "" if r.namespaced else "", name)
        raw = self.body()
        with STATE.lock:
            old = r.objs.get(key)
            if old is None:
                return self.fail(404, "NotFound", '%s "%s" not found' % (r.plural, name))
            try:
                new, pre = make(old, raw)
            except Conflict:
                return self.fail(409, "Conflict", "the object has been modified; please apply your "
                                 "changes to the latest version and try again")
            except (ValueError, KeyError, TypeError, IndexError) as e:
                return self.fail(400, "BadRequest", "bad request body: %s" % e)
            if not isinstance(new, dict):
                return self.fail(400, "BadRequest", "not an object")
            if sub == "status":
                keep = copy.deepcopy(old)
                keep["status"] = new.get("status")
                new = keep
            elif r.status_sub:
                new.pop("status", None)
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
            elif r.status_sub is None:
                new["status"] = new.get("status", old.get("status"))
            if "status" in new and new["status"] is None:
                del new["status"]
            new.setdefault("metadata", {})
            new["metadata"]["name"] = name
            if r.namespaced:
                new["metadata"]["namespace"] = key[0]
            new["apiVersion"], new["kind"] = r.api_version, r.kind
            try:
                out = STATE.put(new, precondition=pre)
            except Conflict:
                return self.fail(409, "Conflict", "the object has been modified; please apply your "
                                 "changes to the latest version and try again")
            except crd.Invalid as e:
                return self.fail(422, "Invalid", '%s "%s" is invalid: %s' % (r.kind, name, e))
            enc = json.dumps(out).encode()
        self.send_json(200, enc)

    def do_PUT(self):
        def make(old, raw):
            new = json.loads(raw)
            return new, new.get("metadata", {}).get("resourceVersion") or None
        self.update("update", make)

    def do_PATCH(self):
        ctype = self.headers.get("Content-Type", "")

        def make(old, raw):
            patch = json.loads(raw)
            if "json-patch" in ctype:
                return json_patch(old, patch), None
            pre = None
            if isinstance(patch, dict):
                pre = patch.get("metadata", {}).get("resourceVersion")
            new = merge_patch(copy.deepcopy(old), patch)
            if pre:
                if old["metadata"]["resourceVersion"] != pre:
                    raise Conflict()
            return new, None
        self.update("patch", make)

    def do_DELETE(self):
        t = self.write_prologue("delete")
        if t is None:
            return
        r, ns, name, sub = t
        self.body()
        key = (ns or "" if r.namespaced else "", name)
        with STATE.lock:
            if key not in r.objs:
                return self.fail(404, "NotFound", '%s "%s" not found' % (r.plural, name))
            out = STATE.delete(r, key)
        self.send_json(200, out)

    # --- control ---
    def control(self):
        try:
            req = json.loads(self.body())
        except ValueError:
            return self.fail(400, "BadRequest", "bad control request")
        op = req.get("op")
        with STATE.lock:
            if op == "put":
                try:
                    obj = STATE.put(req["object"])
                except crd.Invalid as e:
                    return self.fail(422, "Invalid", str(e))
                return self.send_json(200, obj)
            if op == "put_many":
                for o in req["objects"]:
                    STATE.put(o)
                return self.send_json(200, {"rv": STATE.rv})
            if op == "delete":
                g = req.get("group", "")
                r = STATE.res.get((g, req.get("version", "v1"), req["resource"]))
                key = (req.get("namespace", "") if r and r.namespaced else "", req["name"])
                if r is None or key not in r.objs:
                    return self.fail(404, "NotFound", "no such object")
                return self.send_json(200, STATE.delete(r, key, silent=req.get("silent", False)))
            if op == "dump":
                out = {}
                for r in STATE.res.values():
                    out[r.key] = {"%s/%s" % k: o["metadata"]["resourceVersion"] for k, o in r.objs.items()}
                return self.send_json(200, {"rv": STATE.rv, "objects": out})
            if op == "stats":
                return self.send_json(200, dict(STATE.stats, rv=STATE.rv, compacted=STATE.compacted,
                                                pending_faults=STATE.write_faults))
            if op == "bench_touch":
                r = STATE.res[("", "v1", "pods")]
                old = r.objs[(req["namespace"], req["name"])]
                new = copy.deepcopy(old)
                new["metadata"].setdefault("annotations", {})["bench/sent-ns"] = "pending"
                STATE.put(new)
                return self.send_json(200, {"rv": STATE.rv})
            if op == "fault":
                f = req.get("fault")
                if f == "gone_http":
                    STATE.gone_http += int(req.get("count", 1))
                elif f in ("conflict", "write_status"):
                    code = 409 if f == "conflict" else int(req.get("status", 500))
                    STATE.write_faults.append({"count": int(req.get("count", 1)), "status": code,
                                               "resource": req.get("resource"),
                                               "verb": req.get("verb")})
                elif f == "restart":
                    STATE.gen += 1
                    STATE.hist.clear()
                    STATE.hist_rvs.clear()
                    STATE.hist_base = 0
                    STATE.rv += 1
                    STATE.compacted = STATE.rv
                    STATE.lock.notify_all()
                elif f in STATE.faults:
                    if f == "gone":
                        STATE.compacted = STATE.rv + 1
                    STATE.faults[f] += 1
                    STATE.fault_args["stall_seconds"] = req.get("seconds", 5)
                    STATE.fault_args["huge_bytes"] = req.get("bytes", 100 << 20)
                    STATE.lock.notify_all()
                else:
                    return self.fail(400, "BadRequest", "unknown fault %r" % f)
                return self.send_json(200, {"ok": True})
        self.fail(400, "BadRequest", "unknown op %r" % op)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def get_request(self):
        sock, addr = self.socket.accept()
        return self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request, client_address):
        if ARGS.verbose:
            super().handle_error(request, client_address)


def openapi_docs():
    """{"apis/G/V": (hash, bytes)} of --openapi-dir, {} without it."""
    out = {}
    if not ARGS.openapi_dir:
        return out
    for name in sorted(os.listdir(ARGS.openapi_dir)):
        if not name.endswith("_openapi.json"):
            continue
        with open(os.path.join(ARGS.openapi_dir, name), "rb") as f:
            body = f.read()
        gv = name[:-len("_openapi.json")].replace("__", "/")
        out[gv] = (hashlib.sha512(body).hexdigest().upper()[:128], body)
    meta = json.loads(out["api/v1"][1])["components"]["schemas"] if "api/v1" in out else {}
    for gv, doc in crd_openapi_docs(meta).items():
        body = json.dumps(doc).encode()
        out[gv] = (hashlib.sha512(body).hexdigest().upper()[:128], body)
    return out


def crd_openapi_docs(meta_schemas):
    """{"apis/G/V": document} of the stored CRDs, as the real server
    publishes them: each served version's openAPIV3Schema as the kind's
    schema (metadata an ObjectMeta), with a PATCH operation without
    fieldValidation, so that kubectl validates custom resources too."""
    with STATE.lock:
        r = STATE.res.get((crd.GROUP, crd.VERSION, crd.PLURAL))
        crds = [copy.deepcopy(o) for o in r.objs.values()] if r else []
    docs = {}
    for c in crds:
        spec = c.get("spec", {})
        group, names = spec.get("group", ""), spec.get("names", {})
        for v in spec.get("versions", []):
            schema = copy.deepcopy(v.get("schema", {}).get("openAPIV3Schema"))
            if not v.get("served") or not isinstance(schema, dict):
                continue
            gvk = {"group": group, "kind": names.get("kind"), "version": v["name"]}
            name = "%s.%s.%s" % (".".join(reversed(group.split("."))), v["name"], gvk["kind"])
            schema.setdefault("properties", {})["metadata"] = {
                "allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}]}
            schema["x-kubernetes-group-version-kind"] = [gvk]
            path = "/apis/%s/%s/%s%s/{name}" % (
                group, v["name"], "namespaces/{namespace}/" if spec.get("scope") == "Namespaced"
                else "", names.get("plural"))
            doc = docs.setdefault("apis/%s/%s" % (group, v["name"]), {
                "openapi": "3.0.0", "info": {"title": "Kubernetes CRD Swagger", "version": "v0.1.0"},
                "paths": {}, "components": {"schemas": dict(meta_schemas)}})
            doc["paths"][path] = {"patch": {"x-kubernetes-action": "patch",
                                            "x-kubernetes-group-version-kind": gvk,
                                            "responses": {"200": {"description": "OK"}}}}
            doc["components"]["schemas"][name] = schema
    return docs


# kubectl's client-side schema validation (apply --validate=strict when the
# server's OpenAPI shows no fieldValidation parameter) reads /openapi/v2 as
# the protobuf of gnostic's openapi_v2.Document (OpenAPIv2.proto).  It is
# made here from the same documents' components.schemas, with the fields
# that validation reads: $ref, format, required, additionalProperties,
# type, items, properties and x-kubernetes-group-version-kind.
def pb_varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def pb_bytes(field, data):
    if isinstance(data, str):
        data = data.encode()
    return pb_varint(field << 3 | 2) + pb_varint(len(data)) + data


def pb_schema(s):
    """openapi_v2.Schema of an OpenAPI v3 schema."""
    out = b""
    refs = [a["$ref"] for a in s.get("allOf", []) if "$ref" in a] + (
        [s["$ref"]] if "$ref" in s else [])
    if refs:
        out += pb_bytes(1, refs[0].replace("#/components/schemas/", "#/definitions/"))
    if "format" in s:
        out += pb_bytes(2, s["format"])
    for r in s.get("required", []):
        out += pb_bytes(19, r)
    ap = s.get("additionalProperties")
    if isinstance(ap, dict):
        out += pb_bytes(21, pb_bytes(1, pb_schema(ap)))
    elif isinstance(ap, bool):
        out += pb_bytes(21, pb_varint(2 << 3) + pb_varint(int(ap)))
    if "type" in s:
        out += pb_bytes(22, pb_bytes(1, s["type"]))
    if "items" in s:
        out += pb_bytes(23, pb_bytes(1, pb_schema(s["items"])))
    if "properties" in s:
        props = b"".join(pb_bytes(1, pb_bytes(1, k) + pb_bytes(2, pb_schema(v)))
                         for k, v in s["properties"].items())
        out += pb_bytes(25, props)
    gvks = s.get("x-kubernetes-group-version-kind")
    if gvks:
        y = "".join('- group: "%s"\n  kind: "%s"\n  version: "%s"\n'
                    % (g["group"], g["kind"], g["version"]) for g in gvks)
        out += pb_bytes(31, pb_bytes(1, "x-kubernetes-group-version-kind") +
                        pb_bytes(2, pb_bytes(2, y)))
    return out


def openapi_v2_protobuf():
    schemas = {}
    for _, body in openapi_docs().values():
        schemas.update(json.loads(body)["components"]["schemas"])
    defs = b"".join(pb_bytes(1, pb_bytes(1, k) + pb_bytes(2, pb_schema(v)))
                    for k, v in sorted(schemas.items()))
    info = pb_bytes(1, "Kubernetes") + pb_bytes(2, "v1.32.0")
    return pb_bytes(1, "2.0") + pb_bytes(2, info) + pb_bytes(9, defs)


def openapi_resources():
    """Serves (discovery, get, list...) every resource the documents of
    --openapi-dir have a PATCH operation for, so that kubectl maps their
    kinds (apply --dry-run=client GETs each object first)."""
    if not ARGS.openapi_dir:
        return
    for _, body in openapi_docs().values():
        for path, item in json.loads(body)["paths"].items():
            gvk = item.get("patch", {}).get("x-kubernetes-group-version-kind")
            parts = path.strip("/").split("/")
            if not gvk or parts[-1] != "{name}":
                continue
            key = (gvk["group"], gvk["version"], parts[-2])
            if key not in STATE.res:
                STATE.add_resource(gvk["group"], gvk["version"], parts[-2], gvk["kind"],
                                   "{namespace}" in parts)


def gen_pods(n, ns_count=20):
    items = []
    for i in range(ns_count):
        items.append({"apiVersion": "v1", "kind": "Namespace",
                      "metadata": {"name": "ns-%d" % i, "labels": {"kubernetes.io/metadata.name": "ns-%d" % i}}})
    for i in range(n):
        ns = "ns-%d" % (i % ns_count)
        items.append({"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": "pod-%05d" % i, "namespace": ns,
            "labels": {"app": "app-%d" % (i % 50), "tier": "t%d" % (i % 3), "pod-template-hash": "abc%d" % (i % 7)},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "app-%d-abc" % (i % 50),
                                 "uid": "u-%d" % i, "controller": True}]},
            "spec": {"nodeName": "node-%d" % (i % 40), "containers": [
                {"name": "c", "image": "nginx:1.27", "ports": [{"containerPort": 8080, "protocol": "TCP", "name": "http"}]}]},
            "status": {"phase": "Running", "podIP": "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255),
                       "podIPs": [{"ip": "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255)}]}})
    return {"apiVersion": "v1", "kind": "List", "items": items}


def main():
    global STATE, ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True, help="directory of objects (JSON)")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--client-ca", help="CA accepted for client certificates")
    ap.add_argument("--token-file", required=True, help="re-read on every request")
    ap.add_argument("--address", default="127.0.0.1",
                    help="address to listen on (an address of a test's own network namespace)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", help="write the bound port here once listening")
    ap.add_argument("--watch-timeout", type=float, default=1800.0, help="longest watch, seconds")
    ap.add_argument("--bookmark-interval", type=float, default=60.0)
    ap.add_argument("--generate-pods", type=int, default=0, help="write N pods into DIR first")
    ap.add_argument("--crd", action="append", default=[],
                    help="GROUP/VERSION/PLURAL/KIND of a namespaced custom resource")
    ap.add_argument("--crd-file", action="append", default=[],
                    help="CustomResourceDefinitions to register at start (YAML or JSON)")
    ap.add_argument("--sent-log", help="append NS/NAME TIME_NS of every bench-stamped event sent")
    ap.add_argument("--openapi-dir", help="serve DIR's OpenAPI v3 documents at /openapi/v3")
    ap.add_argument("--verbose", action="store_true")
    ARGS = ap.parse_args()
    if ARGS.generate_pods and not os.path.exists(os.path.join(ARGS.dir, ".state.json")):
        with open(os.path.join(ARGS.dir, "generated.json"), "w") as f:
            json.dump(gen_pods(ARGS.generate_pods), f)
    STATE = State(ARGS.dir)
    for spec in ARGS.crd:
        g, v, plural, kind = spec.split("/")
        STATE.add_resource(g, v, plural, kind, True)
    openapi_resources()
    STATE.load_dir()
    for path in ARGS.crd_file:
        for obj in crd.load_docs(path):
            if not crd.is_crd(obj):
                sys.exit("apiserver: %s: %s %s is not a CustomResourceDefinition" % (
                    path, obj.get("kind"), obj.get("metadata", {}).get("name")))
            try:
                with STATE.lock:
                    STATE.put(obj)
            except crd.Invalid as e:
                sys.exit("apiserver: %s: %s: %s" % (path, obj.get("metadata", {}).get("name"), e))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(ARGS.cert, ARGS.key)
    if ARGS.client_ca:
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.load_verify_locations(ARGS.client_ca)
    if ":" in ARGS.address:
        Server.address_family = socket.AF_INET6
    srv = Server((ARGS.address, ARGS.port), Handler)
    srv.ctx = ctx
    ARGS.port = srv.server_address[1]

    def term(signum, frame):
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, term)
    signal.signal(signal.SIGINT, term)
    if ARGS.port_file:
        tmp = ARGS.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % ARGS.port)
        os.rename(tmp, ARGS.port_file)
    srv.serve_forever(poll_interval=0.1)
    with STATE.lock:
        STATE.save()


if __name__ == "__main__":
    main()
