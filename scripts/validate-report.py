#!/usr/bin/env python3
"""Validates Bulkhead reports against docs/report.schema.json.

    scripts/validate-report.py [--schema FILE] REPORT.json...

Python standard library only.  It implements the part of JSON Schema
(draft 2020-12) that the report's schema uses, and refuses a schema that
uses any other keyword, so the subset cannot silently grow:
  $ref (to "#/$defs/NAME"), type (a name or a list), const, enum,
  properties, required, additionalProperties (false or a schema), items,
  oneOf, pattern, minLength, maxLength, minimum, maximum.
Then it checks the rules docs/report.md states that a schema cannot:
unique ids, alert and flow ids derived from their keys, references between
sections (workloads, policies, flows), firstSeen <= lastSeen, and each
namespace's counts against the arrays.

Prints one line per error (FILE: JSON-POINTER: what is wrong), at most 20
a file; exit 0 when every report is valid, 1 when one is not, 2 on bad
usage or an unreadable file or schema.
"""
import hashlib
import json
import os
import re
import sys

ANNOTATIONS = {"$schema", "$id", "title", "description", "$defs"}
KEYWORDS = {"$ref", "type", "const", "enum", "properties", "required",
            "additionalProperties", "items", "oneOf", "pattern", "minLength",
            "maxLength", "minimum", "maximum"}


class SchemaError(Exception):
    pass


def check_schema(s, where="#"):
    if isinstance(s, bool):
        return
    if not isinstance(s, dict):
        raise SchemaError("%s: a schema must be an object or a boolean" % where)
    for k, v in s.items():
        if k not in KEYWORDS and k not in ANNOTATIONS:
            raise SchemaError("%s: keyword %r is outside the subset this validator implements" % (where, k))
        if k == "$defs" or k == "properties":
            for n, sub in v.items():
                check_schema(sub, "%s/%s/%s" % (where, k, n))
        elif k in ("items", "additionalProperties"):
            check_schema(v, "%s/%s" % (where, k))
        elif k == "oneOf":
            for i, sub in enumerate(v):
                check_schema(sub, "%s/oneOf/%d" % (where, i))
        elif k == "$ref" and not re.fullmatch(r"#/\$defs/[A-Za-z0-9_]+", v):
            raise SchemaError("%s: $ref %r: only #/$defs/NAME is supported" % (where, v))
        elif k == "pattern":
            re.compile(v)


def json_type(x):
    if x is None:
        return "null"
    if isinstance(x, bool):
        return "boolean"
    if isinstance(x, int):
        return "integer"
    if isinstance(x, float):
        return "number"
    if isinstance(x, str):
        return "string"
    if isinstance(x, list):
        return "array"
    return "object"


def type_ok(x, t):
    jt = json_type(x)
    if t == "number":
        return jt in ("integer", "number")
    if t == "integer" and jt == "number":
        return x.is_integer()
    return jt == t


