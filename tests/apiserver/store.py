"""The object store of the test API server (apiserver.py): resources, their
objects and watch history, resourceVersions, the CustomResourceDefinitions
that register resources (crd.py), write faults and write counters, merge and
JSON patches.  Every State method that changes something runs with
State.lock held."""

import copy
import json
import os
import threading
import time
import uuid

import crd

BUILTIN = [
    # group, version, plural, kind, namespaced, shortnames
    ("", "v1", "namespaces", "Namespace", False, ["ns"]),
    ("", "v1", "pods", "Pod", True, ["po"]),
    ("", "v1", "nodes", "Node", False, ["no"]),
    ("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, ["netpol"]),
    ("coordination.k8s.io", "v1", "leases", "Lease", True, []),
    (crd.GROUP, crd.VERSION, crd.PLURAL, "CustomResourceDefinition", False, ["crd", "crds"]),
]
# Resources with the real server's status subresource semantics (see
# Resource.status_sub) and Table columns (crd.printer_columns).
BUILTIN_STATUS = {"leases": False, crd.PLURAL: True}
BUILTIN_COLUMNS = {
    "leases": [{"name": "Holder", "type": "string", "jsonPath": ".spec.holderIdentity"},
               crd.AGE_COL],
}

HISTORY_MAX = 200000


def plural_of(kind):
    k = kind.lower()
    if k.endswith("y") and not k.endswith("ey"):
        return k[:-1] + "ies"
    if k.endswith("s"):
        return k + "es"
    return k + "s"


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def status(code, reason, message, details=None):
    s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
         "message": message, "reason": reason, "code": code}
    if details:
        s["details"] = details
    return s


class Resource:
    def __init__(self, group, version, plural, kind, namespaced, short=()):
        self.group, self.version, self.plural = group, version, plural
        self.kind, self.namespaced, self.short = kind, namespaced, list(short)
        self.singular, self.list_kind, self.categories = kind.lower(), kind + "List", []
        # None: writes to the main resource keep a status they do not carry
        # (the lenient behaviour of --crd and the older built-ins); True: the
        # real status subresource (main writes keep the stored status, /status
        # writes keep everything else, create drops status); False: none
        # (/status is 404, main writes change everything).
        self.status_sub = BUILTIN_STATUS.get(plural)
        cols = BUILTIN_COLUMNS.get(plural)
        self.columns = crd.printer_columns(cols) if cols else None  # None: Name, Created At
        self.owner = None  # the name of the CRD that registered it
        self.objs = {}  # (ns, name) -> dict
        self.enc = {}  # (ns, name) -> bytes (cached JSON)
        self.keys = []  # sorted
        self.keys_dirty = False

    @property
    def key(self):
        return "%s/%s/%s" % (self.group, self.version, self.plural)

    @property
    def api_version(self):
        return "%s/%s" % (self.group, self.version) if self.group else self.version

    def sorted_keys(self):
        if self.keys_dirty:
            self.keys = sorted(self.objs)
            self.keys_dirty = False
        return self.keys


class Conflict(Exception):
    pass


