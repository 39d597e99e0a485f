"""CustomResourceDefinitions for the test API server (apiserver.py).

A stored apiextensions.k8s.io/v1 CustomResourceDefinition registers its
resource as the real server does: the group, every served version, the names
(plural, singular, kind, listKind, shortNames, categories), the scope, the
status subresource and the additionalPrinterColumns that Table output (kubectl
get) evaluates.  Deleting the CRD unregisters the resource and deletes its
objects.  Each served version is a store of its own (no conversion): the
project's CRDs serve one version.

Also here: the simple JSONPath of printer columns (.a.b, [N], [*], ['k']) and
the Table columns and cells of a resource.
"""

import calendar
import json
import re
import time

GROUP = "apiextensions.k8s.io"
VERSION = "v1"
PLURAL = "customresourcedefinitions"

NAME_COL = {"name": "Name", "type": "string", "format": "name",
            "description": "Name must be unique within a namespace.", "priority": 0}
AGE_COL = {"name": "Age", "type": "date", "format": "", "priority": 0,
           "description": "CreationTimestamp is a timestamp representing the server time "
           "when this object was created.", "jsonPath": ".metadata.creationTimestamp"}

_TOKEN = re.compile(r"\.([A-Za-z0-9_$-]+)|\[(\*|-?\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")


class Invalid(Exception):
    """The CRD is not valid: 422 with this message."""


def jsonpath_parse(path):
    """The steps of a simple JSONPath (".spec.mode", ".a[0].b", ".a[*]",
    "{.a.b}"): a list of str (a field) and int or "*" (list items)."""
    p = path.strip()
    if p.startswith("{") and p.endswith("}"):
        p = p[1:-1]
    if not p.startswith(".") and not p.startswith("["):
        p = "." + p
    steps, pos = [], 0
    while pos < len(p):
        m = _TOKEN.match(p, pos)
        if not m:
            raise Invalid("jsonPath %r: unsupported at %r" % (path, p[pos:]))
        field, idx, q1, q2 = m.groups()
        if field is not None:
            steps.append(field)
        elif idx is not None:
            steps.append("*" if idx == "*" else int(idx))
        else:
            steps.append(q1 if q1 is not None else q2)
        pos = m.end()
    return steps


def jsonpath_eval(obj, steps):
    """Every value @steps reach in @obj, in order (empty when none)."""
    cur = [obj]
    for s in steps:
        nxt = []
        for v in cur:
            if isinstance(s, str) and isinstance(v, dict) and s in v:
                nxt.append(v[s])
            elif s == "*" and isinstance(v, list):
                nxt.extend(v)
            elif s == "*" and isinstance(v, dict):
                nxt.extend(v[k] for k in sorted(v))
            elif isinstance(s, int) and isinstance(v, list) and -len(v) <= s < len(v):
                nxt.append(v[s])
        cur = nxt
    return cur


def cell(col, obj):
    """One Table cell of @obj as the real server's CRD table convertor makes
    it: the first value the column's jsonPath finds, None (kubectl prints
    <none>) when there is none or its type does not match."""
    vals = jsonpath_eval(obj, col["_steps"])
    if not vals or vals[0] is None:
        return None
    v, t = vals[0], col.get("type", "string")
    if t == "string":
        if isinstance(v, str):
            return v
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return str(v)
        return json.dumps(v, separators=(",", ":"))
    if t == "integer":
        return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
    if t == "number":
        return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None
    if t == "boolean":
        return v if isinstance(v, bool) else None
    if t == "date":
        return human_age(v) if isinstance(v, str) else None
    return None


