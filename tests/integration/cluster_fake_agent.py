#!/usr/bin/python3
"""A stand-in for the agents of integration.cluster_cli: every 100 ms, for
each node named in the file LIVE (one a line, re-read each time), writes
that node's NodeFlows status.applied from the PolicyMode and Proposal
objects, through the test API server's POST /_control (so it costs the
CLI's writes no injected conflict).  The stage is docs/cluster.md's
effective stage; modeSwitchedAt the followed PolicyMode's switchedAt.

  cluster_fake_agent.py PORT TOKEN_FILE LIVE
"""

import json
import ssl
import sys
import time
import urllib.request

port, token_file, live_file = sys.argv[1], sys.argv[2], sys.argv[3]
base = "https://127.0.0.1:%s" % port
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE


def call(method, path, body=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Authorization", "Bearer " + open(token_file).read().strip())
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=5) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return {"items": []}
        raise


def items(plural):
    return call("GET", "/apis/bulkhead.io/v1alpha1/" + plural).get("items", [])


def stage_of(ns, props, modes):
    mine = [p for p in props if p["metadata"].get("namespace") == ns]
    m_ns, m_all = modes.get(ns), modes.get("all")
    cands = [m for m in (m_ns, m_all) if m]
    m = max(cands, key=lambda m: m["spec"]["switchedAt"]) if cands else None
    if m_ns and m_all and m_ns["spec"]["switchedAt"] == m_all["spec"]["switchedAt"]:
        m = m_ns
    at = m["spec"]["switchedAt"] if m else ""
    if not mine:
        return "learn", at
    if not m:
        return "preview", at
    if m["spec"]["mode"] == "learn":
        newest = max(p["spec"].get("computedAt", "") for p in mine)
        return ("learn" if newest < at else "preview"), at
    return m["spec"]["mode"], at


while True:
    try:
        live = set(open(live_file).read().split())
        props = items("proposals")
        modes = {m["metadata"]["name"]: m for m in items("policymodes")}
        for nf in items("nodeflows"):
            node = nf["metadata"]["name"]
            if node not in live:
                continue
            st = nf.setdefault("status", {})
            applied = []
            for a in st.get("applied", []):
                stage, at = stage_of(a["namespace"], props, modes)
                applied.append(dict(a, stage=stage, modeSwitchedAt=at))
            if applied != st.get("applied", []):
                st["applied"] = applied
                for k in ("resourceVersion", "uid", "creationTimestamp"):
                    nf["metadata"].pop(k, None)
                call("POST", "/_control", {"op": "put", "object": nf})
    except Exception as e:  # the server restarting, a race: try again
        print("fake agent: %s" % e, file=sys.stderr)
    time.sleep(0.1)