class State:
    def __init__(self, datadir):
        self.lock = threading.Condition()
        self.res = {}
        for b in BUILTIN:
            self.add_resource(*b)
        self.rv = 1
        self.compacted = 1  # watches from rv < compacted get 410
        self.hist = []  # (rv, reskey, ns, type, bytes)
        self.hist_rvs = []
        self.hist_base = 0  # absolute index of hist[0]
        self.datadir = datadir
        self.gen = 0  # bumped by restart faults: streams of older gens close
        self.faults = {"drop": 0, "gone": 0, "malformed": 0, "huge": 0, "stall": 0}
        self.fault_args = {}
        self.gone_http = 0
        # Write faults, oldest first: {"count", "status", "resource", "verb"}
        # (resource and verb None: any); the first that matches a write fires.
        self.write_faults = []
        self.stats = {"unauthorized": 0, "watches": 0, "lists": 0, "gets": 0, "writes": 0,
                      "active": 0, "faulted": 0,
                      "writes_by": {},  # "plural[/status]" -> verb -> count
                      "writes_by_object": {}}  # "plural[/status]" -> "[ns/]name" -> count

    def take_fault(self, res, verb):
        """The write fault that answers a write of @res ("plural[/status]",
        None when unknown) with @verb, consumed; None when none matches."""
        for f in self.write_faults:
            if f["verb"] not in (None, verb):
                continue
            if f["resource"] is not None and (res is None or f["resource"] not in
                                              (res, res.split("/")[0])):
                continue
            f["count"] -= 1
            if f["count"] <= 0:
                self.write_faults.remove(f)
            self.stats["faulted"] += 1
            return f
        return None

    def count_write(self, res, verb, obj_key):
        """Counts a write request of @res by @verb (and of object @obj_key)."""
        self.stats["writes"] += 1
        if res is None:
            return
        by = self.stats["writes_by"].setdefault(res, {})
        by[verb] = by.get(verb, 0) + 1
        if obj_key:
            self.count_object(res, obj_key)

    def count_object(self, res, obj_key):
        by = self.stats["writes_by_object"].setdefault(res, {})
        by[obj_key] = by.get(obj_key, 0) + 1

    def add_resource(self, group, version, plural, kind, namespaced, short=()):
        r = Resource(group, version, plural, kind, namespaced, short)
        self.res[(group, version, plural)] = r
        return r

    def resource_for(self, obj):
        av = obj.get("apiVersion", "")
        kind = obj.get("kind", "")
        g, _, v = av.rpartition("/")
        for r in self.res.values():
            if r.group == g and r.version == v and r.kind == kind:
                return r
        ns = bool(obj.get("metadata", {}).get("namespace"))
        return self.add_resource(g, v, plural_of(kind), kind, ns)

    # --- loading and saving ---
    def load_dir(self):
        path = os.path.join(self.datadir, ".state.json")
        if os.path.exists(path):
            with open(path) as f:
                st = json.load(f)
            for rdef in st.get("resources", []):
                if (rdef[0], rdef[1], rdef[2]) not in self.res:
                    self.add_resource(*rdef)
            for obj in st["objects"]:
                self.store(obj, keep_rv=True)
            self.rv = max(self.rv, st["rv"]) + 1
            self.compacted = self.rv
            return
        items = []
        for name in sorted(os.listdir(self.datadir)):
            if name.endswith((".json", ".yaml", ".yml")) and not name.startswith("."):
                items += crd.load_docs(os.path.join(self.datadir, name))
        # CRDs first: they register the resources of the objects after them.
        items.sort(key=lambda o: not crd.is_crd(o))
        for obj in items:
            self.rv += 1
            self.init_meta(obj)
            if crd.is_crd(obj):
                obj["status"] = crd.crd_status(obj, now_rfc3339())
            self.store(obj)
        self.compacted = self.rv

    def save(self):
        objs = []
        for r in self.res.values():
            objs.extend(r.objs.values())
        defs = [[r.group, r.version, r.plural, r.kind, r.namespaced] for r in self.res.values()]
        tmp = os.path.join(self.datadir, ".state.json.tmp")
        with open(tmp, "w") as f:
            json.dump({"rv": self.rv, "resources": defs, "objects": objs}, f)
        os.rename(tmp, os.path.join(self.datadir, ".state.json"))

    def init_meta(self, obj):
        md = obj.setdefault("metadata", {})
        md.setdefault("uid", str(uuid.uuid4()))
        md.setdefault("creationTimestamp", now_rfc3339())
        md["resourceVersion"] = str(self.rv)

    def store(self, obj, keep_rv=False):
        r = self.resource_for(obj)
        md = obj["metadata"]
        key = (md.get("namespace", "") if r.namespaced else "", md["name"])
        if key not in r.objs:
            r.keys_dirty = True
        r.objs[key] = obj
        r.enc[key] = json.dumps(obj, separators=(",", ":")).encode()
        if r.plural == crd.PLURAL and r.group == crd.GROUP:
            self.crd_register(obj)
        return r, key

    # --- CustomResourceDefinitions (lock held) ---
    def crd_register(self, obj):
        """(Re-)registers the resources of CRD @obj (crd.Invalid)."""
        name = obj["metadata"]["name"]
        defs = crd.spec_resources(obj)
        want = {(d["group"], d["version"], d["plural"]) for d in defs}
        for k, r in list(self.res.items()):
            if r.owner == name and k not in want:
                self.crd_drop(r)
        for d in defs:
            r = self.res.get((d["group"], d["version"], d["plural"]))
            if r is None:
                r = self.add_resource(d["group"], d["version"], d["plural"], d["kind"],
                                      d["namespaced"])
            r.kind, r.namespaced, r.short = d["kind"], d["namespaced"], d["short"]
            r.singular, r.list_kind, r.categories = d["singular"], d["list_kind"], d["categories"]
            r.status_sub, r.columns, r.owner = d["status_sub"], d["columns"], name

    def crd_unregister(self, name):
        for r in list(self.res.values()):
            if r.owner == name:
                self.crd_drop(r)

    def crd_drop(self, r):
        """Deletes every object of @r (DELETED events), then the resource."""
        for key in list(r.sorted_keys()):
            self.delete(r, key)
        del self.res[(r.group, r.version, r.plural)]

    # --- mutations (lock held) ---
    def record(self, r, ns, etype, obj):
        data = json.dumps({"type": etype, "object": obj}, separators=(",", ":")).encode()
        self.hist.append((self.rv, r.key, ns, etype, data, obj))
        self.hist_rvs.append(self.rv)
        if len(self.hist) > HISTORY_MAX:
            drop = len(self.hist) // 2
            self.compacted = self.hist_rvs[drop - 1] + 1
            del self.hist[:drop]
            del self.hist_rvs[:drop]
            self.hist_base += drop
        self.lock.notify_all()

    def put(self, obj, precondition=None, create_only=False):
        r = self.resource_for(obj)
        md = obj.setdefault("metadata", {})
        key = (md.get("namespace", "") if r.namespaced else "", md.get("name", ""))
        old = r.objs.get(key)
        if create_only and old is not None:
            raise Conflict("AlreadyExists")
        if precondition and old is not None and old["metadata"]["resourceVersion"] != precondition:
            raise Conflict("Conflict")
        if precondition and old is None:
            raise KeyError(key)
        if r.plural == crd.PLURAL and r.group == crd.GROUP:
            crd.spec_resources(obj)  # crd.Invalid before anything changes
            obj["status"] = crd.crd_status(obj, now_rfc3339())
        self.rv += 1
        if old is not None:
            md["uid"] = old["metadata"].get("uid", md.get("uid"))
            md["creationTimestamp"] = old["metadata"].get("creationTimestamp")
            gen = old["metadata"].get("generation", 1)
            if content(old) != content(obj):
                gen += 1
            md["generation"] = gen
        else:
            md["generation"] = 1
        self.init_meta(obj)
        self.store(obj)
        self.record(r, key[0], "MODIFIED" if old is not None else "ADDED", obj)
        return obj

    def delete(self, r, key, silent=False):
        obj = r.objs.pop(key)
        r.enc.pop(key)
        r.keys_dirty = True
        self.rv += 1
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self.rv)
        if silent:
            self.compacted = self.rv + 1
        else:
            self.record(r, key[0], "DELETED", obj)
        if r.plural == crd.PLURAL and r.group == crd.GROUP:
            self.crd_unregister(key[1])
        return obj