def human_age(stamp, now=None):
    """An RFC 3339 time as the age the real server's table convertor
    prints (apimachinery's duration.HumanDuration): "42s", "3m5s", "2d4h"."""
    try:
        t = calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return "<invalid>"
    s = int((time.time() if now is None else now) - t)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return "%ds" % s
    m, h = s // 60, s // 3600
    if m < 10:
        return "%dm%ds" % (m, s % 60) if s % 60 else "%dm" % m
    if m < 180:
        return "%dm" % m
    if h < 8:
        return "%dh%dm" % (h, m % 60) if m % 60 else "%dh" % h
    if h < 48:
        return "%dh" % h
    d = h // 24
    if h < 24 * 8:
        return "%dd%dh" % (d, h % 24) if h % 24 else "%dd" % d
    if h < 24 * 365 * 2:
        return "%dd" % d
    if h < 24 * 365 * 8:
        return "%dy%dd" % (d // 365, d % 365) if d % 365 else "%dy" % (d // 365)
    return "%dy" % (d // 365)


def column_defs(r):
    """The Table's columnDefinitions of resource @r (without jsonPath)."""
    out = [NAME_COL]
    for c in r.columns:
        out.append({k: c.get(k, "" if k != "priority" else 0)
                    for k in ("name", "type", "format", "description", "priority")})
    return out


def row_cells(r, obj):
    """The cells of @obj for the columns of @r (after the name)."""
    return [cell(c, obj) for c in r.columns]


def printer_columns(cols):
    """additionalPrinterColumns of a CRD version, checked and compiled."""
    out = []
    for c in cols or [{k: v for k, v in AGE_COL.items()}]:
        if not c.get("name") or not c.get("jsonPath"):
            raise Invalid("additionalPrinterColumns: name and jsonPath are required")
        if c.get("type") not in ("string", "integer", "number", "boolean", "date"):
            raise Invalid("additionalPrinterColumns[%s].type: Unsupported value: %r"
                          % (c.get("name"), c.get("type")))
        c = dict(c)
        c["_steps"] = jsonpath_parse(c["jsonPath"])
        c.setdefault("priority", 0)
        out.append(c)
    return out


def version_key(v):
    """Kubernetes version priority: GA > beta > alpha, higher numbers first,
    then other strings by name (sorting by this key puts the preferred first)."""
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", v)
    if not m:
        return (3, 0, 0, v)
    major, kind, minor = int(m.group(1)), m.group(2), int(m.group(3) or 0)
    return ({None: 0, "beta": 1, "alpha": 2}[kind], -major, -minor, v)


def spec_resources(crd):
    """The resources a CRD object defines: a list of dicts with group,
    version, plural, kind, namespaced, short, singular, list_kind,
    categories, status_sub and columns; raises Invalid."""
    md = crd.get("metadata", {})
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group, plural, kind = spec.get("group", ""), names.get("plural", ""), names.get("kind", "")
    if not group or "." not in group:
        raise Invalid("spec.group: Invalid value: %r: should be a domain with at least one dot" % group)
    if not plural or not kind:
        raise Invalid("spec.names.plural, spec.names.kind: Required value")
    if plural != plural.lower():
        raise Invalid("spec.names.plural: Invalid value: %r: a lowercase RFC 1123 label" % plural)
    if md.get("name") != "%s.%s" % (plural, group):
        raise Invalid('metadata.name: Invalid value: "%s": must be spec.names.plural+"."+spec.group'
                      % md.get("name"))
    scope = spec.get("scope", "")
    if scope not in ("Namespaced", "Cluster"):
        raise Invalid("spec.scope: Unsupported value: %r: supported values: \"Cluster\", "
                      "\"Namespaced\"" % scope)
    versions = spec.get("versions") or []
    if not versions or sum(1 for v in versions if v.get("storage")) != 1:
        raise Invalid("spec.versions: Invalid value: must have exactly one version marked as storage")
    out = []
    for v in versions:
        if not v.get("served", False):
            continue
        out.append({
            "group": group, "version": v["name"], "plural": plural, "kind": kind,
            "namespaced": scope == "Namespaced", "short": list(names.get("shortNames") or []),
            "singular": names.get("singular") or kind.lower(),
            "list_kind": names.get("listKind") or kind + "List",
            "categories": list(names.get("categories") or []),
            "status_sub": "status" in ((v.get("subresources") or {})),
            "columns": printer_columns(v.get("additionalPrinterColumns")),
        })
    return out


def crd_status(crd, now):
    """The status the real server gives an accepted CRD (Established)."""
    spec = crd.get("spec") or {}
    conds = [{"type": t, "status": "True", "lastTransitionTime": now, "reason": r, "message": m}
             for t, r, m in (("NamesAccepted", "NoConflicts", "no conflicts found"),
                             ("Established", "InitialNamesAccepted",
                              "the initial names have been accepted"))]
    names = dict(spec.get("names") or {})
    names.setdefault("singular", names.get("kind", "").lower())
    names.setdefault("listKind", names.get("kind", "") + "List")
    stored = [v["name"] for v in spec.get("versions") or [] if v.get("storage")]
    return {"conditions": conds, "acceptedNames": names, "storedVersions": stored}


def load_docs(path):
    """The objects in file @path: JSON (one or several documents) or YAML
    (several documents); a List gives its items."""
    with open(path) as f:
        text = f.read()
    docs = []
    try:
        dec, pos = json.JSONDecoder(), 0
        while True:
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos >= len(text):
                break
            doc, pos = dec.raw_decode(text, pos)
            docs.append(doc)
    except ValueError:
        import yaml

        class Loader(yaml.SafeLoader):
            """YAML without implicit timestamps: they stay strings, as in JSON."""

        Loader.yaml_implicit_resolvers = {
            k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
            for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
        docs = list(yaml.load_all(text, Loader=Loader))
    out = []
    for d in docs:
        if not isinstance(d, dict):
            continue
        if d.get("kind", "").endswith("List") and isinstance(d.get("items"), list):
            out.extend(d["items"])
        else:
            out.append(d)
    return out


def is_crd(obj):
    return obj.get("kind") == "CustomResourceDefinition" and \
        obj.get("apiVersion") == GROUP + "/" + VERSION