def same(a, b):
    """JSON equality: 1 == 1.0, but true != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


class Validator:
    def __init__(self, schema):
        check_schema(schema)
        self.root = schema
        self.res = {}

    def regex(self, p):
        r = self.res.get(p)
        if r is None:
            # ECMA-262 "$" matches only at the end; Python's also before a
            # final newline: make it strict.
            r = self.res[p] = re.compile(re.sub(r"(?<!\\)\$$", r"\\Z", p))
        return r

    def errors(self, x, s, path, out):
        if s is True:
            return
        if s is False:
            out.append((path, "not allowed here"))
            return
        if "$ref" in s:
            self.errors(x, self.root["$defs"][s["$ref"].split("/")[-1]], path, out)
        if "type" in s:
            ts = s["type"] if isinstance(s["type"], list) else [s["type"]]
            if not any(type_ok(x, t) for t in ts):
                out.append((path, "expected %s, found %s" % (" or ".join(ts), json_type(x))))
                return
        if "const" in s and not same(x, s["const"]):
            out.append((path, "expected %s" % json.dumps(s["const"])))
        if "enum" in s and not any(same(x, e) for e in s["enum"]):
            out.append((path, "%s is not one of %s" % (json.dumps(x)[:80], ", ".join(map(json.dumps, s["enum"])))))
        if isinstance(x, str):
            if "pattern" in s and not self.regex(s["pattern"]).search(x):
                out.append((path, "%s does not match %s" % (json.dumps(x)[:80], s["pattern"])))
            if "minLength" in s and len(x) < s["minLength"]:
                out.append((path, "shorter than %d characters" % s["minLength"]))
            if "maxLength" in s and len(x) > s["maxLength"]:
                out.append((path, "longer than %d characters" % s["maxLength"]))
        if json_type(x) in ("integer", "number"):
            if "minimum" in s and x < s["minimum"]:
                out.append((path, "%s is below %s" % (x, s["minimum"])))
            if "maximum" in s and x > s["maximum"]:
                out.append((path, "%s is above %s" % (x, s["maximum"])))
        if isinstance(x, dict):
            props = s.get("properties", {})
            for k in s.get("required", []):
                if k not in x:
                    out.append((path, "missing required member %r" % k))
            for k, v in x.items():
                sub = ptr(path, k)
                if k in props:
                    self.errors(v, props[k], sub, out)
                elif "additionalProperties" in s:
                    if s["additionalProperties"] is False:
                        out.append((sub, "unknown member"))
                    else:
                        self.errors(v, s["additionalProperties"], sub, out)
        if isinstance(x, list) and "items" in s:
            for i, v in enumerate(x):
                self.errors(v, s["items"], ptr(path, i), out)
        if "oneOf" in s:
            n = 0
            for sub in s["oneOf"]:
                e = []
                self.errors(x, sub, path, e)
                n += not e
            if n != 1:
                out.append((path, "matches %d of the %d alternatives of oneOf (exactly one expected)" % (n, len(s["oneOf"]))))


def ptr(path, k):
    return "%s/%s" % (path, str(k).replace("~", "~0").replace("/", "~1"))


def peer_key(p):
    return p.get("workload") or p.get("cidr")


def derived_id(x, salt=0):
    parts = [peer_key(x["src"]), peer_key(x["dst"]), str(x["port"]), x["protocol"]]
    if salt:
        parts.append(str(salt))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def id_ok(x):
    """The id of the key, or (after a collision of the first 16 digits in
    the array) one of the first ids of its salted sequence."""
    return any(x["id"] == derived_id(x, s) for s in range(17))


def semantic(r, out):
    """The rules of docs/report.md that the schema cannot express; r is
    schema-valid."""
    nss = {}
    for i, ns in enumerate(r["namespaces"]):
        if ns["name"] in nss:
            out.append(("/namespaces/%d/name" % i, "namespace %r listed twice" % ns["name"]))
        nss[ns["name"]] = ns
        cmd = "bulkhead enforce --namespace " + ns["name"]
        if ns["enforceCommand"] != cmd:
            out.append(("/namespaces/%d/enforceCommand" % i, "does not name namespace %r" % ns["name"]))
        for w in ("learning", "preview"):
            win = ns[w]
            if win and win["start"] > win["end"]:
                out.append(("/namespaces/%d/%s" % (i, w), "start after end"))
    wls = {}
    for i, w in enumerate(r["workloads"]):
        if w["id"] != "%s/%s/%s" % (w["namespace"], w["kind"], w["name"]):
            out.append(("/workloads/%d/id" % i, "is not NAMESPACE/KIND/NAME"))
        if w["id"] in wls:
            out.append(("/workloads/%d/id" % i, "workload %r listed twice" % w["id"]))
        if w["namespace"] not in nss:
            out.append(("/workloads/%d/namespace" % i, "namespace %r is not in namespaces" % w["namespace"]))
        wls[w["id"]] = w
    pols = {("proposal", "%s/%s" % (p["namespace"], p["name"])) for p in r["proposals"]}
    pols |= {("existing", "%s/%s" % (p["namespace"], p["name"])) for p in r["existingPolicies"]}
    names = {n for _, n in pols}
    for sec in ("proposals", "existingPolicies"):
        for i, p in enumerate(r[sec]):
            for j, s in enumerate(p["selects"]):
                if s not in wls:
                    out.append(("/%s/%d/selects/%d" % (sec, i, j), "unknown workload %r" % s))
    counts = {n: {"workloads": 0, "flows": 0, "uncoveredFlows": 0, "alerts": 0, "openAlerts": 0} for n in nss}
    for w in r["workloads"]:
        if w["namespace"] in counts:
            counts[w["namespace"]]["workloads"] += 1

    def home(x):
        p = x["dst"] if "workload" in x["dst"] else x["src"]
        return p["workload"].split("/")[0] if "workload" in p else None
    fids = set()
    for sec in ("flows", "alerts"):
        seen = set()
        for i, x in enumerate(r[sec]):
            at = "/%s/%d" % (sec, i)
            for end in ("src", "dst"):
                if "workload" in x[end] and x[end]["workload"] not in wls:
                    out.append((at + "/" + end, "unknown workload %r" % x[end]["workload"]))
            if not id_ok(x):
                out.append((at + "/id", "is not derived from the key (expected %s)" % derived_id(x)))
            if x["id"] in seen:
                out.append((at + "/id", "id %s listed twice" % x["id"]))
            seen.add(x["id"])
            if x["firstSeen"] > x["lastSeen"]:
                out.append((at, "firstSeen after lastSeen"))
            h = home(x)
            if h in counts:
                c = counts[h]
                if sec == "flows":
                    c["flows"] += 1
                    c["uncoveredFlows"] += x["state"] == "uncovered"
                else:
                    c["alerts"] += 1
                    c["openAlerts"] += x["state"] == "open"
            if sec == "alerts" and x["policy"] is not None and x["policy"] not in names:
                out.append((at + "/policy", "unknown policy %r" % x["policy"]))
            if sec == "flows":
                a = x["allowedBy"]
                allowed = x["state"] in ("allowed-by-proposal", "allowed-by-existing-policy", "enforced")
                if allowed != (a is not None):
                    out.append((at + "/allowedBy", "must be %s when the state is %s" %
                                ("an object" if allowed else "null", x["state"])))
                if a and (a["origin"], a["policy"]) not in pols:
                    out.append((at + "/allowedBy/policy", "unknown %s policy %r" % (a["origin"], a["policy"])))
        if sec == "flows":
            fids = seen
    for i, p in enumerate(r["proposals"]):
        for j, rule in enumerate(p["rules"]):
            for k, f in enumerate(rule["flows"]):
                if f not in fids:
                    out.append(("/proposals/%d/rules/%d/flows/%d" % (i, j, k), "unknown flow %s" % f))
    for i, ns in enumerate(r["namespaces"]):
        for k, v in counts[ns["name"]].items():
            if ns["counts"][k] != v:
                out.append(("/namespaces/%d/counts/%s" % (i, k), "says %d, the arrays hold %d" % (ns["counts"][k], v)))


def validate(v, path):
    try:
        with open(path, encoding="utf-8") as f:
            r = json.load(f)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        return [("", "cannot read JSON: %s" % e)]
    out = []
    v.errors(r, v.root, "", out)
    if not out:
        semantic(r, out)
    return out


def main(argv):
    schema = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "report.schema.json")
    args = argv[1:]
    if len(args) >= 2 and args[0] == "--schema":
        schema, args = args[1], args[2:]
    if not args or args[0].startswith("-"):
        print(__doc__.split("\n\n")[1].strip(), file=sys.stderr)
        return 2
    try:
        with open(schema, encoding="utf-8") as f:
            v = Validator(json.load(f))
    except (OSError, ValueError, SchemaError) as e:
        print("%s: bad schema: %s" % (schema, e), file=sys.stderr)
        return 2
    bad = 0
    for path in args:
        errs = validate(v, path)
        for p, msg in errs[:20]:
            print("%s: %s: %s" % (path, p or "/", msg))
        if len(errs) > 20:
            print("%s: ... and %d more errors" % (path, len(errs) - 20))
        if errs:
            bad = 1
        else:
            print("%s: valid" % path)
    return bad


if __name__ == "__main__":
    sys.exit(main(sys.argv))