def content(obj):
    """What metadata.generation counts: everything but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def json_patch(doc, ops):
    doc = copy.deepcopy(doc)
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        parent = doc
        for p in parts[:-1]:
            parent = parent[int(p)] if isinstance(parent, list) else parent.setdefault(p, {})
        last = parts[-1]
        o = op["op"]
        if o == "test":
            cur = parent[int(last)] if isinstance(parent, list) else parent.get(last)
            if cur != op.get("value"):
                raise Conflict("Conflict")
        elif o in ("add", "replace"):
            if isinstance(parent, list):
                if last == "-":
                    parent.append(op["value"])
                else:
                    parent.insert(int(last), op["value"])
            else:
                parent[last] = op["value"]
        elif o == "remove":
            if isinstance(parent, list):
                del parent[int(last)]
            else:
                parent.pop(last, None)
        else:
            raise ValueError("unsupported op " + o)
    return doc


def _split_terms(s):
    """@s split at the commas outside parentheses."""
    out, depth, cur = [], 0, ""
    for ch in s:
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        out.append(cur)
    return [t.strip() for t in out if t.strip()]


def _field(obj, path):
    v = obj
    for p in path.split("."):
        v = v.get(p) if isinstance(v, dict) else None
    if v is None:
        return ""
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def selector(q):
    """A predicate on objects for the query's fieldSelector (PATH=V, PATH==V,
    PATH!=V; any field, metadata.name and metadata.namespace as the real
    server has them for every resource) and labelSelector (k=v, k==v, k!=v,
    k, !k, k in (a,b), k notin (a,b)); None when the query has neither.
    Raises ValueError for a selector it cannot parse."""
    tests = []
    for t in _split_terms(q.get("fieldSelector", "")):
        op = "!=" if "!=" in t else "==" if "==" in t else "="
        if op not in t:
            raise ValueError("invalid field selector %r" % t)
        path, val = t.split(op, 1)
        neg = op == "!="
        tests.append(lambda o, p=path.strip(), v=val.strip(), n=neg: (_field(o, p) == v) != n)
    for t in _split_terms(q.get("labelSelector", "")):
        words = t.split(None, 1)
        if len(words) == 2 and words[1].split("(")[0].strip() in ("in", "notin"):
            key, rest = words[0], words[1]
            neg = rest.startswith("notin")
            vals = {v.strip() for v in rest[rest.index("(") + 1:rest.rindex(")")].split(",")}
            tests.append(lambda o, k=key, vs=vals, n=neg: (o.get("metadata", {}).get(
                "labels", {}).get(k) in vs) != n)
            continue
        op = "!=" if "!=" in t else "==" if "==" in t else "=" if "=" in t else None
        if op is None:
            neg, key = t.startswith("!"), t.lstrip("!").strip()
            tests.append(lambda o, k=key, n=neg: (k in o.get("metadata", {}).get(
                "labels", {})) != n)
            continue
        key, val = (x.strip() for x in t.split(op, 1))
        tests.append(lambda o, k=key, v=val, n=op == "!=": (o.get("metadata", {}).get(
            "labels", {}).get(k) == v) != n)
    if not tests:
        return None
    return lambda o: all(f(o) for f in tests)
